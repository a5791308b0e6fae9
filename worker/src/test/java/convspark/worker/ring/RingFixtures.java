package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Arrays;
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

  /**
   * Reduces the same inputs of {@code n} floats and 3 doubles per rank on rings {@code x} and
   * {@code y} of {@code p} peers and asserts the same bits on every rank, and, with {@code
   * checkRef}, the ring-order reference sum.
   */
  static void sameSums(Ring[] x, Ring[] y, int p, int n, boolean checkRef, String differ)
      throws Exception {
    float[][] a = new float[p][];
    double[][] da = new double[p][];
    for (int r = 0; r < p; r++) {
      a[r] = floats(r, p, n, false);
      da[r] = doubles(r, p, 3);
    }
    float[][] b = Arrays.stream(a).map(float[]::clone).toArray(float[][]::new);
    double[][] db = Arrays.stream(da).map(double[]::clone).toArray(double[][]::new);
    float[] ref = checkRef ? ringOrderSum(a, 3) : null;
    allreduce(x, a, da);
    allreduce(y, b, db);
    for (int r = 0; r < p; r++) {
      String what = "P=" + p + " n=" + n + " rank " + r;
      assertTrue(Arrays.equals(b[r], a[r]), what + ": " + differ);
      assertArrayEquals(db[r], da[r], 0.0, what);
      if (ref != null) {
        assertArrayEquals(ref, a[r], 0f, what);
      }
    }
  }

  /**
   * Relays one connection accepted by {@code server} to {@code to}, recording what the client
   * sends into {@code rec} (if not null) and, if {@code flipAt >= 0}, flipping that byte of it.
   */
  static void relay(ServerSocket server, InetSocketAddress to, ByteArrayOutputStream rec,
      long flipAt) {
    try (Socket c = server.accept(); Socket s = new Socket()) {
      s.connect(to, 5000);
      Thread back = new Thread(() -> pump(s, c, null, -1));
      back.setDaemon(true);
      back.start();
      pump(c, s, rec, flipAt);
      back.join(10_000);
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException("relay failed", e);
    }
  }

  private static void pump(Socket from, Socket to, ByteArrayOutputStream rec, long flipAt) {
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      byte[] b = new byte[8192];
      long at = 0;
      for (int n; (n = in.read(b)) > 0; at += n) {
        if (flipAt >= at && flipAt < at + n) {
          b[(int) (flipAt - at)] ^= 1;
        }
        if (rec != null) {
          synchronized (rec) {
            rec.write(b, 0, n);
          }
        }
        out.write(b, 0, n);
      }
      to.shutdownOutput();
    } catch (IOException ignored) {
      // one side closed
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
