package convspark.driver.metrics;

import convspark.driver.engine.StepTimes;

/**
 * One epoch's numbers, as printed on the console and written as a JSON line to {@code
 * metrics.jsonl}. Validation fields are NaN when there is no validation set (null in the JSON
 * line, as {@link Json} writes every number that is not finite).
 *
 * @param epoch 1-based epoch
 * @param step global steps done at the end of this epoch
 * @param trainLoss mean training loss over the epoch (without the regularisation penalty)
 * @param trainAccuracy training accuracy over the epoch (with dropout and augmentation on)
 * @param valLoss validation loss (eval mode)
 * @param valAccuracy validation accuracy
 * @param lr learning rate at the end of the epoch
 * @param imagesPerSecond training samples per wall-clock second of the epoch's steps
 * @param trainSeconds wall time of the epoch's steps
 * @param computeSeconds mean time per partition spent in forward/backward, summed over steps
 * @param broadcastSeconds driver time creating and destroying broadcasts
 * @param updateSeconds driver time averaging, regularising and applying the optimizer
 * @param validationSeconds wall time of the validation pass
 * @param jobSeconds wall time of the steps' Spark jobs (tasks, results, allreduce)
 * @param fetchSeconds mean time per partition tasks spent getting the broadcast weights
 * @param mergeSeconds driver time summing the partial results (the allreduce's arithmetic)
 * @param launchSeconds mean time per partition from the driver submitting a step's job to the
 *     task starting: scheduling, task serialisation, shipping and deserialisation
 * @param taskOtherSeconds mean time per partition inside the task that is neither compute nor
 *     broadcast fetch (reading the cached block, building the result)
 * @param stragglerSeconds time the job waited for its slowest task: latest task end minus the
 *     mean task end
 * @param resultSeconds time from the last task's end to the driver holding all results, minus
 *     the driver sum: result serialisation, transfer and deserialisation
 * @param allreduceSeconds ring engine: rank 0's wall time inside the peer-to-peer allreduce
 *     (waiting for slower peers included); 0 for the driver engine
 * @param allreduceBytes ring engine: bytes rank 0 sent to its ring neighbour
 * @param allreduceGigabytesPerSecond allreduceBytes / allreduceSeconds / 1e9 (0 if none)
 * @param driverResultBytes task result bytes the driver received for the epoch's training jobs,
 *     measured by a Spark listener ({@link convspark.driver.exec.DriverResultBytes}: Spark's
 *     {@code TaskMetrics.resultSize} summed over the finished tasks; validation not included)
 * @param driverResultBytesPerStep driverResultBytes / the epoch's steps
 */
public record EpochMetrics(int epoch, long step, double trainLoss, double trainAccuracy,
    double valLoss, double valAccuracy, double lr, double imagesPerSecond, double trainSeconds,
    double computeSeconds, double broadcastSeconds, double updateSeconds,
    double validationSeconds, double jobSeconds, double fetchSeconds, double mergeSeconds,
    double launchSeconds, double taskOtherSeconds, double stragglerSeconds,
    double resultSeconds, double allreduceSeconds, long allreduceBytes,
    double allreduceGigabytesPerSecond, long driverResultBytes,
    double driverResultBytesPerStep) {

  /**
   * An epoch's metrics from its rounds' sums and times, its validation, its number of steps and
   * the result bytes the driver received for it.
   */
  public static EpochMetrics of(int epoch, long step, double lossSum, long count, long correct,
      double valLoss, double valAccuracy, double lr, double trainSeconds,
      double validationSeconds, StepTimes t, int steps, long driverResultBytes) {
    return new EpochMetrics(epoch, step, lossSum / count, (double) correct / count, valLoss,
        valAccuracy, lr, count / trainSeconds, trainSeconds, t.compute(), t.broadcast(),
        t.update(), validationSeconds, t.job(), t.fetch(), t.merge(), t.launch(),
        t.taskOther(), t.straggler(), t.results(), t.allreduce(), t.allreduceBytes(),
        t.allreduce() > 0 ? t.allreduceBytes() / t.allreduce() / 1e9 : 0, driverResultBytes,
        steps > 0 ? (double) driverResultBytes / steps : 0);
  }

  /** The console line. */
  public String line(int epochs) {
    return String.format(
        "epoch %d/%d  train loss %.4f acc %.4f  val loss %s acc %s  lr %.4g  %.0f img/s  "
            + "train %.1fs (compute %.1fs, other %.1fs) val %.1fs",
        epoch, epochs, trainLoss, trainAccuracy, fmt(valLoss), fmt(valAccuracy), lr,
        imagesPerSecond, trainSeconds, computeSeconds, trainSeconds - computeSeconds,
        validationSeconds);
  }

  private static String fmt(double v) {
    return Double.isNaN(v) ? "-" : String.format("%.4f", v);
  }
}
