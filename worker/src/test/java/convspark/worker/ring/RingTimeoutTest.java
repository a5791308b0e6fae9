package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A peer that stops answering fails the operation after the timeout, naming it; nothing hangs. */
class RingTimeoutTest {
  @Test
  void aStalledPeerFailsTheAllreduceAfterTheTimeout() throws Exception {
    stalledPeer(false);
  }

  /** The same through shared memory, whose waits end the same way; the links are unmapped. */
  @Test
  void aStalledPeerFailsTheAllreduceAfterTheTimeoutThroughSharedMemory() throws Exception {
    RingSharedMemoryTest.needsDevShm();
    stalledPeer(true);
    assertEquals(List.of(), RingSharedMemoryTest.mapped(),
        "failed and closed rings still map their shared memory");
  }

  private static void stalledPeer(boolean sharedMemory) throws Exception {
    RingOptions o = new RingOptions(20_000, 1_000, 4096, sharedMemory);
    Ring[] rings = RingFixtures.ringOfThreads(3, RingSecret.generate(), 1, o);
    assertEquals(sharedMemory, rings[0].sharedMemory()[1], "rank 0 receives through shared memory");
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try {
      // One healthy operation first, then rank 2 stalls (never calls allreduce again).
      RingFixtures.allreduce(rings, new float[][] {new float[999], new float[999], new float[999]},
          new double[][] {{}, {}, {}});
      long t0 = System.nanoTime();
      Future<?> f0 = ex.submit(() -> {
        rings[0].allreduce(new float[100_000]);
        return null;
      });
      Future<?> f1 = ex.submit(() -> {
        rings[1].allreduce(new float[100_000]);
        return null;
      });
      ExecutionException e0 = assertThrows(ExecutionException.class, () -> f0.get(30, TimeUnit.SECONDS));
      ExecutionException e1 = assertThrows(ExecutionException.class, () -> f1.get(30, TimeUnit.SECONDS));
      double secs = (System.nanoTime() - t0) / 1e9;
      assertTrue(e0.getCause() instanceof RingException, String.valueOf(e0.getCause()));
      String m0 = e0.getCause().getMessage();
      assertTrue(m0.contains("ring rank 0") && m0.contains("rank 2 (") && m0.contains("1000 ms"), m0);
      assertTrue(m0.startsWith("ring rank 0: rank 2 (") && m0.contains("sent nothing for 1000 ms"),
          m0);
      assertTrue(m0.endsWith("step 1 of 4): it stalled or died"), m0);
      assertTrue(e1.getCause() instanceof RingException, String.valueOf(e1.getCause()));
      // rank 1 hears nothing from healthy rank 0 either, once rank 0 waits for rank 2; then
      // rank 0 fails and closes: rank 1's message, whichever comes first, must not say that
      // rank 0 stalled or died
      String m1 = e1.getCause().getMessage();
      assertTrue(m1.startsWith("ring rank 1: rank 0 (") && (m1.endsWith("it, or a rank before it "
          + "whose data it forwards, stalled or died") || m1.contains("closed the connection")),
          m1);
      assertTrue(secs >= 0.9 && secs < 15, "failed after " + secs + " s");
      // The failed rings are closed for good.
      assertThrows(RingException.class, () -> rings[0].allreduce(new float[1]));
    } finally {
      ex.shutdownNow();
      RingFixtures.closeAll(rings);
    }
  }

  /**
   * Rank 2 of three never starts the operation: rank 0 hears nothing from it, and rank 1, from
   * the second step on, nothing from healthy rank 0, which waits for rank 2. Rank 1's message
   * (either side may reach the driver first) names rank 0 as the one it heard nothing from, but
   * not as stalled or dead: it used to say "it stalled or died" of rank 0.
   */
  @Test
  void aRankWaitingForAStalledRankIsNotNamedAsStalled() throws Exception {
    RingOptions o = new RingOptions(20_000, 1_000, 4096, false);
    Ring[] rings = RingFixtures.ringOfThreads(3, RingSecret.generate(), 1, o);
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try {
      Future<?> f0 = ex.submit(() -> {
        rings[0].allreduce(new float[3000]);
        return null;
      });
      Future<?> f1 = ex.submit(() -> {
        rings[1].allreduce(new float[3000]);
        return null;
      });
      String m0 = assertThrows(ExecutionException.class, () -> f0.get(30, TimeUnit.SECONDS))
          .getCause().getMessage();
      assertTrue(m0.startsWith("ring rank 0: rank 2 (") && m0.endsWith("): it stalled or died"),
          m0);
      String m1 = assertThrows(ExecutionException.class, () -> f1.get(30, TimeUnit.SECONDS))
          .getCause().getMessage();
      assertTrue(m1.startsWith("ring rank 1: rank 0 (") && (m1.endsWith("step 2 of 4): it, or a "
          + "rank before it whose data it forwards, stalled or died")
          || m1.contains("closed the connection")), m1);
    } finally {
      ex.shutdownNow();
      RingFixtures.closeAll(rings);
    }
  }

  /**
   * A neighbour whose listener is gone (its task failed, its executor died) refuses the
   * connection: the join fails at once, naming it, rather than retrying until the connect
   * timeout while the round's rerun waits.
   */
  @Test
  void aNeighbourThatListensNoMoreFailsTheJoinAtOnce() throws Exception {
    RingOptions o = new RingOptions(30_000, 30_000, 4096);
    try (RingListener l0 = RingListener.bind(RingFixtures.loopback(), o)) {
      RingListener l1 = RingListener.bind(RingFixtures.loopback(), o);
      List<java.net.InetSocketAddress> peers = List.of(l0.address(), l1.address());
      l1.close();
      long t0 = System.nanoTime();
      RingException e = assertThrows(RingException.class,
          () -> l0.join(peers, 0, RingSecret.generate(), 1));
      double secs = (System.nanoTime() - t0) / 1e9;
      assertEquals("ring rank 0: cannot connect to rank 1 (" + peers.get(1) + "): Connection "
          + "refused (it listens no more: its task failed or ended, or its process died)",
          e.getMessage());
      assertTrue(secs < 10, "failed after " + secs + " s, the connect timeout is 30 s");
    }
  }

  @Test
  void aPeerThatNeverJoinsFailsTheJoinAfterTheConnectTimeout() throws Exception {
    RingOptions o = new RingOptions(1_500, 1_000, 4096);
    try (RingListener l0 = RingListener.bind(RingFixtures.loopback(), o);
        RingListener l1 = RingListener.bind(RingFixtures.loopback(), o)) {
      long t0 = System.nanoTime();
      RingException e = assertThrows(RingException.class,
          () -> l0.join(List.of(l0.address(), l1.address()), 0, RingSecret.generate(), 1));
      double secs = (System.nanoTime() - t0) / 1e9;
      assertTrue(e.getMessage().contains("rank 1 (") && e.getMessage().contains("1500 ms"),
          e.getMessage());
      assertTrue(secs >= 1.4 && secs < 15, "failed after " + secs + " s");
    }
  }
}
