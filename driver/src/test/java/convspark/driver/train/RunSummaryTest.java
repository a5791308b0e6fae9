package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.metrics.Json;

import org.junit.jupiter.api.Test;

/** summary.json's checkpoint_dir names the directory without a URI's credentials. */
class RunSummaryTest {
  @Test
  void theCheckpointDirectoryLosesItsUserInfo() {
    assertEquals("s3a://bucket/runs/ck",
        RunSummary.withoutUserInfo("s3a://AKIAEXAMPLE:secret%2Fkey@bucket/runs/ck"));
    assertEquals("hdfs://nn:8020/runs/ck",
        RunSummary.withoutUserInfo("hdfs://user@nn:8020/runs/ck"));
    assertEquals("file:/tmp/ck", RunSummary.withoutUserInfo("file:/tmp/ck"));
    assertEquals("k8s://https://api.example:6443", RunSummary.masterWithoutUserInfo(
        "k8s://https://admin:s3cret@api.example:6443"));
    assertEquals("spark://h1:7077,h2:7077", RunSummary.masterWithoutUserInfo(
        "spark://h1:7077,h2:7077"));
    assertEquals("local[2]", RunSummary.masterWithoutUserInfo("local[2]"));
    assertEquals("/tmp/ck", RunSummary.withoutUserInfo("/tmp/ck"));
  }

  @Test
  void dataFrameReaderPasswordsAreRedactedFlatOrNested() throws Exception {
    String text = RunSummary.redacted(Json.MAPPER.readTree("{\"data\": {\"dataframe\": "
        + "{\"options\": {\"password\": \"hunter2-jdbc\", \"url\": \"jdbc:x\", \"jdbc\": "
        + "{\"password\": {\"value\": \"nested-jdbc\"}}}}}}")).toString();
    assertFalse(text.contains("hunter2-jdbc") || text.contains("nested-jdbc"), text);
    assertTrue(text.contains("jdbc:x"), text);
  }
}
