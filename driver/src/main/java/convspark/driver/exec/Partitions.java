package convspark.driver.exec;

import convspark.common.BadInputException;
import org.apache.spark.api.java.JavaSparkContext;

/** The two rules that relate workers, partitions and the global batch. */
public final class Partitions {
  private Partitions() {}

  /** Data partitions for config key train.workers: itself, or Spark's default parallelism at 0. */
  public static int count(int workers, JavaSparkContext jsc) {
    return workers > 0 ? workers : jsc.defaultParallelism();
  }

  /**
   * Training partitions for config key train.workers: itself when positive; at 0, the largest
   * count up to Spark's default parallelism that divides the global batch evenly (so that
   * {@code local[*]} trains on a machine with 3 or 6 cores as on one with 2 or 4), with a note on
   * stderr when that is fewer than the default parallelism.
   */
  public static int forTraining(int workers, int globalBatch, JavaSparkContext jsc) {
    if (workers > 0) {
      return workers;
    }
    int parallelism = jsc.defaultParallelism();
    int p = autoWorkers(globalBatch, parallelism);
    if (p < parallelism) {
      System.err.println("convspark: train.workers = 0: training on " + p + " partitions, the "
          + "largest count up to Spark's default parallelism (" + parallelism + ") that divides "
          + "the global batch (" + globalBatch + ") evenly");
    }
    return p;
  }

  /** The largest count in [1, parallelism] that divides {@code globalBatch} (1 if none is). */
  static int autoWorkers(int globalBatch, int parallelism) {
    if (globalBatch <= 0) {
      return Math.max(1, parallelism); // the batch key's own check names the error
    }
    for (int p = Math.max(1, parallelism); p > 1; p--) {
      if (globalBatch % p == 0) {
        return p;
      }
    }
    return 1;
  }

  /**
   * The per-partition batch: {@code globalBatch / partitions}.
   *
   * @param batchKey names the global batch in the error (a config key, or a key and a param)
   * @param workersName names the workers setting in the error
   * @throws BadInputException when the global batch does not divide evenly over the partitions
   */
  public static int localBatch(int globalBatch, int partitions, String batchKey,
      String workersName) {
    if (globalBatch % partitions != 0) {
      throw new BadInputException("config key " + batchKey + ": " + globalBatch
          + " does not divide evenly over " + partitions + " workers (" + workersName
          + ")");
    }
    return globalBatch / partitions;
  }
}
