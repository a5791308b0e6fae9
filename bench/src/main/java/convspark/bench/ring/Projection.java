package convspark.bench.ring;

import java.util.Locale;

/**
 * Projected step time and weak-scaling efficiency of the driver engine (every step a Spark job
 * whose results all go through the driver) and the ring engine (peers allreduce among
 * themselves) for P executors on 10 and 25 GbE. The formulas are printed with the table; every
 * constant is named here with where it comes from.
 */
public final class Projection {
  private Projection() {}

  /** Executor of the projection: the 16-core device machine (DESIGN.md section 8). */
  static final double DEFAULT_MODEL_IMAGES_PER_S = 13_094; // kernel, 16 threads x 64, measured
  /** Forward+backward GEMM FLOPs per image of conf/fashion-mnist.conf's network. */
  static final double DEFAULT_MODEL_FLOP = 25.4e6;
  /** ResNet-18, CIFAR variant (3x3 stem, 32x32 input): 11.17M parameters, 0.56 GMAC forward. */
  static final double RESNET18_PARAMS = 11_173_962;
  static final double RESNET18_FLOP = 3 * 2 * 0.56e9;
  static final double DEFAULT_PARAMS = 421_834 + 192; // parameters + batch-norm statistics
  /** Optimizer update, measured in local[2]: 1.4% of a 236 ms step for 421,834 parameters. */
  static final double UPDATE_S_PER_PARAM = 0.014 * 0.236 / 421_834;
  /** Spark's per-step floor (job submission, DAG, result handling) measured in local[2]. */
  static final double SPARK_STEP_FLOOR_S = 0.021;
  /** Driver-side launch cost per task (assumed: ~1,000 task launches per second). */
  static final double SPARK_TASK_S = 0.001;
  /** Driver summing P partial gradients: memory bandwidth (assumed 10 GB/s). */
  static final double DRIVER_MERGE_BYTES_PER_S = 10e9;
  /** One-way TCP latency between two machines of one rack (assumed). */
  static final double NETWORK_LATENCY_S = 25e-6;
  /** Share of the link rate TCP payload reaches (assumed). */
  static final double GOODPUT = 0.9;

  /** Ring allreduce seconds: 2 (P-1) alpha + 2 (P-1)/P bytes beta. */
  static double ringSeconds(int p, double bytes, double alpha, double beta) {
    return p == 1 ? 0 : 2.0 * (p - 1) * alpha + 2.0 * (p - 1) / p * bytes * beta;
  }

  record Model(String name, double params, double imagesPerSecond, int localBatch) {}

  static Model[] models() {
    double flopRate = DEFAULT_MODEL_IMAGES_PER_S * DEFAULT_MODEL_FLOP;
    return new Model[] {
      new Model("default (conf/fashion-mnist.conf, 421,834 parameters)", DEFAULT_PARAMS,
          DEFAULT_MODEL_IMAGES_PER_S, 1024),
      new Model("ResNet-18 for 32x32 images (11.2M parameters)", RESNET18_PARAMS,
          flopRate / RESNET18_FLOP, 128),
    };
  }

  /** The projection as markdown, with alpha and beta of the ring as measured on loopback. */
  static String markdown(double alphaLoop, double betaLoop) {
    StringBuilder sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, """
        #### Projection: one step of weak scaling (every executor keeps its local batch)

        Executor = the 16-core device machine. Compute per step = local batch / images per second
        of one executor: the default model at the measured 13,094 images/s (16 threads x 64); the
        11M-parameter model (ResNet-18, CIFAR variant, %.1f GFLOP forward+backward per image) at the
        same sustained FLOP rate (%.0f GFLOP/s), i.e. %.0f images/s. S = 4 bytes x (parameters +
        batch-norm statistics). Update = %.1f ns per parameter (measured in local[2]).

        - Ring engine: step = compute + 2 (P-1) a + 2 (P-1)/P S b + update, with
          a = %.1f us (software alpha per message step) + %.0f us network latency, and
          b = max(%.3f ns/B (software beta per byte), link beta = 8 / (%.0f%% x link bit rate)).
        - Driver engine: step = compute + S b (broadcast, a lower bound: Spark's torrent
          broadcast sends at least one copy from the driver) + P S b (every executor's gradient
          into the driver's one link) + P S / %.0f GB/s (the driver sums them) + %.0f ms + P x %.0f ms
          (Spark's per-step job floor measured in local[2], plus launching P tasks) + update.
        - Efficiency = (compute + update) / step: 100%% is linear speed-up in images/s.

        """, RESNET18_FLOP / 1e9, DEFAULT_MODEL_IMAGES_PER_S * DEFAULT_MODEL_FLOP / 1e9,
        DEFAULT_MODEL_IMAGES_PER_S * DEFAULT_MODEL_FLOP / RESNET18_FLOP, UPDATE_S_PER_PARAM * 1e9,
        alphaLoop * 1e6, NETWORK_LATENCY_S * 1e6, betaLoop * 1e9, GOODPUT * 100,
        DRIVER_MERGE_BYTES_PER_S / 1e9, SPARK_STEP_FLOOR_S * 1e3, SPARK_TASK_S * 1e3));
    sb.append("| model | local batch | link | P | compute s | ring comm s | ring step s | ring efficiency "
        + "| driver comm s | driver step s | driver efficiency |\n"
        + "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Model m : models()) {
      double bytes = 4 * m.params();
      double compute = m.localBatch() / m.imagesPerSecond();
      double update = m.params() * UPDATE_S_PER_PARAM;
      for (double gbit : new double[] {10, 25}) {
        double betaLink = 8 / (GOODPUT * gbit * 1e9);
        double beta = Math.max(betaLoop, betaLink);
        double alpha = alphaLoop + NETWORK_LATENCY_S;
        for (int p : new int[] {8, 32, 128, 256}) {
          double ring = ringSeconds(p, bytes, alpha, beta);
          double driver = bytes * betaLink + p * bytes * betaLink
              + p * bytes / DRIVER_MERGE_BYTES_PER_S + SPARK_STEP_FLOOR_S + p * SPARK_TASK_S;
          double ringStep = compute + update + ring;
          double driverStep = compute + update + driver;
          sb.append(String.format(Locale.ROOT,
              "| %s | %d | %.0f GbE | %d | %.3f | %.4f | %.3f | **%.0f%%** | %.3f | %.3f | **%.0f%%** |%n",
              m.name(), m.localBatch(), gbit, p, compute, ring, ringStep,
              100 * (compute + update) / ringStep, driver, driverStep,
              100 * (compute + update) / driverStep));
        }
      }
    }
    return sb.toString();
  }

  /** Prints the projection for given alpha and beta (seconds, seconds per byte). */
  public static void main(String[] args) {
    System.out.println(markdown(Double.parseDouble(args[0]), Double.parseDouble(args[1])));
  }
}
