package convspark.driver.train;

import convspark.driver.engine.StepListener;
import convspark.driver.metrics.EpochMetrics;
import java.io.PrintStream;
import java.util.function.Consumer;

/**
 * What the training loop tells the outside while it runs: lines of information, progress within
 * an epoch (every {@code train.log-every-steps} steps) and each epoch's metrics.
 */
public interface TrainingListener {
  /** A line of information (start-up facts, resume, early stopping, the result). */
  void info(String line);

  /** A problem that does not stop training. */
  default void warning(String line) {
    info("convspark: WARNING: " + line);
  }

  /** Progress inside an epoch: steps done, mean loss and accuracy so far, rate, images/s. */
  default void progress(int stepsDone, int stepsPerEpoch, double meanLoss, double accuracy,
      double lr, double imagesPerSecond) {
    info(String.format("  step %d/%d  loss %.4f  acc %.4f  lr %.4g  %.0f img/s", stepsDone,
        stepsPerEpoch, meanLoss, accuracy, lr, imagesPerSecond));
  }

  /** An epoch's metrics. */
  default void epoch(EpochMetrics m, int epochs) {
    info(m.line(epochs));
  }

  /** Every line to {@code sink}. */
  static TrainingListener lines(Consumer<String> sink) {
    return sink::accept;
  }

  /** Every line printed to {@code out}. */
  static TrainingListener printing(PrintStream out) {
    return out::println;
  }

  /**
   * The engine-side view of one epoch: every {@code every} steps (0: never), a {@link #progress}
   * line, with images/s since {@code startNanos}. An engine that reports several steps at once
   * (the ring engine, once per round) gets a line where its report passes a multiple of {@code
   * every}: a round of 38 steps with {@code every} = 5 is one line, not none.
   */
  default StepListener steps(int every, long startNanos) {
    long[] reached = {0};
    return (round, done, lossSum, count, correct, lr) -> {
      boolean passed = every > 0 && done / every > reached[0] / every;
      reached[0] = Math.max(reached[0], done);
      if (passed) {
        double secs = (System.nanoTime() - startNanos) / 1e9;
        progress(done, round.stepsPerEpoch(), lossSum / count, (double) correct / count, lr,
            count / secs);
      }
    };
  }
}
