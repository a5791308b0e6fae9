package convspark.driver.engine;

/**
 * Where the time of training steps went, in seconds (see {@link
 * convspark.driver.metrics.EpochMetrics} for each field's meaning). Engines that cannot measure
 * a part leave it 0.
 */
public record StepTimes(double compute, double broadcast, double update, double job,
    double fetch, double merge, double launch, double taskOther, double straggler,
    double results, double allreduce, long allreduceBytes) {
  public static final StepTimes ZERO = new StepTimes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  /** Without peer-to-peer allreduce figures (engines whose allreduce runs on the driver). */
  public StepTimes(double compute, double broadcast, double update, double job, double fetch,
      double merge, double launch, double taskOther, double straggler, double results) {
    this(compute, broadcast, update, job, fetch, merge, launch, taskOther, straggler, results, 0,
        0);
  }

  /** The field-wise sum. */
  public StepTimes plus(StepTimes o) {
    return new StepTimes(compute + o.compute, broadcast + o.broadcast, update + o.update,
        job + o.job, fetch + o.fetch, merge + o.merge, launch + o.launch,
        taskOther + o.taskOther, straggler + o.straggler, results + o.results,
        allreduce + o.allreduce, allreduceBytes + o.allreduceBytes);
  }
}
