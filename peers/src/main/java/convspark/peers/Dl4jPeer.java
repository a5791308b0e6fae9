package convspark.peers;

import java.util.SplittableRandom;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Deeplearning4j, single process (see {@link Dl4jNet} for the network).
 *
 * <pre>
 *   Dl4jPeer throughput THREADS SECONDS   batch-64 training steps (fit: forward, backward and
 *                                         the SGD update) on random data; images/s measured
 *                                         after a warm-up of 0.3 x SECONDS, over SECONDS
 *   Dl4jPeer loss STEPS [LR] [SEED]       the loss sanity check (as ConvsparkLossPeer)
 * </pre>
 * Threads: libnd4j's thread pool (OMP_NUM_THREADS, set by the caller, and setMaxThreads here)
 * and OpenBLAS's (OPENBLAS_NUM_THREADS, set by the caller).
 */
public final class Dl4jPeer {
  private Dl4jPeer() {}

  public static void main(String[] args) throws Exception {
    Nd4j.setDefaultDataTypes(org.nd4j.linalg.api.buffer.DataType.FLOAT,
        org.nd4j.linalg.api.buffer.DataType.FLOAT);
    switch (args[0]) {
      case "throughput" -> throughput(Integer.parseInt(args[1]), Double.parseDouble(args[2]));
      case "loss" -> loss(Integer.parseInt(args[1]),
          args.length > 2 ? Double.parseDouble(args[2]) : 0.05,
          args.length > 3 ? Long.parseLong(args[3]) : 42);
      default -> throw new IllegalArgumentException("mode: throughput | loss");
    }
  }

  static void setThreads(int threads) {
    try {
      Nd4j.getEnvironment().setMaxThreads(threads);
      Nd4j.getEnvironment().setMaxMasterThreads(threads);
    } catch (RuntimeException | LinkageError e) {
      System.err.println("dl4j: could not set threads: " + e);
    }
  }

  static void throughput(int threads, double seconds) {
    setThreads(threads);
    int batch = 64;
    MultiLayerNetwork net = new MultiLayerNetwork(Dl4jNet.conf(1, 0.01));
    net.init();
    SplittableRandom rng = new SplittableRandom(0);
    float[] x = new float[batch * FashionMnist.PIXELS];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (rng.nextDouble() * 2 - 1);
    }
    int[] y = new int[batch];
    for (int i = 0; i < batch; i++) {
      y[i] = rng.nextInt(Dl4jNet.CLASSES);
    }
    DataSet ds = Dl4jNet.dataSet(x, 0, y, 0, batch);
    long start = System.nanoTime();
    long warm = start + (long) (seconds * 0.3e9);
    long end = start + (long) (seconds * 1.3e9);
    long images = 0;
    long first = -1;
    long last = 0;
    while (true) {
      long now = System.nanoTime();
      if (now > end) {
        break;
      }
      net.fit(ds);
      long t = System.nanoTime();
      if (t > warm) {
        if (first < 0) {
          first = now > warm ? now : warm;
        }
        images += batch;
        last = t;
      }
    }
    double secs = (last - first) / 1e9;
    double ips = images / secs;
    String env = Dl4jNet.describe();
    System.out.printf("images/s %.1f (threads %d, batch %d, %d params, %s)%n", ips, threads,
        batch, net.numParams(), env);
    new Out().put("peer", "dl4j").put("threads", threads).put("batch", batch)
        .put("images_per_second", ips).put("params", net.numParams()).put("blas", env).print();
  }

  static void loss(int steps, double lr, long seed) throws Exception {
    setThreads(1);
    int batch = 64;
    FashionMnist train = FashionMnist.load(FashionMnist.DIR, "train", 0);
    double[] ms = FashionMnist.meanStd(train);
    train.normalize(ms[0], ms[1]);
    MultiLayerNetwork net = new MultiLayerNetwork(Dl4jNet.conf(seed, lr));
    net.init();
    double[] losses = new double[steps];
    long t0 = System.nanoTime();
    for (int s = 0; s < steps; s++) {
      int off = (s * batch) % (train.count - batch + 1);
      DataSet ds = Dl4jNet.dataSet(train.images, off, train.labels, off, batch);
      double reg = net.calcRegularizationScore(true);
      net.fit(ds);
      losses[s] = net.score() - reg;   // the data term: label-smoothed cross-entropy
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    ConvsparkLossPeer.report("dl4j", losses, steps, lr, net.numParams(), secs, Dl4jNet.describe());
  }
}
