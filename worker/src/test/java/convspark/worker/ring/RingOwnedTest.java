package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link Allreduce#allreduce(float[], double[], Allreduce.Owned)}, on which the sharded update
 * rests, in all three transports (in-JVM, TCP, shared memory) for P = 1..5 and every edge length:
 * the owners' pieces are disjoint and cover the float vector, each piece holds the full sums when
 * its owner sees it, and every peer ends with what the owners wrote (the doubles with the sums).
 */
class RingOwnedTest {
  /** The owners' map: depends on the element's value and index only. */
  private static float map(float x, int i) {
    return x * 0.5f + i;
  }

  @Test
  void everyPeerEndsWithWhatTheOwnersWroteInEveryTransport() throws Exception {
    byte[] secret = RingSecret.generate();
    boolean shm = Files.isDirectory(SharedMemoryLink.DIR) && Files.isWritable(SharedMemoryLink.DIR);
    for (int p = 1; p <= 5; p++) {
      List<Allreduce[]> transports = new ArrayList<>();
      List<String> names = new ArrayList<>();
      try {
        LocalRing[] local = new LocalRing[p];
        for (int r = 0; r < p; r++) {
          local[r] = LocalRing.join(secret, 300 + p, r, p, 30_000);
        }
        transports.add(local);
        names.add("in-JVM");
        transports.add(RingFixtures.ringOfThreads(p, secret, 310 + p,
            RingAllreduceTest.SMALL_CHUNKS));
        names.add("TCP");
        if (shm) {
          transports.add(RingFixtures.ringOfThreads(p, secret, 320 + p,
              RingSharedMemoryTest.SHM));
          names.add("shared memory");
        }
        for (int t = 0; t < transports.size(); t++) {
          for (int n : RingAllreduceTest.lengths(p)) {
            for (int nd : new int[] {0, 3}) {
              check(transports.get(t), p, n, nd, "P=" + p + " n=" + n + " doubles=" + nd + " "
                  + names.get(t));
            }
          }
        }
        if (shm && p == 2) {
          // larger than the shared ring: the chunks stream through the sender thread
          check(transports.get(2), p, 2_500_000, 3, "P=2 n=2500000 shared memory, streamed");
        }
      } finally {
        for (Allreduce[] rings : transports) {
          RingFixtures.closeAll(rings);
        }
      }
    }
  }

  private static void check(Allreduce[] rings, int p, int n, int nd, String what)
      throws Exception {
    float[][] f = new float[p][];
    double[][] d = new double[p][];
    for (int r = 0; r < p; r++) {
      f[r] = RingFixtures.floats(r, p, n, false);
      d[r] = RingFixtures.doubles(r, p, nd);
    }
    float[] sums = RingFixtures.ringOrderSum(f, nd);
    double[] dSums = RingFixtures.ringOrderSum(d, n);
    List<int[]> pieces = Collections.synchronizedList(new ArrayList<>());
    List<String> wrong = Collections.synchronizedList(new ArrayList<>());
    ExecutorService ex = Executors.newFixedThreadPool(p);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < p; i++) {
        final int r = i;
        fs.add(ex.submit(() -> {
          rings[r].allreduce(f[r], d[r], (x, from, to) -> {
            pieces.add(new int[] {r, from, to});
            for (int k = from; k < to; k++) {
              if (Float.floatToRawIntBits(x[k]) != Float.floatToRawIntBits(sums[k])) {
                wrong.add("rank " + r + " saw element " + k + " = " + x[k] + ", not the sum "
                    + sums[k]);
              }
              x[k] = map(x[k], k);
            }
          });
          return null;
        }));
      }
      for (Future<?> fu : fs) {
        fu.get(60, TimeUnit.SECONDS);
      }
    } finally {
      ex.shutdownNow();
    }
    assertTrue(wrong.isEmpty(), what + ": " + wrong.subList(0, Math.min(3, wrong.size())));
    int[] owner = new int[n];
    java.util.Arrays.fill(owner, -1);
    for (int[] piece : pieces) {
      assertTrue(piece[1] < piece[2], what + ": an empty piece");
      for (int k = piece[1]; k < piece[2]; k++) {
        assertEquals(-1, owner[k], what + ": element " + k + " owned twice");
        owner[k] = piece[0];
      }
    }
    for (int k = 0; k < n; k++) {
      assertTrue(owner[k] >= 0, what + ": element " + k + " owned by nobody");
    }
    for (int r = 0; r < p; r++) {
      for (int k = 0; k < n; k++) {
        assertEquals(Float.floatToRawIntBits(map(sums[k], k)), Float.floatToRawIntBits(f[r][k]),
            what + ": rank " + r + " element " + k);
      }
      assertArrayEquals(dSums, d[r], 0.0, what + ": rank " + r + " doubles");
    }
  }
}
