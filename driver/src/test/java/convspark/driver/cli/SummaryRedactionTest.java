package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.driver.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * summary.json echoes the run's config; credentials given to Spark or to the DataFrame reader
 * through it (spark.conf, data.dataframe.options) were written there in the clear, readable by
 * whoever reads the run's outputs. They are redacted as Spark redacts them.
 */
class SummaryRedactionTest {
  @TempDir Path dir;

  @Test
  void credentialsInTheConfigAreNotWrittenToSummaryJson() throws Exception {
    Path conf = TestData.writeConfig(dir, "test.conf", 400, 100);
    Path out = dir.resolve("run");
    CliTrainTest.Run r = CliTrainTest.train(conf, out, "--set", "train.epochs=1",
        "--set", "spark.conf.\"spark.hadoop.fs.s3a.secret.key\"=hunter2-s3",
        "--set", "spark.conf.\"spark.hadoop.fs.s3a.access.key\"=AKIAEXAMPLE",
        "--set", "spark.conf.\"spark.ui.enabled\"=false",
        // unquoted, HOCON nests them: an object whose own key says nothing
        "--set", "spark.conf.spark.hadoop.fs.s3a.session.token=nested-token");
    // (DataFrame reader options of a run in this format are refused: RunSummaryTest redacts them)
    assertEquals(0, r.code(), r.out() + r.err());
    String text = Files.readString(out.resolve("summary.json"));
    for (String secret : new String[] {"hunter2-s3", "AKIAEXAMPLE", "nested-token"}) {
      assertFalse(text.contains(secret), secret + " in summary.json");
    }
    JsonNode c = CliTrainTest.summary(out).get("config");
    assertEquals("*********(redacted)",
        c.get("spark").get("conf").get("spark.hadoop.fs.s3a.secret.key").asText());
    assertEquals("false", c.get("spark").get("conf").get("spark.ui.enabled").asText());
    assertEquals(1, c.get("train").get("epochs").asInt());
  }
}
