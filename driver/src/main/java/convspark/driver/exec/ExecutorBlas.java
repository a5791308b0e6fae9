package convspark.driver.exec;

import convspark.common.blas.Blas;
import convspark.common.blas.BlasInfo;
import convspark.worker.SampleBlock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;

/**
 * Which BLAS each executor loaded: one tiny job over the cached training blocks (so its tasks run
 * where the training tasks will, one per partition), or over empty slots where the input is read
 * by the job itself, each task returning its JVM's {@link BlasInfo}; deduplicated by host and
 * process. A wrong or slow kernel on some node shows up in
 * the start-up log and in summary.json.
 */
public final class ExecutorBlas {
  private ExecutorBlas() {}

  /** The distinct executors' reports, in partition order. */
  public static List<BlasInfo> probe(JavaRDD<SampleBlock> blocks) {
    return distinct(blocks.mapPartitions(new Probe<>()).collect());
  }

  /**
   * The distinct reports of the executors that run one empty task per slot of Spark's default
   * parallelism: for a command whose input is read once, by the job itself (predict), so no
   * partition of it can carry the probe.
   */
  public static List<BlasInfo> probe(JavaSparkContext jsc) {
    int n = Math.max(1, jsc.defaultParallelism());
    List<Integer> slots = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      slots.add(i);
    }
    return distinct(jsc.parallelize(slots, n).mapPartitions(new Probe<>()).collect());
  }

  private static List<BlasInfo> distinct(List<BlasInfo> all) {
    Map<String, BlasInfo> distinct = new LinkedHashMap<>();
    for (BlasInfo i : all) {
      distinct.putIfAbsent(i.host() + "/" + i.pid(), i);
    }
    return new ArrayList<>(distinct.values());
  }

  /** The start-up lines that say which BLAS runs: the driver's, then each executor's. */
  public static List<String> lines(List<BlasInfo> executors) {
    List<String> lines = new ArrayList<>();
    lines.add(String.format("convspark: BLAS %s", Blas.describe()));
    for (BlasInfo e : executors) {
      lines.add(String.format("convspark: BLAS on executor %s (pid %d): %s", e.host(), e.pid(),
          e.describe()));
    }
    return lines;
  }

  /** Executor side: this JVM's BLAS (loading it here, as the first step would). */
  static final class Probe<T> implements FlatMapFunction<Iterator<T>, BlasInfo> {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<BlasInfo> call(Iterator<T> it) {
      return List.of(Blas.info()).iterator();
    }
  }
}
