package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The channel transport's failure paths: a neighbour that closes mid-ring and one whose chunks
 * do not match what this peer expects both fail the operation at once (long before the io
 * timeout) with a message naming that neighbour, and close the ring; and the default options'
 * chunks carry a vector of many chunks plus doubles exactly, reusing their direct buffers.
 */
class RingTransportTest {
  /** Long timeouts: every failure below must come from the event itself, not from a timeout. */
  static final RingOptions O = new RingOptions(20_000, 20_000, 4096);

  @Test
  void aNeighbourThatClosesFailsTheNextOperationNamingIt() throws Exception {
    Ring[] rings = RingFixtures.ringOfThreads(3, RingSecret.generate(), 7, O);
    try {
      RingFixtures.allreduce(rings, new float[][] {new float[50], new float[50], new float[50]},
          new double[][] {{}, {}, {}});
      rings[2].close(); // rank 0 receives from rank 2
      long t0 = System.nanoTime();
      RingException e =
          assertThrows(RingException.class, () -> rings[0].allreduce(new float[30_000]));
      double secs = (System.nanoTime() - t0) / 1e9;
      assertTrue(e.getMessage().contains("ring rank 0: rank 2 (")
          && e.getMessage().contains("closed the connection"), e.getMessage());
      assertTrue(secs < 10, "failed after " + secs + " s, expected at once");
      RingException again =
          assertThrows(RingException.class, () -> rings[0].allreduce(new float[1]));
      assertTrue(again.getMessage().contains("the ring is closed"), again.getMessage());
    } finally {
      RingFixtures.closeAll(rings);
    }
  }

  @Test
  void aChunkThatDoesNotMatchTheExpectedHeaderFailsNamingTheSender() throws Exception {
    Ring[] rings = RingFixtures.ringOfThreads(2, RingSecret.generate(), 8, O);
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try {
      // Rank 1 reduces 1,001 floats, rank 0 1,000: rank 0 expects 500 floats of segment 1 and
      // receives 501 (the payload length in the header differs), and the other way round.
      Future<?> f0 = ex.submit(() -> {
        rings[0].allreduce(new float[1000]);
        return null;
      });
      Future<?> f1 = ex.submit(() -> {
        rings[1].allreduce(new float[1001]);
        return null;
      });
      ExecutionException e0 =
          assertThrows(ExecutionException.class, () -> f0.get(10, TimeUnit.SECONDS));
      ExecutionException e1 =
          assertThrows(ExecutionException.class, () -> f1.get(10, TimeUnit.SECONDS));
      String m0 = e0.getCause().getMessage();
      assertTrue(e0.getCause() instanceof RingException
          && m0.contains("ring rank 0: rank 1 (") && m0.contains("chunk 0 of 2004 bytes, expected")
          && m0.contains("of 2000 bytes"), m0);
      String m1 = e1.getCause().getMessage();
      assertTrue(e1.getCause() instanceof RingException && m1.contains("ring rank 1: rank 0 ("),
          m1);
      assertThrows(RingException.class, () -> rings[0].allreduce(new float[1000]));
    } finally {
      ex.shutdownNow();
      RingFixtures.closeAll(rings);
    }
  }

  @Test
  void defaultChunksCarryAVectorOfManyChunksAndItsDoublesExactly() throws Exception {
    int p = 3;
    int n = 421_834; // the default model's gradient: several default chunks per segment
    Ring[] rings = RingFixtures.ringOfThreads(p, RingSecret.generate(), 9, RingOptions.DEFAULTS);
    try {
      for (int round = 0; round < 8; round++) {
        float[][] f = new float[p][];
        double[][] d = new double[p][];
        for (int r = 0; r < p; r++) {
          f[r] = RingFixtures.floats(r + round, p, n, false);
          d[r] = RingFixtures.doubles(r + round, p, 5);
        }
        float[] ref = RingFixtures.ringOrderSum(f, 5);
        double[] dRef = RingFixtures.ringOrderSum(d, n);
        RingFixtures.allreduce(rings, f, d);
        for (int r = 0; r < p; r++) {
          assertArrayEquals(ref, f[r], 0f, "round " + round + ", rank " + r);
          assertArrayEquals(dRef, d[r], 0.0, "round " + round + ", rank " + r);
        }
      }
      // Send buffers are pooled: over 8 operations each peer allocates at most the chunks it
      // sends in one (2 (P - 1) steps of at most ceil(segment / chunk) chunks).
      int chunkElems = RingOptions.DEFAULTS.chunkBytes() / 4;
      long segment = (n + 5 + p - 1) / p;
      long perOperation = 2L * (p - 1) * ((segment + chunkElems - 1) / chunkElems);
      for (Ring ring : rings) {
        assertTrue(ring.sendBuffersAllocated() <= perOperation, ring.sendBuffersAllocated()
            + " send buffers allocated over 8 operations, more than the " + perOperation
            + " chunks sent in one");
      }
    } finally {
      RingFixtures.closeAll(rings);
    }
  }
}
