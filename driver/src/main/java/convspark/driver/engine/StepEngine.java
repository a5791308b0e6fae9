package convspark.driver.engine;

import convspark.worker.ModelState;

/**
 * How the training loop runs steps: it hands an engine a {@link Round} of consecutive steps and
 * the {@link ModelState} to start from, and gets back the state after them with the round's
 * loss, counts and timings. Where gradients are computed, how they are summed and where the
 * {@link convspark.worker.update.Updater} is applied is the engine's business; the loop does
 * validation, metrics, checkpoints and early stopping between rounds. Engines are chosen by
 * config key {@code train.engine} ({@link StepEngines}).
 *
 * <p>Contract: for the same start state and round, every engine computes the same updates (up
 * to float summation order) from the same samples, seeded as {@link convspark.worker.StepPlan}
 * says; a round that throws leaves the caller's start state unusable only if the engine said it
 * updates in place.
 */
public interface StepEngine extends AutoCloseable {
  /** The config name of this engine ({@code train.engine}). */
  String name();

  /**
   * Runs the round's steps from {@code start}.
   *
   * @return the state after the round (may be {@code start}, updated in place) and its sums
   * @throws convspark.worker.TrainingFailedException if a step fails or training diverges
   */
  RoundResult run(Round round, ModelState start);

  /** Releases what the engine holds on the cluster (not the training data). */
  @Override
  void close();
}
