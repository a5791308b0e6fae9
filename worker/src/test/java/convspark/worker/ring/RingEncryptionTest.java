package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.crypto.AEADBadTagException;
import org.junit.jupiter.api.Test;

/**
 * Sealed ring links ({@code RingOptions.encrypt}, {@link ChunkCipher}): the same sums, bit for
 * bit, as in the clear; no payload byte readable on the wire; a byte altered in transit fails
 * the operation, naming the peer; and two ends that disagree never form a ring.
 */
class RingEncryptionTest {
  static final RingOptions CLEAR = new RingOptions(20_000, 20_000, 4096);
  static final RingOptions SEALED = CLEAR.withEncryption(true);

  @Test
  void sealedRingsSumTheSameBitsAsClearOnesForTwoToFourPeers() throws Exception {
    byte[] secret = RingSecret.generate();
    int[] lengths = {0, 1, 3, 1001, 100_003};
    for (int p = 2; p <= 4; p++) {
      Ring[] sealed = RingFixtures.ringOfThreads(p, secret, 30 + p, SEALED);
      Ring[] clear = RingFixtures.ringOfThreads(p, secret, 40 + p, CLEAR);
      try {
        for (int n : lengths) {
          RingFixtures.sameSums(sealed, clear, p, n, true, "sealed and clear sums differ");
        }
        // every chunk carries its 16-byte tag on top of what the clear ring sends
        assertTrue(sealed[0].stats().bytesSent > clear[0].stats().bytesSent,
            sealed[0].stats().bytesSent + " bytes sealed, " + clear[0].stats().bytesSent
                + " in the clear");
      } finally {
        RingFixtures.closeAll(sealed);
        RingFixtures.closeAll(clear);
      }
    }
  }

  /** What rank 1 sends rank 0 holds the floats' bytes in the clear, and not when sealed. */
  @Test
  void noPayloadByteTravelsInTheClear() throws Exception {
    float[] mine = new float[4096];
    for (int i = 0; i < mine.length; i++) {
      mine[i] = 1234.5f + i;
    }
    // rank 1 sends its own segment (the second half) first: look for 16 of those floats
    byte[] pattern = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN)
        .put(floatBytes(mine, 3000, 16)).array();
    assertTrue(contains(relayed(CLEAR, mine, -1).recorded, pattern),
        "the control failed: the clear stream does not hold the floats");
    Relayed sealed = relayed(SEALED, mine, -1);
    assertFalse(contains(sealed.recorded, pattern), "the sealed stream holds the floats");
    assertEquals(null, sealed.failure, "the sealed ring failed");
  }

  /** A payload byte flipped in transit fails rank 0's operation, naming rank 1. */
  @Test
  void aByteAlteredInTransitFailsTheOperationNamingThePeer() throws Exception {
    float[] mine = new float[4096];
    Arrays.fill(mine, 0.25f);
    // past the hello (53 bytes), the proof (32), the shared-memory answer (1) and a header (16)
    Relayed r = relayed(SEALED, mine, 53 + 32 + 1 + 16 + 100);
    assertTrue(r.failure instanceof RingException, String.valueOf(r.failure));
    assertTrue(r.failure.getMessage().startsWith("ring rank 0: a chunk from rank 1 (")
        && r.failure.getMessage().contains("failed its authentication tag"),
        r.failure.getMessage());
    assertTrue(r.failure.getCause() instanceof AEADBadTagException, String.valueOf(r.failure));
  }

  @Test
  void endsThatDisagreeOnSealingNeverFormARing() throws Exception {
    RingOptions shortWait = new RingOptions(1_500, 1_500, 4096);
    byte[] secret = RingSecret.generate();
    RingListener l0 = RingListener.bind(RingFixtures.loopback(), shortWait.withEncryption(true));
    RingListener l1 = RingListener.bind(RingFixtures.loopback(), shortWait);
    List<InetSocketAddress> peers = List.of(l0.address(), l1.address());
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try {
      Future<Ring> j0 = ex.submit(() -> l0.join(peers, 0, secret, 9));
      Future<Ring> j1 = ex.submit(() -> l1.join(peers, 1, secret, 9));
      for (Future<Ring> j : List.of(j0, j1)) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> j.get(30, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof RingException, String.valueOf(e.getCause()));
      }
      assertTrue(l0.rejectedConnections() + l1.rejectedConnections() >= 2,
          "the mismatched handshakes were not refused");
    } finally {
      ex.shutdownNow();
      l0.close();
      l1.close();
    }
  }

  @Test
  void aSealedChunkOpensOnlyWithItsKeyAndHeader() throws Exception {
    byte[] key = RingSecret.random(32);
    ByteBuffer plain = ByteBuffer.allocateDirect(Ring.HEADER + 40).order(ByteOrder.LITTLE_ENDIAN);
    plain.putInt(3).putInt(1).putInt(7).putInt(40);
    for (int i = 0; i < 10; i++) {
      plain.putFloat(i + 0.5f);
    }
    plain.flip();
    ByteBuffer sealed = ByteBuffer.allocateDirect(plain.limit() + ChunkCipher.TAG);
    ChunkCipher.sealing(key).seal(plain, sealed);
    assertEquals(plain.limit() + ChunkCipher.TAG, sealed.limit());
    ByteBuffer opened = ByteBuffer.allocateDirect(plain.limit()).order(ByteOrder.LITTLE_ENDIAN);
    ChunkCipher.opening(key).open(sealed, opened);
    for (int i = 0; i < plain.limit(); i++) {
      assertEquals(plain.get(i), opened.get(i), "byte " + i);
    }
    // another key, or a header moved to another position (chunk 8), fails the tag
    assertThrows(AEADBadTagException.class,
        () -> ChunkCipher.opening(RingSecret.random(32)).open(sealed, opened));
    sealed.putInt(8, 8);
    assertThrows(AEADBadTagException.class, () -> ChunkCipher.opening(key).open(sealed, opened));
  }

  private record Relayed(byte[] recorded, Exception failure) {}

  /**
   * A ring of two whose rank 1 reaches rank 0 through a relay that records what rank 1 sends and,
   * if {@code flipAt >= 0}, flips that byte; one allreduce of {@code mine} on both ranks.
   * Returns the recording and rank 0's failure, or null.
   */
  private static Relayed relayed(RingOptions o, float[] mine, long flipAt) throws Exception {
    byte[] secret = RingSecret.generate();
    RingListener l0 = RingListener.bind(RingFixtures.loopback(), o);
    RingListener l1 = RingListener.bind(RingFixtures.loopback(), o);
    ByteArrayOutputStream recorded = new ByteArrayOutputStream();
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try (ServerSocket relay = new ServerSocket(0, 1, RingFixtures.loopback())) {
      CompletableFuture<Void> relayDone = CompletableFuture.runAsync(
          () -> RingFixtures.relay(relay, l0.address(), recorded, flipAt));
      InetSocketAddress viaRelay =
          new InetSocketAddress(RingFixtures.loopback(), relay.getLocalPort());
      Future<Ring> r0 = ex.submit(() -> l0.join(List.of(l0.address(), l1.address()), 0, secret, 1));
      Future<Ring> r1 = ex.submit(() -> l1.join(List.of(viaRelay, l1.address()), 1, secret, 1));
      Ring[] rings = {r0.get(30, TimeUnit.SECONDS), r1.get(30, TimeUnit.SECONDS)};
      Exception failure = null;
      try {
        Future<?> a0 = ex.submit(() -> {
          rings[0].allreduce(mine.clone());
          return null;
        });
        Future<?> a1 = ex.submit(() -> {
          rings[1].allreduce(mine.clone());
          return null;
        });
        try {
          a0.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          failure = (Exception) e.getCause();
        }
        try {
          a1.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          // rank 0 closed the ring after its failure
        }
      } finally {
        RingFixtures.closeAll(rings);
      }
      relayDone.get(30, TimeUnit.SECONDS);
      synchronized (recorded) {
        return new Relayed(recorded.toByteArray(), failure);
      }
    } finally {
      ex.shutdownNow();
      l0.close();
      l1.close();
    }
  }

  private static byte[] floatBytes(float[] f, int from, int n) {
    ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      b.putFloat(f[from + i]);
    }
    return b.array();
  }

  private static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
