package convspark.driver.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ScorerTest {
  @Test
  void aForwardPassTakesThePowerOfTwoAtOrAboveThePendingRowsAtMostTheBatch() {
    assertEquals(1, Scorer.passRows(1, 1_000_000));
    assertEquals(4, Scorer.passRows(3, 1_000_000));
    assertEquals(4, Scorer.passRows(4, 1_000_000));
    assertEquals(8, Scorer.passRows(5, 1_000_000));
    assertEquals(1 << 20, Scorer.passRows(1_000_000, 1 << 20));
    // the tail of a partition scored in batches of 455: at most the batch
    assertEquals(455, Scorer.passRows(300, 455));
    assertEquals(455, Scorer.passRows(455, 455));
    assertEquals(1, Scorer.passRows(1, 1));
  }
}
