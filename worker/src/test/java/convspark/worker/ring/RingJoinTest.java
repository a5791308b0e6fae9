package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Forming a ring when something goes wrong: nothing of a failed attempt stays open or mapped (an
 * authenticated previous peer is closed, so it fails at once), the errors name the peer, and idle
 * connections cannot keep the real previous peer out.
 */
class RingJoinTest {
  private static final InetSocketAddress NOWHERE =
      new InetSocketAddress(RingFixtures.loopback(), 9); // never contacted: only named

  /**
   * P = 3 from rank 1's side: the test is rank 0 and proves the secret to rank 1, whose own
   * connection to rank 2 (an impostor) then fails. Rank 1 must close the accepted connection,
   * not leave rank 0 waiting for its io timeout (60 s here).
   */
  @Test
  void aFailedJoinClosesThePreviousPeerThatProvedTheSecret() throws Exception {
    byte[] secret = RingSecret.generate();
    long ringId = 11;
    RingOptions o = new RingOptions(20_000, 60_000, 4096);
    CountDownLatch proved = new CountDownLatch(1);
    ExecutorService ex = Executors.newSingleThreadExecutor();
    try (ServerSocket impostor = new ServerSocket(0, 1, RingFixtures.loopback());
        RingListener l1 = RingListener.bind(RingFixtures.loopback(), o)) {
      CompletableFuture<Void> next = CompletableFuture.runAsync(() -> {
        try (Socket s = impostor.accept()) {
          s.getInputStream().readNBytes(Handshake.HELLO_BYTES);
          proved.await(30, TimeUnit.SECONDS);
          s.getOutputStream().write(new byte[2 * RingSecret.BYTES]); // no valid proof
          s.getInputStream().read();
        } catch (IOException | InterruptedException ignored) {
          // rank 1 hung up, as it should
        }
      });
      List<InetSocketAddress> peers = List.of(NOWHERE, l1.address(),
          new InetSocketAddress(RingFixtures.loopback(), impostor.getLocalPort()));
      Future<Ring> join = ex.submit(() -> l1.join(peers, 1, secret, ringId));
      try (Socket prev = new Socket()) {
        prev.connect(l1.address(), 10_000);
        prev.setSoTimeout(20_000);
        Handshake.client(prev, secret, ringId, 0, 1);
        // Let rank 1 take the connection as its previous peer before its join fails (only
        // sharpens the test: it passes either way when the connection is closed).
        Thread.sleep(200);
        proved.countDown();
        ExecutionException e =
            assertThrows(ExecutionException.class, () -> join.get(30, TimeUnit.SECONDS));
        String m = e.getCause().getMessage();
        assertTrue(e.getCause() instanceof RingException, String.valueOf(e.getCause()));
        assertTrue(m.startsWith("ring rank 1: handshake with rank 2 (")
            && m.contains("failed to prove"), m);
        long t0 = System.nanoTime();
        assertEquals(-1, prev.getInputStream().read(),
            "rank 1 sent data instead of closing the connection");
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(secs < 15, "closed after " + secs + " s");
      }
      next.get(30, TimeUnit.SECONDS);
    } finally {
      ex.shutdownNow();
    }
  }

  /**
   * Eight idle connections (every handshake slot) reach rank 1's listener before rank 0 does;
   * the ring still forms, well within the connect timeout, and the idle connections are closed.
   * The connect timeout is below the 10 s a silent client may hold a slot, so the ring forms
   * only if new connections evict idle ones.
   */
  @Test
  void idleConnectionsCannotKeepThePreviousPeerOut() throws Exception {
    byte[] secret = RingSecret.generate();
    RingOptions o = new RingOptions(8_000, 20_000, 4096);
    RingListener l0 = RingListener.bind(RingFixtures.loopback(), o);
    RingListener l1 = RingListener.bind(RingFixtures.loopback(), o);
    List<Socket> idle = new ArrayList<>();
    ExecutorService ex = Executors.newFixedThreadPool(2);
    Ring[] rings = null;
    try {
      for (int i = 0; i < 8; i++) {
        Socket s = new Socket();
        idle.add(s);
        s.connect(l1.address(), 5_000); // in the backlog, so accepted before rank 0
      }
      List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
      Future<Ring> j1 = ex.submit(() -> l1.join(peers, 1, secret, 3));
      Future<Ring> j0 = ex.submit(() -> l0.join(peers, 0, secret, 3));
      rings = new Ring[] {j0.get(30, TimeUnit.SECONDS), j1.get(30, TimeUnit.SECONDS)};
      float[][] f = {{1, 2, 3}, {10, 20, 30}};
      RingFixtures.allreduce(rings, f, new double[][] {{}, {}});
      assertArrayEquals(new float[] {11, 22, 33}, f[0], 0f);
      assertArrayEquals(new float[] {11, 22, 33}, f[1], 0f);
      for (Socket s : idle) {
        s.setSoTimeout(20_000);
        assertEquals(-1, s.getInputStream().read(), "an idle connection got data");
      }
    } finally {
      ex.shutdownNow();
      for (Socket s : idle) {
        s.close();
      }
      l0.close();
      l1.close();
      RingFixtures.closeAll(rings);
    }
  }

  /** How a fake rank 1 leaves rank 0 during the shared-memory negotiation. */
  enum Leave {
    /** Closes right after the handshakes. */
    AT_ONCE,
    /** Offers rank 0 its own file back (both directions mapped), then closes unanswered. */
    AFTER_BOTH_MAPPED,
    /** Offers a file whose token does not match, then closes after the refusal. */
    AFTER_A_BAD_TOKEN
  }

  @Test
  void aNeighbourLeavingDuringTheNegotiationLeavesNothingMappedAndIsNamed() throws Exception {
    RingSharedMemoryTest.needsDevShm();
    for (Leave how : Leave.values()) {
      String m = fakeNeighbourLeaves(how);
      assertTrue(m.startsWith("ring rank 0: setting up the links with rank 1 (")
          && m.contains("rank 1 (") && m.contains("closed the connection before sending")
          && !m.contains("null"), how + ": " + m);
      assertEquals(List.of(), RingSharedMemoryTest.mapped(), how + ": still mapped");
      assertEquals(List.of(), RingSharedMemoryTest.leftovers(), how + ": files left");
    }
  }

  /** Rank 0 of P = 2 (real) against a fake rank 1; returns rank 0's error. */
  private static String fakeNeighbourLeaves(Leave how) throws Exception {
    byte[] secret = RingSecret.generate();
    long ringId = 21;
    RingOptions o = new RingOptions(20_000, 20_000, 4096, true);
    ExecutorService ex = Executors.newSingleThreadExecutor();
    Path badFile = null;
    try (ServerSocket fake = new ServerSocket(0, 1, RingFixtures.loopback());
        RingListener l0 = RingListener.bind(RingFixtures.loopback(), o)) {
      List<InetSocketAddress> peers = List.of(l0.address(),
          new InetSocketAddress(RingFixtures.loopback(), fake.getLocalPort()));
      Future<Ring> join = ex.submit(() -> l0.join(peers, 0, secret, ringId));
      try (Socket toRank0 = new Socket()) {
        toRank0.connect(l0.address(), 10_000);
        toRank0.setSoTimeout(20_000);
        Handshake.client(toRank0, secret, ringId, 1, 0); // rank 0's previous peer
        fake.setSoTimeout(20_000);
        try (Socket fromRank0 = fake.accept()) { // rank 0's next peer
          fromRank0.setSoTimeout(20_000);
          Handshake.server(fromRank0, secret, ringId, 1, 0);
          // rank 0's offer, for what rank 1 would send it: read in full, so that closing
          // sends rank 0 an end-of-stream rather than a reset
          DataInputStream offerIn = new DataInputStream(toRank0.getInputStream());
          assertEquals(SharedMemoryLink.OFFER, offerIn.readByte());
          byte[] token = offerIn.readNBytes(32);
          int cap = offerIn.readInt();
          byte[] name = offerIn.readNBytes(offerIn.readUnsignedShort());
          DataOutputStream offerOut = new DataOutputStream(fromRank0.getOutputStream());
          if (how == Leave.AFTER_BOTH_MAPPED) {
            // handed back as rank 1's own offer
            offerOut.writeByte(SharedMemoryLink.OFFER);
            offerOut.write(token);
            offerOut.writeInt(cap);
            offerOut.writeShort(name.length);
            offerOut.write(name);
            offerOut.flush();
            assertEquals(SharedMemoryLink.OFFER, fromRank0.getInputStream().read(),
                "rank 0 did not take its own file");
          } else if (how == Leave.AFTER_A_BAD_TOKEN) {
            badFile = Files.createTempFile(SharedMemoryLink.DIR, "convspark-ring-", ".shm",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.write(badFile, new byte[SharedMemoryLink.DATA + cap]); // token: zeros
            byte[] bad = badFile.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            offerOut.writeByte(SharedMemoryLink.OFFER);
            offerOut.write(RingSecret.random(32));
            offerOut.writeInt(cap);
            offerOut.writeShort(bad.length);
            offerOut.write(bad);
            offerOut.flush();
            assertEquals(SharedMemoryLink.NO_OFFER, fromRank0.getInputStream().read(),
                "rank 0 took a file whose token does not match");
          }
        } // both connections close here: rank 0 is left waiting for rank 1's next message
      }
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> join.get(30, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof RingException, String.valueOf(e.getCause()));
      return e.getCause().getMessage();
    } finally {
      ex.shutdownNow();
      if (badFile != null) {
        Files.deleteIfExists(badFile);
      }
    }
  }
}
