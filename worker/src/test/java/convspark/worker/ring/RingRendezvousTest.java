package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The driver's address rendezvous on loopback: every rank gets every address in rank order, the
 * ring then forms from them; nobody without the secret, or with another ring's id, gets in; a
 * missing rank times out with a message; idle connections cannot keep the tasks out.
 */
class RingRendezvousTest {
  static final RingOptions O = new RingOptions(20_000, 20_000, 1024);

  @Test
  void everyRankGetsEveryAddressAndTheRingForms() throws Exception {
    byte[] secret = RingSecret.generate();
    int p = 4;
    ExecutorService ex = Executors.newFixedThreadPool(p);
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret)) {
      server.expect(7, p);
      // a rogue without the secret connects first and sends garbage; it changes nothing
      try (Socket rogue = new Socket(server.address().getAddress(), server.address().getPort())) {
        OutputStream out = rogue.getOutputStream();
        out.write(new byte[Handshake.HELLO_BYTES]);
        out.flush();
        rogue.setSoTimeout(15_000);
        InputStream in = rogue.getInputStream();
        int got = 0;
        while (in.read() >= 0) {
          got++;
        }
        assertEquals(0, got, "a rogue hello must get no answer");
      }
      List<RingListener> listeners = new ArrayList<>();
      List<Future<List<InetSocketAddress>>> lists = new ArrayList<>();
      for (int r = p - 1; r >= 0; r--) { // ranks register in any order
        RingListener l = RingListener.bind(RingFixtures.loopback(), O);
        listeners.add(0, l);
        final int rank = r;
        lists.add(0, ex.submit(() -> RingRendezvous.exchange(server.address(), secret, 7, rank,
            p, l.address(), 20_000)));
      }
      List<InetSocketAddress> expected = new ArrayList<>();
      for (RingListener l : listeners) {
        expected.add(l.address());
      }
      for (Future<List<InetSocketAddress>> f : lists) {
        assertEquals(expected, f.get(30, TimeUnit.SECONDS));
      }
      assertTrue(server.rejectedConnections() >= 1, "the rogue is counted as rejected");
      List<Future<Ring>> rings = new ArrayList<>();
      for (int r = 0; r < p; r++) {
        final int rank = r;
        rings.add(ex.submit(() -> listeners.get(rank).join(expected, rank, secret, 7)));
      }
      Ring[] formed = new Ring[p];
      float[][] v = new float[p][];
      for (int r = 0; r < p; r++) {
        formed[r] = rings.get(r).get(30, TimeUnit.SECONDS);
        v[r] = new float[] {r, 10 * r, 100 * r};
      }
      List<Future<?>> sums = new ArrayList<>();
      for (int r = 0; r < p; r++) {
        final int rank = r;
        sums.add(ex.submit(() -> {
          formed[rank].allreduce(v[rank]);
          return null;
        }));
      }
      for (Future<?> f : sums) {
        f.get(30, TimeUnit.SECONDS);
      }
      for (int r = 0; r < p; r++) {
        assertArrayEquals(new float[] {6, 60, 600}, v[r]);
      }
      RingFixtures.closeAll(formed);
    } finally {
      ex.shutdownNow();
    }
  }

  /**
   * Every rank learns which ring's links each rank holds open, and all of them reach the same
   * verdict: the kept links only where every rank holds those of one ring.
   */
  @Test
  void everyRankLearnsTheKeptLinksOfEveryRankAndTheSameVerdict() throws Exception {
    byte[] secret = RingSecret.generate();
    long[][] cases = {{4, 4, 4}, {4, -1, 4}, {4, 5, 4}, {-1, -1, -1}};
    long[] verdicts = {4, -1, -1, -1};
    ExecutorService ex = Executors.newFixedThreadPool(3);
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret)) {
      for (int c = 0; c < cases.length; c++) {
        long ringId = 20 + c;
        server.expect(ringId, 3);
        List<Future<RingRendezvous.Peers>> got = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
          final int rank = r;
          final long kept = cases[c][r];
          got.add(ex.submit(() -> RingRendezvous.exchange(server.address(), secret, ringId,
              rank, 3, new InetSocketAddress(RingFixtures.loopback(), 40_000 + rank), kept,
              20_000)));
        }
        for (Future<RingRendezvous.Peers> f : got) {
          RingRendezvous.Peers peers = f.get(30, TimeUnit.SECONDS);
          assertArrayEquals(cases[c], peers.kept(), "case " + c);
          assertEquals(verdicts[c], peers.keptRing(), "case " + c);
          assertEquals(40_001, peers.addresses().get(1).getPort());
        }
      }
    } finally {
      ex.shutdownNow();
    }
  }

  @Test
  void wrongSecretOrAnotherRingIsRefusedAndAMissingRankTimesOut() throws Exception {
    byte[] secret = RingSecret.generate();
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret)) {
      server.expect(3, 2);
      InetSocketAddress mine = new InetSocketAddress(RingFixtures.loopback(), 4000);
      RingException wrong = assertThrows(RingException.class, () -> RingRendezvous.exchange(
          server.address(), RingSecret.generate(), 3, 0, 2, mine, 5_000));
      assertTrue(wrong.getMessage().contains("handshake"), wrong.getMessage());
      RingException size = assertThrows(RingException.class, () -> RingRendezvous.exchange(
          server.address(), secret, 3, 0, 5, mine, 5_000));
      assertEquals("ring rank 0: the driver's ring rendezvous (" + server.address() + ") refused "
          + "this task: ring 3 has 2 ranks, the task says 5", size.getMessage());
      // the server counts the wrong secret once it notices the client hung up: wait for it
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (server.rejectedConnections() < 2 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      assertEquals(2, server.rejectedConnections());
      // another ring's task gets no answer, as if shed under load: it retries until its deadline
      RingException old = assertThrows(RingException.class, () -> RingRendezvous.exchange(
          server.address(), secret, 2, 0, 2, mine, 1_500));
      assertTrue(old.getMessage().startsWith("ring rank 0: cannot connect to the driver's ring "
          + "rendezvous (" + server.address() + ") and complete the handshake within 1500 ms: "),
          old.getMessage());
      assertTrue(server.rejectedConnections() >= 3);
      long t0 = System.nanoTime();
      RingException alone = assertThrows(RingException.class, () -> RingRendezvous.exchange(
          server.address(), secret, 3, 1, 2, mine, 700));
      assertTrue(alone.getMessage().contains("sent no addresses within 700 ms"),
          alone.getMessage());
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
      // the next round closes what waited for the previous one
      server.expect(4, 1);
      assertEquals(List.of(mine), RingRendezvous.exchange(server.address(), secret, 4, 0, 1, mine,
          5_000));
    }
  }

  /**
   * A client whose secret is wrong sees the server fail to prove it, and fails at once with one
   * line naming the rendezvous, not after its timeout (as a closed connection would be retried).
   */
  @Test
  void aWrongSecretFailsAtOnceNotAfterTheTimeout() throws Exception {
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), RingSecret.generate())) {
      server.expect(3, 2);
      InetSocketAddress mine = new InetSocketAddress(RingFixtures.loopback(), 4000);
      long t0 = System.nanoTime();
      RingException wrong = assertThrows(RingException.class, () -> RingRendezvous.exchange(
          server.address(), RingSecret.generate(), 3, 0, 2, mine, 120_000));
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30),
          "took " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      String m = wrong.getMessage();
      assertTrue(m.startsWith("ring rank 0: ") && m.contains(server.address().toString())
          && m.endsWith(": the server failed to prove the ring secret") && !m.contains("\n"), m);
    }
  }

  /** No server at the address: the connection is refused, which fails at once. */
  @Test
  void aRendezvousThatIsNotThereFailsAtOnce() throws Exception {
    InetSocketAddress gone;
    try (ServerSocket s = new ServerSocket(0, 1, RingFixtures.loopback())) {
      gone = new InetSocketAddress(RingFixtures.loopback(), s.getLocalPort());
    }
    InetSocketAddress mine = new InetSocketAddress(RingFixtures.loopback(), 4000);
    long t0 = System.nanoTime();
    RingException e = assertThrows(RingException.class, () -> RingRendezvous.exchange(gone,
        RingSecret.generate(), 3, 0, 2, mine, 120_000));
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30));
    assertTrue(e.getMessage().startsWith("ring rank 0: cannot connect to the driver's ring "
        + "rendezvous (" + gone + "): "), e.getMessage());
  }

  /** A task that connects before the driver expects its ring is closed unanswered and retries. */
  @Test
  void aTaskBeforeItsRingIsExpectedRetries() throws Exception {
    byte[] secret = RingSecret.generate();
    InetSocketAddress mine = new InetSocketAddress(RingFixtures.loopback(), 4000);
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret)) {
      Future<List<InetSocketAddress>> got = ex.submit(() -> RingRendezvous.exchange(
          server.address(), secret, 9, 0, 1, mine, 60_000));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (server.rejectedConnections() < 1 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      assertTrue(server.rejectedConnections() >= 1, "the early task was not turned away");
      server.expect(9, 1);
      assertEquals(List.of(mine), got.get(30, TimeUnit.SECONDS));
    } finally {
      ex.shutdownNow();
    }
  }

  /**
   * A task registered for a ring the driver then drops (another attempt of the round begins)
   * is told that the driver closed the connection, not that it "answered -1".
   */
  @Test
  void aDroppedRingSaysTheConnectionWasClosed() throws Exception {
    byte[] secret = RingSecret.generate();
    InetSocketAddress mine = new InetSocketAddress(RingFixtures.loopback(), 4000);
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret)) {
      server.expect(11, 2);
      Future<List<InetSocketAddress>> got = ex.submit(() -> RingRendezvous.exchange(
          server.address(), secret, 11, 0, 2, mine, 30_000));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (server.registered() < 1 && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      assertEquals(1, server.registered(), "the task did not register");
      server.expect(12, 2);
      java.util.concurrent.ExecutionException e = assertThrows(
          java.util.concurrent.ExecutionException.class, () -> got.get(30, TimeUnit.SECONDS));
      assertTrue(e.getCause().getMessage().endsWith("closed the connection before it sent the "
          + "addresses"), e.getCause().getMessage());
    } finally {
      ex.shutdownNow();
    }
  }

  /**
   * An accept that fails while the socket stays open (out of file descriptors on a busy driver)
   * is warned and tried again: the rendezvous still forms the rings that follow. It used to end
   * the accepting thread, silently, and every later task connected and then waited out its
   * timeout for a challenge that never came.
   */
  @Test
  void aFailedAcceptIsTriedAgain() throws Exception {
    byte[] secret = RingSecret.generate();
    java.util.concurrent.atomic.AtomicInteger failures =
        new java.util.concurrent.atomic.AtomicInteger();
    ServerSocket flaky = new ServerSocket() {
      @Override
      public Socket accept() throws java.io.IOException {
        if (failures.getAndIncrement() < 3) {
          throw new java.io.IOException("Too many open files (injected)");
        }
        return super.accept();
      }
    };
    InetSocketAddress mine = new InetSocketAddress(RingFixtures.loopback(), 4000);
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret, flaky)) {
      server.expect(5, 1);
      assertEquals(List.of(mine),
          RingRendezvous.exchange(server.address(), secret, 5, 0, 1, mine, 10_000));
      assertTrue(failures.get() > 3, "accept was called " + failures.get() + " times");
    }
    assertTrue(flaky.isClosed());
  }

  /**
   * {@link RingRendezvous#MAX_PENDING} idle connections (every slot) reach the server before the
   * tasks do; both tasks still register, well within their timeout, and the idle connections are
   * closed. The timeout is below the 10 s an idle client may hold a slot, so the tasks get in
   * only if new connections evict idle ones.
   */
  @Test
  void idleConnectionsCannotKeepTheTasksOut() throws Exception {
    byte[] secret = RingSecret.generate();
    List<Socket> idle = new ArrayList<>();
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try (RingRendezvous.Server server =
        RingRendezvous.Server.start(RingFixtures.loopback(), secret)) {
      server.expect(5, 2);
      for (int i = 0; i < RingRendezvous.MAX_PENDING; i++) {
        Socket s = new Socket();
        idle.add(s);
        s.connect(server.address(), 5_000); // accepted before the tasks: connections are FIFO
      }
      List<InetSocketAddress> expected = List.of(
          new InetSocketAddress(RingFixtures.loopback(), 4000),
          new InetSocketAddress(RingFixtures.loopback(), 4001));
      List<Future<List<InetSocketAddress>>> lists = new ArrayList<>();
      for (int r = 0; r < 2; r++) {
        final int rank = r;
        lists.add(ex.submit(() -> RingRendezvous.exchange(server.address(), secret, 5, rank, 2,
            expected.get(rank), 9_000)));
      }
      for (Future<List<InetSocketAddress>> f : lists) {
        assertEquals(expected, f.get(30, TimeUnit.SECONDS));
      }
      for (Socket s : idle) {
        s.setSoTimeout(20_000);
        assertEquals(-1, s.getInputStream().read(), "an idle connection got data");
      }
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (server.rejectedConnections() < idle.size() && System.nanoTime() < until) {
        Thread.sleep(10);
      }
      assertEquals(idle.size(), server.rejectedConnections());
    } finally {
      ex.shutdownNow();
      for (Socket s : idle) {
        s.close();
      }
    }
  }

  @Test
  void refusesTheWildcardAddress() {
    assertThrows(IllegalArgumentException.class, () ->
        RingRendezvous.Server.start(InetAddress.getByName("0.0.0.0"), RingSecret.generate()));
  }
}
