package convspark.worker.ring;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A ring peer in its own JVM, for {@link RingProcessTest}: child {@code rank} joins the rings of
 * P = rank + 1 .. maxP peers in turn (addresses relayed by the parent over stdin/stdout), reduces
 * {@link RingProcessTest#LENGTHS} in each and prints {@code RESULT P n hash} per operation.
 */
public final class RingChild {
  private RingChild() {}

  public static void main(String[] args) throws Exception {
    int rank = Integer.parseInt(args[0]);
    int maxP = Integer.parseInt(args[1]);
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    byte[] secret = ProcessRendezvous.readSecret(stdin);
    RingOptions o = new RingOptions(60_000, 60_000, 1024);
    for (int p = rank + 1; p <= maxP; p++) {
      // even P through shared memory between the processes, odd P over loopback TCP
      RingListener l = RingListener.bind(RingFixtures.loopback(), o.withSharedMemory(p % 2 == 0));
      List<InetSocketAddress> peers = ProcessRendezvous.exchange(l, stdin, System.out);
      try (Ring ring = l.join(peers, rank, secret, p)) {
        if (p > 1 && ring.sharedMemory()[0] != (p % 2 == 0)) {
          throw new IllegalStateException("P=" + p + ": shared memory " + ring.sharedMemory()[0]);
        }
        for (int n : RingProcessTest.LENGTHS) {
          float[] f = RingFixtures.floats(rank, p, n, false);
          double[] d = RingFixtures.doubles(rank, p, 2);
          ring.allreduce(f, d);
          System.out.println("RESULT " + p + " " + n + " " + RingFixtures.hash(f, d));
        }
      }
      System.out.flush();
    }
  }
}
