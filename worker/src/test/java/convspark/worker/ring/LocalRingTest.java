package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The in-JVM ring: the same bits as the TCP ring for P = 1..8 and every edge length, and its
 * faults (a stalled rank times out naming it, a rank that leaves fails the others at once, two
 * jobs with the same ring id never meet, mismatched lengths are named), also with ranks that spin
 * while they wait.
 */
class LocalRingTest {
  private static LocalRing[] join(byte[] secret, long ringId, int p, int timeoutMillis)
      throws RingException {
    LocalRing[] rings = new LocalRing[p];
    for (int r = 0; r < p; r++) {
      rings[r] = LocalRing.join(secret, ringId, r, p, timeoutMillis);
    }
    return rings;
  }

  /** Rank 1 of {@code two} leaves while rank 0 waits: rank 0 fails within seconds, naming it. */
  private static void leavingPeerEndsTheWait(ExecutorService ex, LocalRing[] two)
      throws Exception {
    long t0 = System.nanoTime();
    Future<?> w = ex.submit(() -> {
      two[0].allreduce(new float[10], new double[0]);
      return null;
    });
    Thread.sleep(200);
    two[1].close();
    ExecutionException e = assertThrows(ExecutionException.class,
        () -> w.get(20, TimeUnit.SECONDS));
    assertTrue(e.getCause().getMessage().contains("rank 1 left the ring"),
        e.getCause().getMessage());
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
  }

  @Test
  void sameBitsAsTheTcpRingForOneToEightPeers() throws Exception {
    byte[] secret = RingSecret.generate();
    for (int p = 1; p <= 8; p++) {
      LocalRing[] local = join(secret, 100 + p, p, 30_000);
      Ring[] tcp = RingFixtures.ringOfThreads(p, secret, p, RingAllreduceTest.SMALL_CHUNKS);
      try {
        for (int n : RingAllreduceTest.lengths(p)) {
          for (int nd : new int[] {0, 3}) {
            float[][] f = new float[p][];
            double[][] d = new double[p][];
            for (int r = 0; r < p; r++) {
              f[r] = RingFixtures.floats(r, p, n, false);
              d[r] = RingFixtures.doubles(r, p, nd);
            }
            float[] ref = RingFixtures.ringOrderSum(f, nd);
            double[] dRef = RingFixtures.ringOrderSum(d, n);
            float[][] f2 = Arrays.stream(f).map(float[]::clone).toArray(float[][]::new);
            double[][] d2 = Arrays.stream(d).map(double[]::clone).toArray(double[][]::new);
            RingFixtures.allreduce(local, f, d);
            RingFixtures.allreduce(tcp, f2, d2);
            String what = "P=" + p + " n=" + n + " doubles=" + nd;
            for (int r = 0; r < p; r++) {
              for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(f[r][i]),
                    what + " rank " + r + " element " + i);
                assertEquals(Float.floatToRawIntBits(f2[r][i]), Float.floatToRawIntBits(f[r][i]),
                    what + " rank " + r + " element " + i + " (TCP ring)");
              }
              assertArrayEquals(dRef, d[r], 0.0, what);
              assertArrayEquals(d2[r], d[r], 0.0, what + " (TCP ring)");
            }
          }
        }
        assertEquals(RingAllreduceTest.lengths(p).length * 2L, local[0].stats().operations);
      } finally {
        RingFixtures.closeAll(local);
        RingFixtures.closeAll(tcp);
      }
    }
  }

  @Test
  void aStalledRankTimesOutNamingItAndALeavingRankFailsTheOthersAtOnce() throws Exception {
    byte[] secret = RingSecret.generate();
    ExecutorService ex = Executors.newFixedThreadPool(3);
    try {
      // rank 2 never calls: ranks 0 and 1 fail after the timeout, naming rank 2
      LocalRing[] rings = join(secret, 1, 3, 500);
      Future<?> a = ex.submit(() -> {
        rings[0].allreduce(new float[10], new double[0]);
        return null;
      });
      Future<?> b = ex.submit(() -> {
        rings[1].allreduce(new float[10], new double[0]);
        return null;
      });
      for (Future<?> f : new Future<?>[] {a, b}) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> f.get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof RingException, String.valueOf(e.getCause()));
        assertTrue(e.getCause().getMessage().contains("rank(s) [2]"), e.getCause().getMessage());
        assertTrue(e.getCause().getMessage().contains("within 500 ms"), e.getCause().getMessage());
      }
      RingFixtures.closeAll(rings);

      // rank 1 leaves while rank 0 waits with a long timeout: rank 0 fails within seconds
      LocalRing[] two = join(secret, 2, 2, 600_000);
      leavingPeerEndsTheWait(ex, two);
      // and a rank arriving after a peer left fails at once too
      assertThrows(RingException.class, () -> two[0].allreduce(new float[1], new double[0]));
      RingFixtures.closeAll(two);
    } finally {
      ex.shutdownNow();
    }
  }

  @Test
  void spinningRanksSumTheSameBitsAndStillFailOnATimeoutOrALeavingPeer() throws Exception {
    byte[] secret = RingSecret.generate();
    ExecutorService ex = Executors.newFixedThreadPool(3);
    try {
      // ranks arrive up to 3 ms apart, so that some spin past the arrival and some sleep
      for (int p = 2; p <= 3; p++) {
        LocalRing[] rings = new LocalRing[p];
        for (int r = 0; r < p; r++) {
          rings[r] = LocalRing.join(secret, 300 + p, r, p, 30_000, 1_000_000);
        }
        float[][] f = new float[p][];
        for (int op = 0; op < 40; op++) {
          for (int r = 0; r < p; r++) {
            f[r] = RingFixtures.floats(r + op, p, 1001, false);
          }
          float[] ref = RingFixtures.ringOrderSum(f, 0);
          Future<?>[] fs = new Future<?>[p];
          for (int r = 0; r < p; r++) {
            final int rank = r;
            final long delayMicros = (op * 7L + r * 1300L) % 3000;
            fs[r] = ex.submit(() -> {
              TimeUnit.MICROSECONDS.sleep(delayMicros);
              rings[rank].allreduce(f[rank], new double[0]);
              return null;
            });
          }
          for (Future<?> x : fs) {
            x.get(20, TimeUnit.SECONDS);
          }
          for (int r = 0; r < p; r++) {
            for (int i = 0; i < ref.length; i++) {
              assertEquals(Float.floatToRawIntBits(ref[i]), Float.floatToRawIntBits(f[r][i]),
                  "P=" + p + " operation " + op + " rank " + r + " element " + i);
            }
          }
        }
        RingFixtures.closeAll(rings);
      }

      // a spin longer than the timeout: the timeout still holds, and names the missing rank
      LocalRing[] late = new LocalRing[2];
      for (int r = 0; r < 2; r++) {
        late[r] = LocalRing.join(secret, 310, r, 2, 300, 60_000_000_000L);
      }
      long t0 = System.nanoTime();
      RingException timedOut = assertThrows(RingException.class,
          () -> late[0].allreduce(new float[4], new double[0]));
      assertTrue(timedOut.getMessage().contains("rank(s) [1]"), timedOut.getMessage());
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10),
          "the 60 s spin outlasted the 300 ms timeout");
      RingFixtures.closeAll(late);

      // a peer that leaves ends a spinning rank's wait at once, not when its spin is over
      LocalRing[] two = new LocalRing[2];
      for (int r = 0; r < 2; r++) {
        two[r] = LocalRing.join(secret, 311, r, 2, 600_000, 60_000_000_000L);
      }
      leavingPeerEndsTheWait(ex, two);
      RingFixtures.closeAll(two);
    } finally {
      ex.shutdownNow();
    }
  }

  @Test
  void jobsWithTheSameRingIdNeverMeetAndMismatchedLengthsAreNamed() throws Exception {
    LocalRing[] a = join(RingSecret.generate(), 5, 2, 30_000);
    LocalRing[] b = join(RingSecret.generate(), 5, 2, 30_000);
    float[][] fa = {{1, 2}, {10, 20}};
    float[][] fb = {{100, 200}, {1000, 2000}};
    ExecutorService ex = Executors.newFixedThreadPool(4);
    try {
      Future<?>[] fs = new Future<?>[4];
      for (int r = 0; r < 2; r++) {
        final int rank = r;
        fs[r] = ex.submit(() -> {
          a[rank].allreduce(fa[rank], new double[0]);
          return null;
        });
        fs[2 + r] = ex.submit(() -> {
          b[rank].allreduce(fb[rank], new double[0]);
          return null;
        });
      }
      for (Future<?> f : fs) {
        f.get(20, TimeUnit.SECONDS);
      }
      assertArrayEquals(new float[] {11, 22}, fa[0]);
      assertArrayEquals(new float[] {1100, 2200}, fb[1]);

      Future<?> x = ex.submit(() -> {
        a[0].allreduce(new float[3], new double[0]);
        return null;
      });
      Future<?> y = ex.submit(() -> {
        a[1].allreduce(new float[4], new double[0]);
        return null;
      });
      for (Future<?> f : new Future<?>[] {x, y}) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> f.get(20, TimeUnit.SECONDS));
        assertTrue(e.getCause().getMessage().contains("same length"), e.getCause().getMessage());
      }
      byte[] secret = RingSecret.generate();
      LocalRing first = LocalRing.join(secret, 9, 0, 2, 1_000);
      RingException taken = assertThrows(RingException.class,
          () -> LocalRing.join(secret, 9, 0, 2, 1_000));
      assertTrue(taken.getMessage().contains("taken"), taken.getMessage());
      RingException size = assertThrows(RingException.class,
          () -> LocalRing.join(secret, 9, 1, 3, 1_000));
      assertTrue(size.getMessage().contains("has 2 ranks"), size.getMessage());
      first.close();
    } finally {
      ex.shutdownNow();
      RingFixtures.closeAll(a);
      RingFixtures.closeAll(b);
    }
  }
}
