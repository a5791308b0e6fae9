package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.config.RunConfig;
import org.junit.jupiter.api.Test;

/** Early stopping on its own: improvement by more than min-delta, patience, resume, no-val. */
class EarlyStopTest {
  static EarlyStop stop(RunConfig.StopMetric metric, int patience, double minDelta) {
    return new EarlyStop(new RunConfig.EarlyStopping(metric, patience, minDelta));
  }

  @Test
  void lossMustFallByMoreThanMinDeltaAndPatienceCountsTheEpochsSince() {
    EarlyStop s = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0.1);
    assertTrue(s.observe(1, 1.0, 0.5));
    assertFalse(s.observe(2, 0.95, 0.6)); // better, but by less than 0.1
    assertFalse(s.shouldStop());
    assertTrue(s.observe(3, 0.85, 0.7)); // 0.15 below the best: resets the count
    assertFalse(s.observe(4, 0.9, 0.7));
    assertFalse(s.shouldStop());
    assertFalse(s.observe(5, 0.8, 0.7));
    assertTrue(s.shouldStop());
    assertEquals(3, s.bestEpoch());
    assertEquals(0.85, s.best());
    assertEquals(0.85, s.bestLoss());
    assertEquals(0.7, s.bestAccuracy());
  }

  @Test
  void accuracyMustRise() {
    EarlyStop s = stop(RunConfig.StopMetric.VAL_ACCURACY, 1, 0);
    assertTrue(s.observe(1, 1.0, 0.5));
    assertTrue(s.observe(2, 2.0, 0.6)); // loss worse, accuracy better: improved
    assertFalse(s.observe(3, 0.1, 0.6)); // equal accuracy is no improvement
    assertTrue(s.shouldStop());
    assertEquals(2, s.bestEpoch());
  }

  @Test
  void patienceZeroNeverStopsAndNoValidationMakesEveryEpochTheBest() {
    EarlyStop never = stop(RunConfig.StopMetric.VAL_LOSS, 0, 0);
    never.observe(1, 1.0, 0.5);
    for (int e = 2; e < 10; e++) {
      assertFalse(never.observe(e, 2.0, 0.1));
    }
    assertFalse(never.shouldStop());
    EarlyStop noVal = stop(RunConfig.StopMetric.VAL_LOSS, 1, 0);
    assertTrue(noVal.observeWithoutValidation(1));
    assertTrue(noVal.observeWithoutValidation(2));
    assertFalse(noVal.shouldStop());
    assertEquals(2, noVal.bestEpoch());
    assertNull(noVal.bestLoss());
  }

  @Test
  void aValidationMetricThatIsNotANumberIsNoImprovement() {
    // a validation pass that overflowed: its weights must not become the best ones
    EarlyStop first = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    assertFalse(first.observe(1, Double.NaN, 0.1));
    assertEquals(0, first.bestEpoch());
    assertTrue(first.observe(2, 1.0, 0.5)); // the first number is the first best
    assertEquals(2, first.bestEpoch());
    EarlyStop later = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    assertTrue(later.observe(1, 1.0, 0.5));
    assertFalse(later.observe(2, Double.NaN, 0.1));
    assertFalse(later.observe(3, Double.NaN, 0.1));
    assertTrue(later.shouldStop(), "epochs without a number count against the patience");
    assertEquals(1, later.bestEpoch());
    assertEquals(1.0, later.best());
    EarlyStop acc = stop(RunConfig.StopMetric.VAL_ACCURACY, 1, 0);
    assertTrue(acc.observe(1, 1.0, 0.5));
    assertFalse(acc.observe(2, 0.5, Double.NaN));
    assertEquals(1, acc.bestEpoch());
  }

  @Test
  void aRestoredRecordContinuesTheCount() {
    EarlyStop s = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    s.observe(1, 1.0, 0.5);
    s.observe(2, 1.5, 0.4);
    EarlyStop resumed = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    resumed.restore(s.toMeta());
    assertFalse(resumed.shouldStop());
    assertFalse(resumed.observe(3, 1.2, 0.45));
    assertTrue(resumed.shouldStop());
    assertEquals(1, resumed.bestEpoch());
  }

  /**
   * A resume that changes train.early-stopping.metric (warned as a changed setting) compares the
   * new epochs with the best epoch's value of the new metric, not with the old metric's value: a
   * validation loss of 1.5 kept as the best "accuracy" no accuracy could beat, and the run
   * stopped after patience epochs with the old weights.
   */
  @Test
  void aRestoredRecordUnderAnotherMetricComparesThatMetricsValues() {
    EarlyStop s = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    s.observe(1, 1.5, 0.6);
    EarlyStop byAccuracy = stop(RunConfig.StopMetric.VAL_ACCURACY, 2, 0);
    byAccuracy.restore(s.toMeta());
    assertEquals(0.6, byAccuracy.best());
    assertTrue(byAccuracy.observe(2, 1.6, 0.7), "accuracy 0.7 beats the best epoch's 0.6");
    assertEquals(2, byAccuracy.bestEpoch());
    assertFalse(byAccuracy.shouldStop());
    // and back: the best epoch's loss (1.6), not its accuracy (0.7), is the one to beat
    EarlyStop byLoss = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    byLoss.restore(byAccuracy.toMeta());
    assertEquals(1.6, byLoss.best());
    assertTrue(byLoss.observe(3, 1.2, 0.7), "loss 1.2 is below the best epoch's 1.6");
    // a record of a run without validation holds no best value under either metric
    EarlyStop none = stop(RunConfig.StopMetric.VAL_LOSS, 2, 0);
    none.observeWithoutValidation(1);
    byAccuracy = stop(RunConfig.StopMetric.VAL_ACCURACY, 2, 0);
    byAccuracy.restore(none.toMeta());
    assertTrue(Double.isNaN(byAccuracy.best()));
  }
}
