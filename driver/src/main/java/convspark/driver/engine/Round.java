package convspark.driver.engine;

import convspark.worker.StepPlan;

/**
 * A run of consecutive training steps inside one epoch, starting at the epoch's step
 * {@code firstStepInEpoch}: step {@code i} of the round is global step {@code firstStep + i}.
 * The training loop makes one round per epoch, or with the ring engine one every {@code
 * train.ring.round-steps} steps.
 *
 * @param epoch 0-based epoch
 * @param firstStep 0-based global step of the round's first step
 * @param firstStepInEpoch 0-based step within the epoch of the round's first step
 * @param steps number of steps in the round
 * @param stepsPerEpoch steps per epoch (sets the learning-rate schedule)
 * @param plan what every partition needs besides the weights ({@link StepPlan#at} places it)
 * @param progress told after steps, for progress lines (engines may call it less often)
 */
public record Round(int epoch, long firstStep, int firstStepInEpoch, int steps,
    int stepsPerEpoch, StepPlan plan, StepListener progress) {
  public Round {
    if (steps < 0 || firstStepInEpoch < 0 || firstStepInEpoch + steps > stepsPerEpoch) {
      throw new IllegalArgumentException("round of " + steps + " steps from step "
          + firstStepInEpoch + " does not fit in an epoch of " + stepsPerEpoch + " steps");
    }
  }

  /** The plan of the round's step {@code i}. */
  public StepPlan planOf(int i) {
    return plan.at(epoch, firstStepInEpoch + i, firstStep + i);
  }
}
