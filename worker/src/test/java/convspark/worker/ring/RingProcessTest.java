package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
