package convspark.driver.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
  private static EpochMetrics epoch(double valLoss, double valAccuracy) {
    return new EpochMetrics(3, 30, 0.5, 0.8, valLoss, valAccuracy, 0.1, 1000, 2, 1.5, 0, 0.1,
        0, 1.9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  }

  @Test
  void aMetricsLineWithoutValidationHoldsNullsAndReadsBackAsNaN() throws Exception {
    String line = Json.write(epoch(Double.NaN, Double.NaN));
    assertTrue(line.contains("\"valLoss\":null,\"valAccuracy\":null"), line);
    assertFalse(line.contains("NaN"), line);
    EpochMetrics back = Json.MAPPER.readValue(line, EpochMetrics.class);
    assertTrue(Double.isNaN(back.valLoss()));
    assertTrue(Double.isNaN(back.valAccuracy()));
    assertEquals(0.5, back.trainLoss());
    assertEquals(epoch(0.25, 0.75), Json.MAPPER.readValue(Json.write(epoch(0.25, 0.75)),
        EpochMetrics.class));
  }

  @Test
  void linesOfEarlierVersionsWithTheStringNaNStillRead() throws Exception {
    String old = Json.write(epoch(0.25, 0.75)).replace("\"valLoss\":0.25", "\"valLoss\":\"NaN\"");
    assertTrue(old.contains("\"NaN\""), old);
    assertTrue(Double.isNaN(Json.MAPPER.readValue(old, EpochMetrics.class).valLoss()));
  }

  @Test
  void nonFiniteBoxedNumbersAreNullToo() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("loss", Double.POSITIVE_INFINITY);
    m.put("accuracy", 0.5);
    assertEquals("{\"loss\":null,\"accuracy\":0.5}", Json.write(m));
  }
}
