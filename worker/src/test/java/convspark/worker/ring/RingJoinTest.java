package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Forming a ring when something goes wrong: idle connections cannot keep the real previous peer out. */
class RingJoinTest {
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
}
