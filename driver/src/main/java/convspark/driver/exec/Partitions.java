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
   * The per-partition batch: {@code globalBatch / partitions}.
   *
   * @param batchKey names the global batch in the error (a config key, or a key and a param)
   * @param workersName names the workers setting in the error
   * @throws BadInputException when the global batch does not divide evenly over the partitions
   */
  public static int localBatch(int globalBatch, int partitions, int workers, String batchKey,
      String workersName) {
    if (globalBatch % partitions != 0) {
      throw new BadInputException("config key " + batchKey + ": " + globalBatch
          + " does not divide evenly over " + partitions + " workers (" + workersName
          + (workers == 0 ? " = 0, i.e. Spark's default parallelism" : "") + ")");
    }
    return globalBatch / partitions;
  }
}
