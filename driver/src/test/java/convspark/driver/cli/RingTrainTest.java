package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.io.Checkpoint;
import convspark.driver.CliRunner;
import convspark.driver.TestData;
import convspark.driver.metrics.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convspark train} with {@code train.engine = ring} in local[2], end to end: it trains the
 * generated data to the accuracy the driver engine reaches, writes the ring's metrics, names the
 * engine in summary.json, and two runs with the same seed end with the same weights.
 */
class RingTrainTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data() throws Exception {
    Path[] train = TestData.writeIdx(dir, "train", 1600, 1);
    Path[] test = TestData.writeIdx(dir, "test", 400, 2);
    config = dir.resolve("test.conf");
    Files.writeString(config, TestData.config(train[0], train[1], test[0], test[1]));
  }

  static CliRunner.Run train(Path out) {
    return CliRunner.run("train", "--config", config.toString(), "--out", out.toString(),
        "--set", "train.engine=ring", "--set", "train.epochs=3");
  }

  @Test
  void trainsWithTheRingEngineAndRepeatsBitForBit() throws Exception {
    Path a = dir.resolve("ring-a");
    CliRunner.Run r = train(a);
    assertEquals(0, r.code(), r.err());
    JsonNode s = Json.MAPPER.readTree(a.resolve("summary.json").toFile());
    assertEquals("ring", s.get("engine").asText());
    assertTrue(s.get("test").get("accuracy").asDouble() >= 0.9, s.toString());
    assertEquals(3, s.get("epochs_run").asInt());
    List<String> lines = Files.readAllLines(a.resolve("metrics.jsonl"));
    assertEquals(3, lines.size());
    for (String line : lines) {
      JsonNode m = Json.MAPPER.readTree(line);
      assertTrue(m.get("allreduceBytes").asLong() > 0, line);
      assertTrue(m.get("allreduceSeconds").asDouble() > 0, line);
      assertTrue(m.get("computeSeconds").asDouble() > 0, line);
    }
    Path b = dir.resolve("ring-b");
    CliRunner.Run r2 = train(b);
    assertEquals(0, r2.code(), r2.err());
    Checkpoint ca = read(a.resolve("checkpoints/final.bin"));
    Checkpoint cb = read(b.resolve("checkpoints/final.bin"));
    assertArrayEquals(ca.params(), cb.params(), 0f, "same seed, same P: same bits");
    assertArrayEquals(ca.state(), cb.state(), 0f);
  }

  private static Checkpoint read(Path p) throws Exception {
    return Checkpoint.fromBytes(Files.readAllBytes(p), p.toString());
  }
}
