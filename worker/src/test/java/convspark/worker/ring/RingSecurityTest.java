package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Rogue clients on loopback: without the job secret nobody joins a ring or gets a byte into it.
 * Each attack claims to be the legitimate previous peer (rank 1 of a 2-peer ring) and connects
 * before it does; the ring must still form with the real peer and sum correctly.
 */
class RingSecurityTest {
  static final RingOptions O = new RingOptions(20_000, 20_000, 1024);

  /** Reads until the server closes; true if it closed without ever sending the ACCEPT byte. */
  private static boolean closedWithoutAccept(Socket s, int expectedBeforeAccept) throws IOException {
    s.setSoTimeout(15_000);
    InputStream in = s.getInputStream();
    int n = 0;
    for (int b; (b = in.read()) >= 0; n++) {
      if (n >= expectedBeforeAccept && b == Handshake.ACCEPT) {
        return false;
      }
    }
    return true;
  }

  private static byte[] helloFrom1To0(long ringId) {
    return Handshake.hello(ringId, 1, 0, RingSecret.random(RingSecret.BYTES));
  }

  @Test
  void wrongSecretNoSecretGarbageAndReplayCannotJoin() throws Exception {
    byte[] secret = RingSecret.generate();
    long ringId = 42;
    // Phase 1: a legitimate 2-ring whose rank 1 reaches rank 0 through a recording relay, so the
    // attacker holds a genuine client handshake (hello + proof) to replay later.
    RingListener a0 = RingListener.bind(RingFixtures.loopback(), O);
    RingListener a1 = RingListener.bind(RingFixtures.loopback(), O);
    ByteArrayOutputStream recorded = new ByteArrayOutputStream();
    ServerSocket relay = new ServerSocket(0, 1, RingFixtures.loopback());
    CompletableFuture<Void> relayDone = CompletableFuture.runAsync(() -> RingFixtures.relay(relay, a0.address(), recorded, -1));
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try {
      InetSocketAddress viaRelay = new InetSocketAddress(RingFixtures.loopback(), relay.getLocalPort());
      Future<Ring> r0 = ex.submit(() -> a0.join(List.of(a0.address(), a1.address()), 0, secret, ringId));
      Future<Ring> r1 = ex.submit(() -> a1.join(List.of(viaRelay, a1.address()), 1, secret, ringId));
      Ring[] phase1 = {r0.get(30, TimeUnit.SECONDS), r1.get(30, TimeUnit.SECONDS)};
      RingFixtures.closeAll(phase1);
      relayDone.get(30, TimeUnit.SECONDS);
    } finally {
      relay.close();
    }
    byte[] replay = Arrays.copyOf(recorded.toByteArray(), Handshake.HELLO_BYTES + RingSecret.BYTES);

    // Phase 2: a fresh ring with the same secret and ring id; the attacks come first.
    RingListener l0 = RingListener.bind(RingFixtures.loopback(), O);
    RingListener l1 = RingListener.bind(RingFixtures.loopback(), O);
    InetSocketAddress target = l0.address();
    Future<Ring> j0 = ex.submit(() -> l0.join(List.of(l0.address(), l1.address()), 0, secret, ringId));
    try {
      // 1. Wrong secret: a full client handshake with another key fails on the client side (the
      // server's proof does not verify) and the server never accepts.
      try (Socket s = new Socket()) {
        s.connect(target, 5000);
        s.setSoTimeout(15_000);
        Handshake.Rejected e = assertThrows(Handshake.Rejected.class,
            () -> Handshake.client(s, RingSecret.generate(), ringId, 1, 0));
        assertTrue(e.getMessage().contains("failed to prove"), e.getMessage());
      }
      // 1b. Wrong secret, stubborn: sends a proof made with its own key anyway.
      try (Socket s = new Socket()) {
        s.connect(target, 5000);
        byte[] hello = helloFrom1To0(ringId);
        s.getOutputStream().write(hello);
        byte[] challenge = s.getInputStream().readNBytes(2 * RingSecret.BYTES);
        byte[] nonceS = Arrays.copyOf(challenge, RingSecret.BYTES);
        s.getOutputStream().write(RingSecret.hmac(RingSecret.generate(),
            "convspark-ring client".getBytes(), hello, nonceS));
        s.getOutputStream().write(new byte[4096]); // and tries to push "gradient" bytes
        assertTrue(closedWithoutAccept(s, 0), "server accepted a wrong proof");
      }
      // 2. No secret: a hello, then zeros where the proof should be, then data.
      try (Socket s = new Socket()) {
        s.connect(target, 5000);
        s.getOutputStream().write(helloFrom1To0(ringId));
        s.getInputStream().readNBytes(2 * RingSecret.BYTES);
        s.getOutputStream().write(new byte[RingSecret.BYTES + 1024]);
        assertTrue(closedWithoutAccept(s, 0), "server accepted an all-zero proof");
      }
      // 3. Garbage: random bytes instead of a hello: closed at once, nothing sent back.
      try (Socket s = new Socket()) {
        s.connect(target, 5000);
        byte[] junk = new byte[Handshake.HELLO_BYTES + 500];
        new SplittableRandom(3).nextBytes(junk);
        s.getOutputStream().write(junk);
        s.setSoTimeout(15_000);
        assertEquals(-1, s.getInputStream().read(), "garbage got an answer");
      }
      // 4. Replay of the genuine client handshake recorded in phase 1 (same secret, same ring
      // id, same ranks): the server's fresh nonce makes the recorded proof worthless.
      try (Socket s = new Socket()) {
        s.connect(target, 5000);
        s.getOutputStream().write(Arrays.copyOf(replay, Handshake.HELLO_BYTES));
        s.getInputStream().readNBytes(2 * RingSecret.BYTES);
        s.getOutputStream().write(replay, Handshake.HELLO_BYTES, RingSecret.BYTES);
        assertTrue(closedWithoutAccept(s, 0), "server accepted a replayed handshake");
      }
      // 5. Right secret, wrong ring id or wrong claimed rank: refused before any proof.
      try (Socket s = new Socket()) {
        s.connect(target, 5000);
        s.setSoTimeout(15_000);
        assertThrows(Handshake.Rejected.class, () -> Handshake.client(s, secret, ringId + 1, 1, 0));
      }

      // The real rank 1 joins; the ring sums correctly.
      Future<Ring> j1 = ex.submit(() -> l1.join(List.of(l0.address(), l1.address()), 1, secret, ringId));
      Ring[] rings = {j0.get(30, TimeUnit.SECONDS), j1.get(30, TimeUnit.SECONDS)};
      try {
        float[][] f = {{1, 2, 3, 4, 5}, {10, 20, 30, 40, 50}};
        double[][] d = {{0.5}, {0.25}};
        RingFixtures.allreduce(rings, f, d);
        for (int r = 0; r < 2; r++) {
          assertArrayEquals(new float[] {11, 22, 33, 44, 55}, f[r], 0f);
          assertArrayEquals(new double[] {0.75}, d[r], 0.0);
        }
        assertTrue(l0.rejectedConnections() >= 5,
            "rejected " + l0.rejectedConnections() + " connections, expected the 5 attacks");
        // 6. After the ring formed nobody can connect at all: the listener is closed.
        try (Socket s = new Socket()) {
          assertThrows(ConnectException.class, () -> s.connect(target, 2000));
        }
      } finally {
        RingFixtures.closeAll(rings);
      }
    } finally {
      ex.shutdownNow();
      l0.close();
      l1.close();
    }
  }

  @Test
  void aNextPeerWithoutTheSecretFailsTheJoinNamingIt() throws Exception {
    try (ServerSocket rogue = new ServerSocket(0, 1, RingFixtures.loopback());
        RingListener l0 = RingListener.bind(RingFixtures.loopback(), O)) {
      CompletableFuture<Void> impostor = CompletableFuture.runAsync(() -> {
        try (Socket s = rogue.accept()) {
          s.getInputStream().readNBytes(Handshake.HELLO_BYTES);
          byte[] fake = new byte[2 * RingSecret.BYTES];
          new SplittableRandom(9).nextBytes(fake);
          s.getOutputStream().write(fake);
          s.getInputStream().read();
        } catch (IOException ignored) {
          // the client hung up, as it should
        }
      });
      InetSocketAddress rogueAddress = new InetSocketAddress(RingFixtures.loopback(), rogue.getLocalPort());
      RingException e = assertThrows(RingException.class,
          () -> l0.join(List.of(l0.address(), rogueAddress), 0, RingSecret.generate(), 5));
      assertTrue(e.getMessage().contains("rank 1") && e.getMessage().contains("failed to prove"),
          e.getMessage());
      impostor.get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void secretsAreCheckedForLength() {
    assertThrows(IllegalArgumentException.class, () -> RingSecret.fromHex("abcd"));
    assertThrows(IllegalArgumentException.class, () -> RingSecret.fromHex("zz"));
    byte[] s = RingSecret.generate();
    assertArrayEquals(s, RingSecret.fromHex(RingSecret.toHex(s)));
  }
}
