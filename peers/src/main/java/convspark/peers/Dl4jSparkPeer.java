package convspark.peers;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Deeplearning4j's data-parallel Spark training of the {@link Dl4jNet} network: one epoch of
 * Fashion-MNIST with SparkDl4jMultiLayer and ParameterAveragingTrainingMaster, averaging
 * frequency 1 (parameters and updater state averaged after every minibatch, i.e. synchronous
 * data-parallel SGD at global batch = workers x batch per worker), in-memory RDD training
 * (RDDTrainingApproach.Direct), no prefetch, no training statistics.
 *
 * <p>Usage: {@code Dl4jSparkPeer MASTER WORKERS GLOBAL_BATCH [MAX_IMAGES] [LR]}: trains on the
 * first MAX_IMAGES training images (0: all 60,000, one epoch). The images/s is those images over
 * the wall time of their {@code fit}, after an untimed warm-up fit of two global steps (data
 * loading, Spark start and caching the RDD excluded). Prints a RESULT line, with "error" if
 * DL4J's Spark code fails.
 */
public final class Dl4jSparkPeer {
  private Dl4jSparkPeer() {}

  public static void main(String[] args) throws Exception {
    String master = args[0];
    int workers = Integer.parseInt(args[1]);
    int global = Integer.parseInt(args[2]);
    int maxImages = args.length > 3 ? Integer.parseInt(args[3]) : 0;
    double lr = args.length > 4 ? Double.parseDouble(args[4]) : 0.2;
    if (global % workers != 0) {
      throw new IllegalArgumentException("global batch must divide by workers");
    }
    int perWorker = global / workers;
    Out out = new Out().put("peer", "dl4j-spark").put("master", master).put("workers", workers)
        .put("global_batch", global).put("batch_per_worker", perWorker);
    JavaSparkContext sc = null;
    try {
      Nd4j.setDefaultDataTypes(org.nd4j.linalg.api.buffer.DataType.FLOAT,
          org.nd4j.linalg.api.buffer.DataType.FLOAT);
      Dl4jPeer.setThreads(1);
      FashionMnist train = FashionMnist.load(FashionMnist.DIR, "train", maxImages);
      double[] ms = FashionMnist.meanStd(train);
      train.normalize(ms[0], ms[1]);
      // One DataSet object per worker minibatch (the last partial one dropped).
      List<DataSet> batches = new ArrayList<>();
      for (int off = 0; off + perWorker <= train.count; off += perWorker) {
        batches.add(Dl4jNet.dataSet(train.images, off, train.labels, off, perWorker));
      }
      if (batches.size() < workers) {
        throw new IllegalArgumentException("need at least " + global + " images (one global "
            + "step), found " + train.count);
      }
      int images = batches.size() * perWorker;
      SparkConf conf = new SparkConf().setMaster(master).setAppName("dl4j-spark-peer")
          .set("spark.ui.enabled", "false");
      sc = new JavaSparkContext(conf);
      sc.setLogLevel("WARN");
      out.put("spark", sc.version());
      // Persisted (and materialised before timing) at the level DL4J itself persists with.
      JavaRDD<DataSet> rdd = sc.parallelize(batches, workers).persist(StorageLevel.MEMORY_ONLY());
      rdd.count();
      ParameterAveragingTrainingMaster tm =
          new ParameterAveragingTrainingMaster.Builder(workers, perWorker)
              .batchSizePerWorker(perWorker)
              .averagingFrequency(1)
              .workerPrefetchNumBatches(0)
              .rddTrainingApproach(RDDTrainingApproach.Direct)
              .collectTrainingStats(false)
              .storageLevel(StorageLevel.MEMORY_ONLY())
              .build();
      SparkDl4jMultiLayer net = new SparkDl4jMultiLayer(sc, Dl4jNet.conf(42, lr), tm);
      // Warm-up (JIT, native workspaces, Spark's first jobs): two global steps, not timed.
      List<DataSet> warmBatches =
          new ArrayList<>(batches.subList(0, Math.min(batches.size(), 2 * workers)));
      JavaRDD<DataSet> warm =
          sc.parallelize(warmBatches, workers).persist(StorageLevel.MEMORY_ONLY());
      warm.count();
      net.fit(warm);
      long t0 = System.nanoTime();
      net.fit(rdd);
      double secs = (System.nanoTime() - t0) / 1e9;
      double ips = images / secs;
      System.out.printf("dl4j-spark: %d images in %.1f s = %.1f images/s (%s, %d workers x "
          + "batch %d, score %.4f; %s)%n", images, secs, ips, master, workers, perWorker,
          net.getScore(), Dl4jNet.describe());
      out.put("images", images).put("seconds", secs).put("images_per_second", ips)
          .put("score", net.getScore()).put("blas", Dl4jNet.describe()).print();
    } catch (Throwable e) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      System.err.println("dl4j-spark: FAILED");
      e.printStackTrace();
      String msg = e.getClass().getName() + ": " + e.getMessage();
      if (root != e) {
        msg += " (cause: " + root.getClass().getName() + ": " + root.getMessage() + ")";
      }
      out.put("error", msg.length() > 600 ? msg.substring(0, 600) + "..." : msg).print();
      if (sc != null) {
        sc.stop();
      }
      System.exit(1);
    }
    sc.stop();
  }
}
