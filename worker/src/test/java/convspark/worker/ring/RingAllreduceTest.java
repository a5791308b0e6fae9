package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The ring allreduce with peers in threads of this JVM, on loopback. */
class RingAllreduceTest {
  static final RingOptions SMALL_CHUNKS = new RingOptions(30_000, 30_000, 256);

  /** Lengths that hit every edge: empty, shorter than P, P +- 1, odd, many chunks per segment. */
  static int[] lengths(int p) {
    return new int[] {0, 1, Math.max(1, p - 1), p, p + 1, 7, 1001, 20_011};
  }

  @Test
  void equalsThePlainSumAndTheFixedOrderSumForOneToEightPeers() throws Exception {
    byte[] secret = RingSecret.generate();
    for (int p = 1; p <= 8; p++) {
      Ring[] rings = RingFixtures.ringOfThreads(p, secret, p, SMALL_CHUNKS);
      try {
        for (int n : lengths(p)) {
          for (int nd : new int[] {0, 3}) {
            checkOne(rings, p, n, nd, false);
            checkOne(rings, p, n, nd, true);
          }
        }
        assertEquals(lengths(p).length * 4L, rings[0].stats().operations);
      } finally {
        RingFixtures.closeAll(rings);
      }
    }
  }

  private static void checkOne(Ring[] rings, int p, int n, int nd, boolean exact) throws Exception {
    float[][] f = new float[p][];
    double[][] d = new double[p][];
    for (int r = 0; r < p; r++) {
      f[r] = RingFixtures.floats(r, p, n, exact);
      d[r] = RingFixtures.doubles(r, p, nd);
    }
    float[][] fIn = Arrays.stream(f).map(float[]::clone).toArray(float[][]::new);
    double[][] dIn = Arrays.stream(d).map(double[]::clone).toArray(double[][]::new);
    float[] ref = RingFixtures.ringOrderSum(fIn, nd);
    double[] dRef = RingFixtures.ringOrderSum(dIn, n);
    RingFixtures.allreduce(rings, f, d);
    String what = "P=" + p + " n=" + n + " doubles=" + nd + (exact ? " (integers)" : "");
    for (int r = 0; r < p; r++) {
      // Bit-identical on every peer, in the documented order.
      assertArrayEquals(ref, f[r], 0f, what + ", rank " + r);
      assertArrayEquals(dRef, d[r], 0.0, what + ", rank " + r);
      for (int i = 0; i < n; i++) {
        assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(f[r][i]), what);
      }
    }
    // Against a plain sum in rank order: exact for integers, within float rounding otherwise.
    for (int i = 0; i < n; i++) {
      double plain = 0;
      for (int r = 0; r < p; r++) {
        plain += fIn[r][i];
      }
      double scale = 0;
      for (int r = 0; r < p; r++) {
        scale += Math.abs(fIn[r][i]);
      }
      if (exact) {
        assertEquals((float) plain, f[0][i], 0f, what + " element " + i);
      } else {
        assertEquals(plain, f[0][i], scale * p * 1.2e-7 + 1e-30, what + " element " + i);
      }
    }
    for (int i = 0; i < nd; i++) {
      double plain = 0;
      for (int r = 0; r < p; r++) {
        plain += dIn[r][i];
      }
      assertEquals(plain, d[0][i], Math.abs(plain) * 1e-14, what + " double " + i);
    }
  }

  @Test
  void twoRunsAreBitIdentical() throws Exception {
    byte[] secret = RingSecret.generate();
    int p = 5;
    long[] hashes = new long[2];
    for (int run = 0; run < 2; run++) {
      Ring[] rings = RingFixtures.ringOfThreads(p, secret, 100 + run,
          RingOptions.DEFAULTS.withChunkBytes(4096));
      try {
        float[][] f = new float[p][];
        double[][] d = new double[p][];
        for (int r = 0; r < p; r++) {
          f[r] = RingFixtures.floats(r, p, 421_834, false);
          d[r] = RingFixtures.doubles(r, p, 3);
        }
        RingFixtures.allreduce(rings, f, d);
        for (int r = 1; r < p; r++) {
          assertEquals(RingFixtures.hash(f[0], d[0]), RingFixtures.hash(f[r], d[r]));
        }
        hashes[run] = RingFixtures.hash(f[0], d[0]);
        // Each peer sends 2 (P-1)/P of the vector's bytes, plus one 16-byte header per chunk.
        long payload = 2L * (p - 1) * (4L * 421_834 + 8 * 3) / p;
        long sent = rings[0].stats().bytesSent;
        assertTrue(sent >= payload - 64 && sent <= payload * 1.01 + 64,
            "sent " + sent + " bytes, expected about " + payload);
      } finally {
        RingFixtures.closeAll(rings);
      }
    }
    assertEquals(hashes[0], hashes[1]);
  }

  @Test
  void refusesTheWildcardAddress() throws Exception {
    InetAddress any = InetAddress.getByName("0.0.0.0");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RingListener.bind(any, RingOptions.DEFAULTS));
    assertEquals(true, e.getMessage().contains("own host address"), e.getMessage());
  }

  @Test
  void aClosedRingRefusesWork() throws Exception {
    Ring[] rings = RingFixtures.ringOfThreads(2, RingSecret.generate(), 1, SMALL_CHUNKS);
    RingFixtures.closeAll(rings);
    RingException e = assertThrows(RingException.class, () -> rings[0].allreduce(new float[3]));
    assertEquals(true, e.getMessage().contains("closed"), e.getMessage());
  }
}
