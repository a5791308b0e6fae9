package convspark.bench.ring;

import convspark.worker.ring.ProcessRendezvous;
import convspark.worker.ring.Ring;
import convspark.worker.ring.RingListener;
import convspark.worker.ring.RingOptions;
import convspark.worker.ring.RingSecret;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The ring allreduce alone, P separate JVM processes on loopback (no Spark, no model): seconds
 * per allreduce for several vector sizes, fitted to the latency-bandwidth model
 * {@code T(P, n) = 2 (P-1) alpha + 2 (P-1)/P * 4n * beta}, then {@link Projection} of step time
 * and scaling efficiency on real networks. Markdown on stdout.
 *
 * <p>Usage: {@code RingAllreduceBench [--procs 2,4,8] [--sizes 1000,50000,421834,1687336]
 * [--iters 30] [--chunk 262144] [--links shm|tcp|sealed]}: the links between the processes go
 * through shared memory (shm, the default, as between executors of one host), loopback TCP in
 * the clear (tcp), or loopback TCP sealed with AES-GCM (sealed: train.ring.encryption). Each
 * process times every operation; an operation's time is
 * the slowest rank's, and the figure is the median over the iterations after warm-up (5 rounds
 * over every size, then 5 more operations of each size).
 */
public final class RingAllreduceBench {
  private RingAllreduceBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("--child")) {
      child(Integer.parseInt(args[1]), parseInts(args[2]), Integer.parseInt(args[3]),
          Integer.parseInt(args[4]), args[5]);
      return;
    }
    int[] procs = {2, 4, 8};
    int[] sizes = {1_000, 50_000, 421_834, 1_687_336};
    int iters = 30;
    int chunk = RingOptions.DEFAULTS.chunkBytes();
    String links = "shm";
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--procs" -> procs = parseInts(args[i + 1]);
        case "--sizes" -> sizes = parseInts(args[i + 1]);
        case "--iters" -> iters = Integer.parseInt(args[i + 1]);
        case "--chunk" -> chunk = Integer.parseInt(args[i + 1]);
        case "--links" -> links = options(args[i + 1], chunk) == null ? null : args[i + 1];
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    List<double[]> points = new ArrayList<>(); // P, n, seconds
    StringBuilder table = new StringBuilder();
    table.append("| processes P | floats n | bytes | median s per allreduce | min | max | "
        + "bytes sent per peer | effective GB/s per peer |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    System.out.println("Links: " + links + ", chunks of " + chunk + " bytes.\n");
    for (int p : procs) {
      double[][] times = run(p, sizes, iters, chunk, links);
      for (int s = 0; s < sizes.length; s++) {
        double[] t = times[s];
        double med = median(t);
        points.add(new double[] {p, sizes[s], med});
        double sent = 2.0 * (p - 1) / p * 4 * sizes[s];
        table.append(String.format(Locale.ROOT, "| %d | %,d | %,d | %.6f | %.6f | %.6f | %,.0f | %.3f |%n",
            p, sizes[s], 4L * sizes[s], med, Arrays.stream(t).min().orElse(0),
            Arrays.stream(t).max().orElse(0), sent, sent / med / 1e9));
      }
    }
    double[] ab = fit(points);
    System.out.println(table);
    if (ab == null) {
      // one size at one P (or several sizes that all scale alike) cannot separate the latency
      // term from the bandwidth term
      System.out.println("No fit: the latency-bandwidth model needs at least two vector sizes "
          + "(--sizes) or two ring sizes (--procs); the table above is the measurement.");
      return;
    }
    System.out.printf(Locale.ROOT, "Fit over all %d points (least squares, relative error weights): "
        + "alpha = %.1f us per message step, beta = %.3f ns per byte (%.2f GB/s per peer).%n%n",
        points.size(), ab[0] * 1e6, ab[1] * 1e9, 1 / ab[1] / 1e9);
    System.out.println("| P | n | measured s | model s | model / measured |\n|---:|---:|---:|---:|---:|");
    for (double[] pt : points) {
      double model = Projection.ringSeconds((int) pt[0], 4 * pt[1], ab[0], ab[1]);
      System.out.printf(Locale.ROOT, "| %d | %,d | %.6f | %.6f | %.2f |%n", (int) pt[0], (long) pt[1],
          pt[2], model, model / pt[2]);
    }
    System.out.println();
    System.out.println("##### (a) Network only: a = network latency, b = link beta (the ring's own CPU "
        + "cost per byte assumed hidden behind the link)\n");
    System.out.println(Projection.markdown(0, 0));
    System.out.println("##### (b) With this run's loopback fit as the ring's software floor (a += alpha, "
        + "b = max(link, beta)): pessimistic wherever the loopback run was CPU-starved\n");
    System.out.println(Projection.markdown(ab[0], ab[1]));
    System.out.printf(Locale.ROOT, "FIT alpha=%.9f beta=%.15f%n", ab[0], ab[1]);
  }

  /** times[size][iteration]: the slowest rank's seconds per operation. */
  static double[][] run(int p, int[] sizes, int iters, int chunk, String links)
      throws Exception {
    List<List<String>> cmds = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      cmds.add(ProcessRendezvous.javaCommand(RingAllreduceBench.class.getName(),
          List.of("-Xms256m", "-Xmx256m"),
          List.of("--child", String.valueOf(r), join(sizes), String.valueOf(iters),
              String.valueOf(chunk), links)));
    }
    double[][] worst = new double[sizes.length][iters];
    try (ProcessRendezvous procs = ProcessRendezvous.start(cmds, RingSecret.generate(), 600_000)) {
      procs.relayAddresses(p);
      for (int r = 0; r < p; r++) {
        for (int s = 0; s < sizes.length; s++) {
          String[] f = procs.expect(r, "TIMES ").trim().split(" ");
          for (int i = 0; i < iters; i++) {
            worst[s][i] = Math.max(worst[s][i], Double.parseDouble(f[i + 1]));
          }
        }
      }
      procs.waitForAll();
    }
    return worst;
  }

  /** The ring options of {@code --links}. */
  static RingOptions options(String links, int chunk) {
    RingOptions o = RingOptions.DEFAULTS.withChunkBytes(chunk);
    return switch (links) {
      case "shm" -> o;
      case "tcp" -> o.withSharedMemory(false);
      case "sealed" -> o.withSharedMemory(false).withEncryption(true);
      default -> throw new IllegalArgumentException("--links " + links
          + ": expected shm, tcp or sealed");
    };
  }

  static void child(int rank, int[] sizes, int iters, int chunk, String links) throws Exception {
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    byte[] secret = ProcessRendezvous.readSecret(stdin);
    RingListener l = RingListener.bind(InetAddress.getLoopbackAddress(), options(links, chunk));
    List<InetSocketAddress> peers = ProcessRendezvous.exchange(l, stdin, System.out);
    try (Ring ring = l.join(peers, rank, secret, 1)) {
      // Warm-up over every size first: the encode/reduce loops get compiled (on a loaded
      // machine C2 takes seconds) before anything is measured.
      for (int round = 0; round < 5; round++) {
        for (int n : sizes) {
          ring.allreduce(new float[n], new double[4]);
        }
      }
      for (int n : sizes) {
        float[] v = new float[n];
        double[] extras = new double[4];
        SplittableRandom rnd = new SplittableRandom(rank);
        StringBuilder sb = new StringBuilder("TIMES " + n);
        for (int i = -5; i < iters; i++) {
          for (int k = 0; k < n; k++) {
            v[k] = (float) rnd.nextDouble();
          }
          long t0 = System.nanoTime();
          ring.allreduce(v, extras);
          double secs = (System.nanoTime() - t0) / 1e9;
          if (i >= 0) {
            sb.append(' ').append(secs);
          }
        }
        System.out.println(sb);
        System.out.flush();
      }
    }
  }

  /**
   * Least squares of T = a x1 + b x2 with x1 = 2(P-1), x2 = 2(P-1)/P * bytes, rows / T; null
   * when the points cannot separate a from b (a single size at a single P, say).
   */
  static double[] fit(List<double[]> pts) {
    double s11 = 0;
    double s12 = 0;
    double s22 = 0;
    double s1y = 0;
    double s2y = 0;
    for (double[] pt : pts) {
      int p = (int) pt[0];
      double w = 1 / pt[2];
      double x1 = 2.0 * (p - 1) * w;
      double x2 = 2.0 * (p - 1) / p * 4 * pt[1] * w;
      double y = 1;
      s11 += x1 * x1;
      s12 += x1 * x2;
      s22 += x2 * x2;
      s1y += x1 * y;
      s2y += x2 * y;
    }
    double det = s11 * s22 - s12 * s12;
    if (!(det > 1e-9 * s11 * s22)) {
      return null;
    }
    double a = (s1y * s22 - s2y * s12) / det;
    double b = (s11 * s2y - s12 * s1y) / det;
    return new double[] {Math.max(a, 0), Math.max(b, 0)};
  }

  static double median(double[] t) {
    double[] c = t.clone();
    Arrays.sort(c);
    return c.length % 2 == 1 ? c[c.length / 2] : (c[c.length / 2 - 1] + c[c.length / 2]) / 2;
  }

  static int[] parseInts(String s) {
    return Arrays.stream(s.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
  }

  static String join(int[] a) {
    return String.join(",", Arrays.stream(a).mapToObj(String::valueOf).toArray(String[]::new));
  }
}
