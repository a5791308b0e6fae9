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
