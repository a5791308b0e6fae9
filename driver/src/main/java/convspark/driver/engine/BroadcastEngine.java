package convspark.driver.engine;

import convspark.driver.exec.AllReduce;
import convspark.driver.exec.Distributed;
import convspark.driver.exec.Weights;
import convspark.worker.ModelState;
import convspark.worker.StepResult;
import convspark.worker.TrainingFailedException;
import convspark.worker.update.Updater;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * The driver engine ({@code train.engine = driver}): every step, broadcast the weights, let
 * every partition compute the gradient sum of its share of the global batch, collect and sum the
 * partials in partition order ({@link AllReduce}), and apply the {@link Updater} on the driver.
 * Survives any task failure (Spark reruns the task); costs one Spark job and one broadcast of
 * the weights per step.
 */
public final class BroadcastEngine implements StepEngine {
  private final JavaSparkContext jsc;
  private final StepEngines.Setup setup;
  private final Updater updater;
  private final AllReduce allReduce;

  BroadcastEngine(StepEngines.Setup setup) {
    this.jsc = setup.jsc();
    this.setup = setup;
    this.updater = new Updater(setup.rule(), setup.net(), setup.checkpointDir());
    this.allReduce = AllReduce.forPartitions(setup.partitions());
  }

  @Override
  public String name() {
    return "driver";
  }

  /** Updates {@code start} in place and returns it in the result. */
  @Override
  public RoundResult run(Round round, ModelState start) {
    int partitions = setup.partitions();
    StepTimes times = StepTimes.ZERO;
    double lossSum = 0;
    long count = 0;
    long correct = 0;
    double lr = Double.NaN;
    for (int s = 0; s < round.steps(); s++) {
      long step = round.firstStep() + s;
      lr = updater.learningRate(step, round.stepsPerEpoch());
      long b0 = System.nanoTime();
      Broadcast<Weights> bw =
          jsc.broadcast(new Weights(start.params().clone(), start.state().clone()));
      long b1 = System.nanoTime();
      StepResult r;
      try {
        r = Distributed.step(setup.train().rdd(), round.planOf(s), bw, allReduce);
      } catch (RuntimeException e) {
        throw new TrainingFailedException("step " + step + " (epoch " + (round.epoch() + 1)
            + ") failed: " + e.getMessage(), e);
      }
      long b2 = System.nanoTime();
      double jobEnd = StepResult.wallSeconds();
      // non-blocking, except for the round's last step: nothing is left in flight when
      // validation or shutdown follows
      bw.destroy(s == round.steps() - 1);
      long u0 = System.nanoTime();
      updater.apply(r.gradSum, r.count, r.lossSum, r.bnStats, start, step, round.epoch(),
          round.stepsPerEpoch());
      long u1 = System.nanoTime();
      // wall-clock spans are clamped: the clocks differ from nanoTime's by rounding
      times = times.plus(new StepTimes(
          r.computeSeconds / partitions,
          (b1 - b0 + u0 - b2) / 1e9,
          (u1 - u0) / 1e9,
          (b2 - b1) / 1e9,
          r.fetchSeconds / partitions,
          r.mergeSeconds,
          Math.max(0, r.launchSeconds / partitions),
          Math.max(0, (r.taskSeconds - r.computeSeconds - r.fetchSeconds) / partitions),
          Math.max(0, r.endMax - r.endSum / partitions),
          Math.max(0, jobEnd - r.endMax - r.mergeSeconds)));
      lossSum += r.lossSum;
      count += r.count;
      correct += r.correct;
      round.progress().afterStep(round, s + 1, lossSum, count, correct, lr);
    }
    return new RoundResult(start, lossSum, count, correct, lr, times);
  }

  @Override
  public void close() {}
}
