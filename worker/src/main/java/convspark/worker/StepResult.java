package convspark.worker;

import convspark.common.io.FloatArrays;
import java.io.Externalizable;
import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;

/**
 * What one partition returns for one training step, and what the allreduce sums: the gradient
 * of the <b>summed</b> loss over its samples, the summed loss, the sample count, the number of
 * correct predictions, and count-weighted batch-norm batch statistics (state layout). The driver
 * divides by the global count.
 */
public final class StepResult implements Externalizable {
  private static final long serialVersionUID = 1L;
  public float[] gradSum;
  public float[] bnStats;
  public double lossSum;
  public long count;
  public long correct;
  /** Seconds spent computing in tasks, summed over partitions (for the step-time breakdown). */
  public double computeSeconds;
  /** Seconds tasks spent obtaining the broadcast weights, summed over partitions. */
  public double fetchSeconds;
  /** Seconds the driver spent summing the partials (set by the allreduce, not merged). */
  public double mergeSeconds;
  /**
   * Seconds from the driver submitting the step to each task starting (scheduling, task
   * deserialisation), summed over partitions. Wall clocks: exact in local mode, subject to clock
   * skew between machines on a cluster.
   */
  public double launchSeconds;
  /** Seconds each task ran (start of the task function to its result), summed over partitions. */
  public double taskSeconds;
  /** Wall-clock end of the tasks (epoch seconds): summed, and the latest. */
  public double endSum;
  public double endMax;

  public StepResult(float[] gradSum, float[] bnStats) {
    this.gradSum = gradSum;
    this.bnStats = bnStats;
  }

  /** For deserialization only. */
  public StepResult() {}

  /**
   * Every step moves one result per partition (4 bytes per parameter) to the driver: the
   * gradient goes through {@link FloatArrays} rather than element-by-element Java serialization.
   */
  @Override
  public void writeExternal(ObjectOutput out) throws IOException {
    FloatArrays.write(out, gradSum);
    FloatArrays.write(out, bnStats);
    out.writeDouble(lossSum);
    out.writeLong(count);
    out.writeLong(correct);
    out.writeDouble(computeSeconds);
    out.writeDouble(fetchSeconds);
    out.writeDouble(mergeSeconds);
    out.writeDouble(launchSeconds);
    out.writeDouble(taskSeconds);
    out.writeDouble(endSum);
    out.writeDouble(endMax);
  }

  @Override
  public void readExternal(ObjectInput in) throws IOException {
    gradSum = FloatArrays.read(in);
    bnStats = FloatArrays.read(in);
    lossSum = in.readDouble();
    count = in.readLong();
    correct = in.readLong();
    computeSeconds = in.readDouble();
    fetchSeconds = in.readDouble();
    mergeSeconds = in.readDouble();
    launchSeconds = in.readDouble();
    taskSeconds = in.readDouble();
    endSum = in.readDouble();
    endMax = in.readDouble();
  }

  /** Wall-clock time in epoch seconds, to microsecond precision where the OS gives it. */
  public static double wallSeconds() {
    java.time.Instant t = java.time.Instant.now();
    return t.getEpochSecond() + t.getNano() * 1e-9;
  }

  /** Adds {@code other} into this result, in place, and returns this. */
  public StepResult merge(StepResult other) {
    if (other.gradSum.length != gradSum.length || other.bnStats.length != bnStats.length) {
      throw new IllegalArgumentException("cannot merge step results of different models");
    }
    float[] g = gradSum;
    float[] o = other.gradSum;
    for (int i = 0; i < g.length; i++) {
      g[i] += o[i];
    }
    for (int i = 0; i < bnStats.length; i++) {
      bnStats[i] += other.bnStats[i];
    }
    lossSum += other.lossSum;
    count += other.count;
    correct += other.correct;
    computeSeconds += other.computeSeconds;
    fetchSeconds += other.fetchSeconds;
    launchSeconds += other.launchSeconds;
    taskSeconds += other.taskSeconds;
    endSum += other.endSum;
    endMax = Math.max(endMax, other.endMax);
    return this;
  }
}
