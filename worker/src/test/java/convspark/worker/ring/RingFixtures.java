package convspark.worker.ring;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/** Inputs, the reference sum in the ring's fixed order, and rings of threads, for the tests. */
final class RingFixtures {
  private RingFixtures() {}

  static InetAddress loopback() {
    return InetAddress.getLoopbackAddress();
  }

  /** Peer {@code rank}'s floats: random, or small integers (exact sums) when {@code exact}. */
  static float[] floats(int rank, int p, int n, boolean exact) {
    SplittableRandom r = new SplittableRandom(1000L * p + rank);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = exact ? r.nextInt(-1000, 1000) : (float) (r.nextGaussian() * Math.exp(r.nextInt(-8, 8)));
    }
    return f;
  }

  static double[] doubles(int rank, int p, int n) {
    SplittableRandom r = new SplittableRandom(7777L * p + rank);
    double[] d = new double[n];
    for (int i = 0; i < n; i++) {
      d[i] = r.nextDouble() * 1e6;
    }
    return d;
  }

  /** Segment of logical element {@code i} among {@code total} cut into {@code p} segments. */
  static int segmentOf(long i, long total, int p) {
    for (int s = 0; s < p; s++) {
      if (i < total * (s + 1) / p) {
        return s;
      }
    }
    throw new IllegalArgumentException("element " + i + " beyond " + total);
  }

  /** The ring's documented order: element of segment s summed as x_s + x_(s+1) + ... */
  static float[] ringOrderSum(float[][] x, int dLength) {
    int p = x.length;
    int n = x[0].length;
    long total = (long) n + dLength;
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      int s = segmentOf(i, total, p);
      float acc = x[s][i];
      for (int j = 1; j < p; j++) {
        acc += x[(s + j) % p][i];
      }
      out[i] = acc;
    }
    return out;
  }

  static double[] ringOrderSum(double[][] x, int fLength) {
    int p = x.length;
    int n = x[0].length;
    long total = (long) fLength + n;
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      int s = segmentOf(fLength + (long) i, total, p);
      double acc = x[s][i];
      for (int j = 1; j < p; j++) {
        acc += x[(s + j) % p][i];
      }
      out[i] = acc;
    }
    return out;
  }

  /** Bits of the floats and doubles, hashed: what child processes report. */
  static long hash(float[] f, double[] d) {
    long h = 1125899906842597L;
    for (float v : f) {
      h = 31 * h + Float.floatToRawIntBits(v);
    }
    for (double v : d) {
      h = 31 * h + Double.doubleToRawLongBits(v);
    }
    return h;
  }

  /** Forms a ring of {@code p} peers in threads of this JVM on loopback. */
  static Ring[] ringOfThreads(int p, byte[] secret, long ringId, RingOptions o) throws Exception {
    List<RingListener> ls = new ArrayList<>();
    List<InetSocketAddress> addrs = new ArrayList<>();
    for (int i = 0; i < p; i++) {
      RingListener l = RingListener.bind(loopback(), o);
      ls.add(l);
      addrs.add(l.address());
    }
    ExecutorService ex = Executors.newFixedThreadPool(p);
    try {
      List<Future<Ring>> fs = new ArrayList<>();
      for (int i = 0; i < p; i++) {
        final int rank = i;
        fs.add(ex.submit(() -> ls.get(rank).join(addrs, rank, secret, ringId)));
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

  /** Every peer reduces its own arrays at once; waits at most a minute. */
  static void allreduce(Allreduce[] rings, float[][] f, double[][] d) throws Exception {
    ExecutorService ex = Executors.newFixedThreadPool(rings.length);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < rings.length; i++) {
        final int r = i;
        fs.add(ex.submit(() -> {
          rings[r].allreduce(f[r], d[r]);
          return null;
        }));
      }
      for (Future<?> fu : fs) {
        fu.get(60, TimeUnit.SECONDS);
      }
    } finally {
      ex.shutdownNow();
    }
  }

  static void closeAll(Allreduce[] rings) {
    if (rings != null) {
      for (Allreduce r : rings) {
        r.close();
      }
    }
  }
}
