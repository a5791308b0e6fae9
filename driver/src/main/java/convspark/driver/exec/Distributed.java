package convspark.driver.exec;

import convspark.common.nn.Network;
import convspark.worker.Evaluation;
import convspark.worker.PartitionStep;
import convspark.worker.SampleBlock;
import convspark.worker.StepPlan;
import convspark.worker.StepResult;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;

/**
 * The Spark side of a step and of an evaluation: the functions shipped to executors (static
 * classes, so no driver object is captured) and the helpers that run them.
 */
public final class Distributed {
  private Distributed() {}

  /**
   * A cached data set: one block per partition, the number of samples, the size of the largest
   * block (which sets the steps per epoch), and the broadcast it was built from (null when the
   * executors built the blocks themselves).
   */
  public record Blocks(JavaRDD<SampleBlock> rdd, long count, int maxBlock,
      Broadcast<SampleBlock[]> source) {
    /**
     * Frees the cached blocks and the broadcast, waiting up to {@link #RELEASE_WAIT_SECONDS} for
     * the executors to confirm. A release that returned at once left Spark's removal requests in
     * flight; when the run ended and the context stopped right after, every executor's
     * connection closed with one of them unanswered, and Spark logged "ERROR
     * TransportResponseHandler: Still have 1 requests outstanding when connection from ... is
     * closed" (and sometimes "Error sending result ... Broken pipe") at the end of every
     * successful cluster run. The wait is bounded, as a paused executor would hold a blocking
     * removal for Spark's whole RPC timeout: past it the removal goes on in the background.
     */
    public void release() {
      if (rdd.context().isStopped()) {
        return; // the blocks went with the context (a signal's shutdown stops it first)
      }
      Thread t = new Thread(() -> {
        try {
          rdd.unpersist(true);
          if (source != null) {
            source.destroy(true);
          }
        } catch (RuntimeException e) {
          if (!rdd.context().isStopped()) {
            throw e;
          } // else stopped meanwhile: nothing left to free
        }
      }, "convspark-release-" + rdd.name());
      t.setDaemon(true);
      t.start();
      try {
        t.join(RELEASE_WAIT_SECONDS * 1000L);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      if (t.isAlive()) {
        System.err.println("convspark: WARNING: the executors did not confirm freeing the "
            + "cached " + rdd.name() + " blocks within " + RELEASE_WAIT_SECONDS + " s (an "
            + "executor not answering); going on, Spark frees them in the background");
      }
    }
  }

  /**
   * The mean and standard deviation of every input value of the blocks, as the model sees them
   * (normalised): {count, mean, std}. One pass over the cached blocks, in double precision.
   */
  public static double[] moments(JavaRDD<SampleBlock> blocks) {
    double[] sums = blocks.map(b -> {
      double s = 0;
      double q = 0;
      int n = b.count() * b.sampleSize();
      for (int i = 0; i < n; i++) {
        double v = b.features()[i];
        s += v;
        q += v * v;
      }
      return new double[] {n, s, q};
    }).fold(new double[3], (a, b) -> new double[] {a[0] + b[0], a[1] + b[1], a[2] + b[2]});
    if (sums[0] == 0) {
      return new double[] {0, 0, 0};
    }
    double mean = sums[1] / sums[0];
    return new double[] {sums[0], mean, Math.sqrt(Math.max(0, sums[2] / sums[0] - mean * mean))};
  }

  /** How long {@link Blocks#release} waits for the executors to free the cached blocks. */
  public static final int RELEASE_WAIT_SECONDS = 10;

  /**
   * Packs samples into one balanced block per partition and caches them on the executors.
   *
   * <p>The blocks travel by broadcast and each partition picks its own, rather than through
   * {@code parallelize}: a parallelized collection keeps its data inside the partition objects,
   * which Spark serializes into every task of every step, even when the RDD is cached. The
   * broadcast is kept while the RDD is in use, so a block lost with an executor is rebuilt from
   * lineage.
   */
  public static Blocks blocks(JavaSparkContext jsc, float[] features, int[] labels,
      int sampleSize, int partitions, String name) {
    SampleBlock[] blocks = SampleBlock.split(features, labels, sampleSize, partitions);
    Broadcast<SampleBlock[]> b = jsc.broadcast(blocks);
    List<Integer> ids = new java.util.ArrayList<>();
    for (int i = 0; i < partitions; i++) {
      ids.add(i);
    }
    JavaRDD<SampleBlock> rdd = jsc.parallelize(ids, partitions)
        .map(new PickBlock(b))
        .setName(name).persist(StorageLevel.MEMORY_ONLY());
    rdd.count();
    int max = 0;
    for (SampleBlock block : blocks) {
      max = Math.max(max, block.count());
    }
    return new Blocks(rdd, labels.length, max, b);
  }

  /** Executor side of {@link #blocks}: partition i takes block i of the broadcast. */
  record PickBlock(Broadcast<SampleBlock[]> blocks)
      implements org.apache.spark.api.java.function.Function<Integer, SampleBlock> {

    @Override
    public SampleBlock call(Integer i) {
      return blocks.value()[i];
    }
  }

  /** One partition's step: the executor-side closure. */
  record StepFn(StepPlan plan, Broadcast<Weights> weights, double submitted)
      implements Function2<Integer, Iterator<SampleBlock>, Iterator<StepResult>> {

    @Override
    public Iterator<StepResult> call(Integer partition, Iterator<SampleBlock> it) {
      // an OutOfMemoryError would make Spark end the JVM (the driver's, in local mode)
      return TaskOutOfMemoryException.guard(() -> "a training step, partition " + partition,
          () -> "a smaller train.global-batch (" + plan.localBatch() + " samples per worker now)",
          () -> run(partition, it));
    }

    private Iterator<StepResult> run(Integer partition, Iterator<SampleBlock> it) {
      double start = StepResult.wallSeconds();
      long t0 = System.nanoTime();
      Weights w = weights.value();
      double fetch = (System.nanoTime() - t0) / 1e9;
      Network net = plan.network();
      StepResult total = null;
      while (it.hasNext()) {
        StepResult r = PartitionStep.compute(it.next(), partition, plan, w.params(), w.state());
        total = total == null ? r : total.merge(r);
      }
      if (total == null) {
        total = new StepResult(new float[net.paramCount()], new float[net.stateCount()]);
      }
      total.fetchSeconds += fetch;
      double end = StepResult.wallSeconds();
      total.launchSeconds = start - submitted;
      total.taskSeconds = end - start;
      total.endSum = end;
      total.endMax = end;
      return Collections.singletonList(total).iterator();
    }
  }

  /** Runs one step on every partition and sums the results with {@code allReduce}. */
  public static StepResult step(JavaRDD<SampleBlock> blocks, StepPlan plan,
      Broadcast<Weights> weights, AllReduce allReduce) {
    return allReduce.sum(blocks.mapPartitionsWithIndex(
        new StepFn(plan, weights, StepResult.wallSeconds()), true));
  }

  record EvalFn(Network net, Broadcast<Weights> weights, int batch, double smoothing)
      implements Function2<Integer, Iterator<SampleBlock>, Iterator<Evaluation>> {

    @Override
    public Iterator<Evaluation> call(Integer partition, Iterator<SampleBlock> it) {
      // an OutOfMemoryError would make Spark end the JVM (the driver's, in local mode)
      return TaskOutOfMemoryException.guard(() -> "evaluation, partition " + partition,
          () -> "a smaller train.eval-batch (" + batch + " now)", () -> run(partition, it));
    }

    private Iterator<Evaluation> run(Integer partition, Iterator<SampleBlock> it) {
      Weights w = weights.value();
      Evaluation total = new Evaluation(net.classes());
      while (it.hasNext()) {
        total.merge(Evaluation.of(it.next(), net, w.params(), w.state(), batch, smoothing));
      }
      return List.of(total).iterator();
    }
  }

  /** Evaluates the model on every cached block, in inference mode. */
  public static Evaluation evaluate(JavaSparkContext jsc, JavaRDD<SampleBlock> blocks,
      Network net, float[] params, float[] state, int batch, double smoothing) {
    Broadcast<Weights> b = jsc.broadcast(new Weights(params.clone(), state.clone()));
    try {
      // merged in partition order, so the summed loss is the same every run
      List<Evaluation> parts =
          blocks.mapPartitionsWithIndex(new EvalFn(net, b, batch, smoothing), true).collect();
      Evaluation total = parts.get(0);
      for (int i = 1; i < parts.size(); i++) {
        total.merge(parts.get(i));
      }
      return total;
    } finally {
      b.destroy(true);
    }
  }
}
