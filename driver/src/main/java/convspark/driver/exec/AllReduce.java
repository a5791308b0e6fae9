package convspark.driver.exec;

import convspark.worker.StepResult;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;

/**
 * Sums the partitions' step results into one. Behind an interface so that a sharded
 * reduce-scatter/all-gather over the BlockManager (as BigDL does) can replace these.
 */
public interface AllReduce {
  StepResult sum(JavaRDD<StepResult> partials);

  /**
   * Collects the partials in partition order and sums them on the driver in that order, so the
   * float sum, and with it the whole run, is the same every time for a given seed. With few
   * partitions this moves the same bytes as Spark's reduce (which also sends every partial to
   * the driver) but does not depend on which task finished first.
   */
  static AllReduce ordered() {
    return partials -> {
      List<StepResult> parts = partials.collect();
      long t0 = System.nanoTime();
      StepResult total = parts.get(0);
      for (int i = 1; i < parts.size(); i++) {
        total.merge(parts.get(i));
      }
      total.mergeSeconds = (System.nanoTime() - t0) / 1e9;
      return total;
    };
  }

  /**
   * Spark's treeReduce at depth 2, merging into the left operand in place: executors combine
   * partials before the driver sees them, so the driver receives about sqrt(P) vectors instead of
   * P. Summation order then depends on task timing (results equal up to float rounding).
   */
  static AllReduce tree() {
    return partials -> partials.treeReduce(StepResult::merge, 2);
  }

  /** The default for {@code partitions}: ordered up to 16 partitions, a tree beyond. */
  static AllReduce forPartitions(int partitions) {
    return partitions <= 16 ? ordered() : tree();
  }
}
