package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.Pipe;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ring across separate JVM processes (the test classpath, started with ProcessBuilder): 8
 * processes form the rings of P = 1 .. 8 in turn (ranks 0 .. P-1), each checked against the
 * fixed-order sum computed here, bit for bit; the rings of even P carry their data through
 * shared memory between the processes ({@link SharedMemoryLink}), those of odd P over TCP.
 */
class RingProcessTest {
  static final int[] LENGTHS = {1, 6, 1001, 30_001};
  static final int MAX_P = 8;

  @Test
  void separateProcessesReduceToTheFixedOrderSumForOneToEightPeers() throws Exception {
    List<List<String>> cmds = new ArrayList<>();
    for (int r = 0; r < MAX_P; r++) {
      cmds.add(ProcessRendezvous.javaCommand(RingChild.class.getName(),
          List.of("-Xmx64m", "-XX:TieredStopAtLevel=1", "-Xshare:auto"),
          List.of(String.valueOf(r), String.valueOf(MAX_P))));
    }
    try (ProcessRendezvous procs = ProcessRendezvous.start(cmds, RingSecret.generate(), 120_000)) {
      for (int p = 1; p <= MAX_P; p++) {
        procs.relayAddresses(p);
        for (int n : LENGTHS) {
          float[][] f = new float[p][];
          double[][] d = new double[p][];
          for (int r = 0; r < p; r++) {
            f[r] = RingFixtures.floats(r, p, n, false);
            d[r] = RingFixtures.doubles(r, p, 2);
          }
          long expected = RingFixtures.hash(RingFixtures.ringOrderSum(f, 2),
              RingFixtures.ringOrderSum(d, n));
          for (int r = 0; r < p; r++) {
            assertEquals("" + p + " " + n + " " + expected,
                procs.expect(r, "RESULT ").trim(), "P=" + p + " n=" + n + " rank " + r);
          }
        }
      }
      assertArrayEquals(new int[MAX_P], procs.waitForAll(), "exit codes");
    }
  }

  /**
   * A child's waits for its parent's lines end with a clear error after their timeout (a parent
   * that dies without closing the pipe, or never sends the line, no longer blocks the child for
   * good); a line that comes later is still read by the next call; the end of stdin is reported.
   */
  @Test
  void aChildsWaitsForItsParentHaveADeadline() throws Exception {
    Pipe pipe = Pipe.open();
    // not closed by the test: its reading thread holds the reader's lock until stdin ends
    BufferedReader stdin = new BufferedReader(
        Channels.newReader(pipe.source(), StandardCharsets.UTF_8));
    byte[] secret = RingSecret.generate();
    try (RingListener l = RingListener.bind(RingFixtures.loopback(), RingOptions.DEFAULTS)) {
      long t0 = System.nanoTime();
      IOException e = assertThrows(IOException.class,
          () -> ProcessRendezvous.readSecret(stdin, 300));
      assertTrue(e.getMessage().contains("RING-SECRET") && e.getMessage().contains("300 ms"),
          e.getMessage());
      assertTrue((System.nanoTime() - t0) / 1e9 < 15, "gave up too late");
      write(pipe, ProcessRendezvous.SECRET + RingSecret.toHex(secret) + "\n");
      assertArrayEquals(secret, ProcessRendezvous.readSecret(stdin, 20_000));
      PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
      e = assertThrows(IOException.class, () -> ProcessRendezvous.exchange(l, stdin, out, 300));
      assertTrue(e.getMessage().contains("RING-PEERS") && e.getMessage().contains("300 ms"),
          e.getMessage());
      write(pipe, "something else\n" + ProcessRendezvous.PEERS + "127.0.0.1:5,127.0.0.1:6\n");
      assertEquals(List.of(new InetSocketAddress("127.0.0.1", 5),
          new InetSocketAddress("127.0.0.1", 6)),
          ProcessRendezvous.exchange(l, stdin, out, 20_000));
      pipe.sink().close();
      e = assertThrows(IOException.class, () -> ProcessRendezvous.exchange(l, stdin, out, 20_000));
      assertTrue(e.getMessage().contains("stdin closed"), e.getMessage());
    } finally {
      pipe.sink().close();
      pipe.source().close();
    }
  }

  private static void write(Pipe pipe, String s) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
    while (b.hasRemaining()) {
      pipe.sink().write(b);
    }
  }
}
