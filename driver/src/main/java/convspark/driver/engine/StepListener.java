package convspark.driver.engine;

/** Told by an engine how a round is going, for progress lines. */
public interface StepListener {
  /** Does nothing. */
  StepListener NONE = (round, stepsDone, lossSum, count, correct, lr) -> {};

  /**
   * After {@code stepsDone} steps of {@code round}: the round's summed loss, sample count and
   * correct predictions so far, and the last step's learning rate.
   */
  void afterStep(Round round, int stepsDone, double lossSum, long count, long correct,
      double lr);
}
