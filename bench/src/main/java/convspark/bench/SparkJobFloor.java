package convspark.bench;

import convspark.driver.train.SparkSessions;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Spark's own cost of one synchronous step, without convspark's kernel: per step, broadcast a
 * float vector, run one task per partition over a cached RDD that reads it, spins for
 * {@code SPIN_MS} of CPU (standing in for forward/backward) and returns a float vector of the
 * same size, collect, destroy the broadcast: the shape of a convspark step. Prints, for each spin
 * time, the mean step time and the overhead (step minus spin) over the measured steps, after as
 * many unmeasured warm-up steps. The floor the step-time breakdown of scripts/bench-train.sh is
 * read against.
 * Usage: {@code SparkJobFloor MASTER PARTITIONS FLOATS STEPS SPIN_MS...}.
 */
public final class SparkJobFloor {
  private SparkJobFloor() {}

  public static void main(String[] args) {
    String master = args[0];
    int partitions = Integer.parseInt(args[1]);
    int floats = Integer.parseInt(args[2]);
    int steps = Integer.parseInt(args[3]);
    // the same settings convspark's sessions get (direct task results and so on)
    SparkConf conf = new SparkConf().setMaster(master).setAppName("spark-job-floor")
        .set("spark.ui.enabled", "false")
        .set("spark.task.maxDirectResultSize", SparkSessions.MAX_DIRECT_RESULT_SIZE);
    try (JavaSparkContext jsc = new JavaSparkContext(conf)) {
      jsc.setLogLevel("WARN");
      Integer[] ids = new Integer[partitions];
      Arrays.setAll(ids, i -> i);
      JavaRDD<Integer> rdd = jsc.parallelize(Arrays.asList(ids), partitions).cache();
      rdd.count();
      for (int a = 4; a < args.length; a++) {
        long spinMs = Long.parseLong(args[a]);
        run(jsc, rdd, floats, steps, spinMs); // warm-up
        double ms = run(jsc, rdd, floats, steps, spinMs);
        System.out.printf("spin %d ms, %d floats each way, %d partitions: step %.2f ms, "
            + "overhead %.2f ms (%.1f%% of the step)%n", spinMs, floats, partitions, ms,
            ms - spinMs, 100 * (ms - spinMs) / ms);
      }
    }
  }

  private static double run(JavaSparkContext jsc, JavaRDD<Integer> rdd, int floats, int steps,
      long spinMs) {
    long t0 = System.nanoTime();
    for (int s = 0; s < steps; s++) {
      Broadcast<float[]> b = jsc.broadcast(new float[floats]);
      List<float[]> r = rdd.mapPartitions(it -> {
        float[] w = b.value();
        long end = System.nanoTime() + spinMs * 1_000_000L;
        double x = w.length;
        while (System.nanoTime() < end) {
          x += Math.sqrt(x);
        }
        float[] out = new float[w.length];
        if (out.length > 0) {
          out[0] = (float) x;
        }
        return Collections.singletonList(out).iterator();
      }).collect();
      if (r.size() != rdd.getNumPartitions()) {
        throw new IllegalStateException("lost a result");
      }
      b.destroy(false);
    }
    return (System.nanoTime() - t0) / 1e6 / steps;
  }
}
