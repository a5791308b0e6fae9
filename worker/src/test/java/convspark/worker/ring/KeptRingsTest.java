package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class KeptRingsTest {
  private static final RingOptions TCP = RingOptions.DEFAULTS.withTimeouts(20_000, 20_000)
      .withSharedMemory(false);

  @Test
  void keptLinksAreTakenOnceByTheirJobRankAndSizeAndStillSum() throws Exception {
    byte[] secret = RingSecret.generate();
    Ring[] ring = RingFixtures.ringOfThreads(2, secret, 3, TCP);
    KeptRings pool = new KeptRings(TimeUnit.MINUTES.toMillis(10));
    try {
      // a round's sums, then both ends kept as a task does at the end of a round
      RingFixtures.sameSums(ring, ring, 2, 1001, true, "before keeping");
      pool.keep(7, 3, ring[0]);
      pool.keep(7, 3, ring[1]);
      assertEquals(2, pool.size());
      assertNull(pool.take(8, 0, 2).links(), "another job");
      assertNull(pool.take(7, 0, 3).links(), "a ring of another size");
      assertEquals(-1, pool.take(8, 0, 2).ring());
      KeptRings.Taken r1 = pool.take(7, 1, 2);
      KeptRings.Taken r0 = pool.take(7, 0, 2);
      assertSame(ring[1], r1.links(), "rank 1's end for rank 1");
      assertSame(ring[0], r0.links());
      assertEquals(3, r0.ring());
      assertNull(pool.take(7, 0, 2).links(), "taken once");
      assertEquals(0, pool.size());
      assertEquals(0, pool.pendingExpiries(), "a taken ring's expiry left the queue");
      // the next round goes on over the same connections: the sums are still the ring's
      RingFixtures.sameSums(new Ring[] {r0.links(), r1.links()},
          new Ring[] {r0.links(), r1.links()}, 2, 777, true, "over kept links");
      pool.reusing();
      assertEquals(1, pool.reused());
    } finally {
      RingFixtures.closeAll(ring);
    }
  }

  @Test
  void keepingAnotherRoundOrJobClosesTheOlderLinksAndClosedOnesAreNotHandedOut()
      throws Exception {
    byte[] secret = RingSecret.generate();
    Ring[] a = RingFixtures.ringOfThreads(2, secret, 1, TCP);
    Ring[] b = RingFixtures.ringOfThreads(2, secret, 2, TCP);
    Ring[] c = RingFixtures.ringOfThreads(2, secret, 1, TCP);
    KeptRings pool = new KeptRings(TimeUnit.MINUTES.toMillis(10));
    try {
      pool.keep(7, 1, a[0]);
      pool.keep(7, 1, a[1]);
      pool.keep(7, 2, b[0]); // the next round of the same job
      assertTrue(a[0].isClosed() && a[1].isClosed(), "ring 1's links closed by ring 2's");
      assertFalse(b[0].isClosed());
      assertEquals(1, pool.size());
      pool.keep(9, 1, c[0]); // another job
      assertTrue(b[0].isClosed(), "job 7's links closed by job 9's");
      assertEquals(1, pool.size());
      c[0].close(); // a peer failed it, or a late kill closed it
      assertNull(pool.take(9, 0, 2).links(), "closed links are not handed out");
      pool.keep(9, 1, c[1]);
      pool.closeJob(8);
      assertFalse(c[1].isClosed(), "another job's links stay");
      pool.closeJob(9);
      assertTrue(c[1].isClosed());
      assertEquals(0, pool.size());
      assertEquals(0, pool.pendingExpiries(), "closed rings' expiries left the queue");
    } finally {
      RingFixtures.closeAll(a);
      RingFixtures.closeAll(b);
      RingFixtures.closeAll(c);
    }
  }

  @Test
  void linksNobodyTakesAreClosedAfterTheIdleTime() throws Exception {
    Ring[] ring = RingFixtures.ringOfThreads(2, RingSecret.generate(), 5, TCP);
    KeptRings pool = new KeptRings(200);
    try {
      pool.keep(7, 5, ring[0]);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!ring[0].isClosed() && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(ring[0].isClosed(), "kept links still open after their idle time");
      assertEquals(0, pool.size());
    } finally {
      RingFixtures.closeAll(ring);
    }
  }
}
