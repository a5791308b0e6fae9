package convspark.bench.ring;

import convspark.worker.ring.Ring;
import convspark.worker.ring.RingListener;
import convspark.worker.ring.RingOptions;
import convspark.worker.ring.RingSecret;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The ring allreduce's CPU cost per operation: P peers as threads of this JVM on loopback, each
 * allreducing n floats plus 4 doubles, {@code --iters} times after a warm-up. Reports the median
 * wall time per operation (the slowest peer's) and the whole process's CPU time (user + system,
 * every peer, the kernel's loopback TCP included) per operation and per byte of the vector. On a
 * loaded machine the wall time follows the CPU share the benchmark gets; the CPU time per
 * operation does not, which makes it the figure to compare transports with.
 *
 * <p>Usage: {@code RingCpuBench [--procs 2] [--size 421834] [--iters 300] [--chunk 32768]
 * [--transport shm|tcp]} (the chunk defaults to {@link RingOptions#DEFAULTS}; {@code shm}, the
 * default, carries the data through shared memory, as peers on one host do, {@code tcp} over
 * loopback TCP).
 */
public final class RingCpuBench {
  private RingCpuBench() {}

  public static void main(String[] args) throws Exception {
    int p = 2;
    int n = 421_834;
    int iters = 300;
    int chunk = RingOptions.DEFAULTS.chunkBytes();
    boolean shm = true;
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--procs" -> p = Integer.parseInt(args[i + 1]);
        case "--size" -> n = Integer.parseInt(args[i + 1]);
        case "--iters" -> iters = Integer.parseInt(args[i + 1]);
        case "--chunk" -> chunk = Integer.parseInt(args[i + 1]);
        case "--transport" -> shm = transport(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]
            + " (options: --procs --size --iters --chunk --transport)");
      }
    }
    RingOptions o = RingOptions.DEFAULTS.withChunkBytes(chunk).withSharedMemory(shm);
    Ring[] rings = form(p, o);
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    ExecutorService ex = Executors.newFixedThreadPool(p);
    try {
      int warm = Math.max(50, iters / 2);
      run(rings, n, warm, ex); // JIT warm-up
      long cpu0 = os.getProcessCpuTime();
      long wall0 = System.nanoTime();
      double[] times = run(rings, n, iters, ex);
      double wall = (System.nanoTime() - wall0) / 1e9;
      double cpu = (os.getProcessCpuTime() - cpu0) / 1e9;
      double[] sorted = times.clone();
      Arrays.sort(sorted);
      System.out.printf(Locale.ROOT, "P=%d n=%d chunk=%d " + (shm ? "shm" : "tcp") + " iters=%d: median wall %.3f ms per "
          + "allreduce (min %.3f), CPU %.3f ms per allreduce (%.3f ns per vector byte), "
          + "CPU/wall %.2f%n", p, n, chunk, iters, sorted[iters / 2] * 1e3, sorted[0] * 1e3,
          cpu / iters * 1e3, cpu / iters / (4.0 * n) * 1e9, cpu / wall);
    } finally {
      ex.shutdownNow();
      for (Ring r : rings) {
        r.close();
      }
    }
  }

  /** The slowest peer's seconds per operation; peers start every operation together. */
  private static double[] run(Ring[] rings, int n, int iters, ExecutorService ex)
      throws Exception {
    int p = rings.length;
    double[][] t = new double[p][iters];
    CyclicBarrier start = new CyclicBarrier(p);
    List<Future<?>> fs = new ArrayList<>();
    for (int r = 0; r < p; r++) {
      final int rank = r;
      fs.add(ex.submit(() -> {
        float[] v = new float[n];
        double[] extras = new double[4];
        SplittableRandom rnd = new SplittableRandom(rank);
        for (int k = 0; k < n; k++) {
          v[k] = (float) rnd.nextDouble();
        }
        // The sums are reduced again every operation (they overflow to infinity after a while:
        // the same bytes to move, and no slower to add on x86): nothing else uses CPU here.
        for (int i = 0; i < iters; i++) {
          start.await(60, TimeUnit.SECONDS);
          long t0 = System.nanoTime();
          rings[rank].allreduce(v, extras);
          t[rank][i] = (System.nanoTime() - t0) / 1e9;
        }
        return null;
      }));
    }
    for (Future<?> f : fs) {
      f.get(600, TimeUnit.SECONDS);
    }
    double[] worst = new double[iters];
    for (int i = 0; i < iters; i++) {
      for (int r = 0; r < p; r++) {
        worst[i] = Math.max(worst[i], t[r][i]);
      }
    }
    return worst;
  }

  /** {@code shm} or {@code tcp}: whether the peers' links may use shared memory. */
  static boolean transport(String t) {
    return switch (t) {
      case "shm" -> true;
      case "tcp" -> false;
      default -> throw new IllegalArgumentException("--transport: shm or tcp, got '" + t + "'");
    };
  }

  private static Ring[] form(int p, RingOptions o) throws Exception {
    byte[] secret = RingSecret.generate();
    List<RingListener> ls = new ArrayList<>();
    List<InetSocketAddress> addrs = new ArrayList<>();
    for (int i = 0; i < p; i++) {
      RingListener l = RingListener.bind(InetAddress.getLoopbackAddress(), o);
      ls.add(l);
      addrs.add(l.address());
    }
    ExecutorService ex = Executors.newFixedThreadPool(p);
    try {
      List<Future<Ring>> fs = new ArrayList<>();
      for (int i = 0; i < p; i++) {
        final int rank = i;
        fs.add(ex.submit(() -> ls.get(rank).join(addrs, rank, secret, 1)));
      }
      Ring[] rings = new Ring[p];
      for (int i = 0; i < p; i++) {
        rings[i] = fs.get(i).get(60, TimeUnit.SECONDS);
      }
      return rings;
    } finally {
      ex.shutdownNow();
    }
  }
}
