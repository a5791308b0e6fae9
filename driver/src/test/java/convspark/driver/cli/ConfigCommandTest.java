package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import convspark.driver.CliRunner;
import convspark.driver.TestData;
import convspark.driver.config.Settings;
import convspark.driver.metrics.Json;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code convspark config}: the effective config, and the defaults file for jar users. */
class ConfigCommandTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "ok.conf", 24, 12);
  }

  /**
   * What it prints is the config train would run with (HOCON reads the JSON back to the same
   * values), with a credential redacted as in summary.json.
   */
  @Test
  void printsTheConfigTrainWouldRunWithAndRedactsCredentials() throws Exception {
    CliRunner.Run r = CliRunner.run("config", "--config", config.toString(), "--set",
        "train.epochs=3", "--set", "spark.conf.\"spark.hadoop.fs.s3a.secret.key\"=hunter2");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("hunter2"), r.out());
    JsonNode json = Json.MAPPER.readTree(r.out());
    assertEquals(3, json.path("train").path("epochs").asInt(), r.out());
    assertTrue(json.path("spark").path("conf").path("spark.hadoop.fs.s3a.secret.key").asText()
        .contains("redacted"), r.out());
    Config printed = ConfigFactory.parseString(r.out());
    Config used = Settings.load(config.toString(), List.of("train.epochs=3"));
    assertEquals(used.getConfig("train").root().unwrapped(),
        printed.getConfig("train").root().unwrapped());
    assertEquals(used.getConfig("model").root().unwrapped(),
        printed.getConfig("model").root().unwrapped());
    assertEquals(used.getConfig("data").root().unwrapped(),
        printed.getConfig("data").root().unwrapped());
  }

  /**
   * A config without a model (evaluate and predict take their checkpoint's) is printed, with a
   * warning that its values were not checked; so is no config at all: the defaults.
   */
  @Test
  void aConfigWithoutAModelIsPrintedWithAWarning() throws Exception {
    CliRunner.Run r = CliRunner.run("config", "--set", "train.epochs=4");
    assertEquals(0, r.code(), r.err());
    assertEquals(4, Json.MAPPER.readTree(r.out()).path("train").path("epochs").asInt());
    assertTrue(r.err().contains("convspark: WARNING: the config has no model: printed with its "
        + "keys checked, not its values"), r.err());
    r = CliRunner.run("config", "--set", "train.epoch=4");
    assertEquals(2, r.code(), r.err());
  }

  /** --defaults prints the shipped defaults file, comments and all; alone. */
  @Test
  void defaultsPrintsTheShippedFile() {
    CliRunner.Run r = CliRunner.run("config", "--defaults");
    assertEquals(0, r.code(), r.err());
    assertEquals(Settings.defaultsText(), r.out());
    assertTrue(r.out().contains("# "), "comments kept");
    assertEquals(Settings.defaults().root().unwrapped(),
        ConfigFactory.parseString(r.out()).root().unwrapped());
    r = CliRunner.run("config", "--defaults", "--set", "train.epochs=1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().strip().startsWith("convspark: error: --defaults with --config or --set"),
        r.err());
  }

  /** A bad config is refused as train refuses it, and an unknown key points at --defaults. */
  @Test
  void aBadConfigIsRefusedAsTrainRefusesIt() {
    CliRunner.Run r = CliRunner.run("config", "--config", config.toString(), "--set",
        "train.epoch=3");
    assertEquals(2, r.code(), r.err());
    assertEquals("convspark: error: --set: unknown config key 'train.epoch' (did you mean "
        + "'train.epochs'?); `convspark config --defaults` prints every known key, its default "
        + "and meaning (the jar's convspark-defaults.conf)", r.err().strip());
    assertEquals("", r.out());
    r = CliRunner.run("config", "--config", config.toString(), "--set", "train.epochs=-1");
    assertEquals(2, r.code(), r.err());
    assertEquals("convspark: error: config key train.epochs: expected a positive integer, found "
        + "-1", r.err().strip());
  }
}
