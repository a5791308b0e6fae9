package convspark.worker.ring;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A ring whose peers are threads of this JVM: in Spark's local mode every task of a barrier
 * stage runs in the driver's JVM, so the replicas sum through memory, with no socket, no port
 * and no copy into bytes. The sums are {@link Ring}'s, bit for bit: the logical vector (floats,
 * then doubles) is cut into the same P segments, and rank s sums segment s in the same order,
 * x_s + x_(s+1) + ... + x_(s+P-1) (ranks mod P), straight into its own vector, then copies the
 * segment into every peer's vector (rank s owns segment s: {@link #allreduce(float[], double[],
 * Owned)} rewrites it between the sum and the copies). Only rank s touches segment s of any
 * vector, so the ranks
 * work in parallel; two barriers per operation (all vectors published; all segments written)
 * order the rest.
 *
 * <p>{@link #stats()}: bytes sent are the bytes this rank copied into its peers' vectors, (P - 1)
 * times its segment, i.e. (P - 1) / P of the vector (the TCP ring sends twice that: the
 * reduce-scatter and the all-gather each carry it); bytes received are those it read from them.
 *
 * <p>Waiting: a rank that reaches a barrier before its peers spins for up to the ring's spin time
 * ({@link RingOptions#spinNanosFor}), then sleeps on the barrier's condition until they come.
 *
 * <p>Faults: a barrier waits at most the timeout, and then fails the operation on every rank,
 * naming the ranks that did not arrive; a rank that closes (its task failed or was killed) while
 * others wait for it, or before they arrive, fails them at once.
 */
public final class LocalRing implements Allreduce {
  /** Keyed by the job secret and the ring id: two jobs in one JVM never meet. */
  private static final ConcurrentHashMap<String, Group> GROUPS = new ConcurrentHashMap<>();

  /** Floats summed (and handed to an owned callback) at a time: 32 KiB, the TCP ring's chunk. */
  private static final int BLOCK = 8192;

  private final Group group;
  private final String key;
  private final long ringId;
  private final int rank;
  private final long timeoutNanos;
  private final long spinNanos;
  private final Ring.Stats stats = new Ring.Stats();
  private volatile boolean closed;

  /** The ranks of one ring: the published vectors and a breakable barrier. */
  private static final class Group {
    final int size;
    final float[][] floats;
    final double[][] doubles;
    final boolean[] joined;
    final boolean[] arrived;
    final boolean[] left;
    final ReentrantLock lock = new ReentrantLock();
    final Condition advanced = lock.newCondition();
    int waiting;
    /** Read without the lock by a spinning rank; written under it. */
    volatile long generation;
    int members;
    volatile String broken;

    Group(int size) {
      this.size = size;
      this.floats = new float[size][];
      this.doubles = new double[size][];
      this.joined = new boolean[size];
      this.arrived = new boolean[size];
      this.left = new boolean[size];
    }
  }

  private LocalRing(Group group, String key, long ringId, int rank, long timeoutNanos,
      long spinNanos) {
    this.group = group;
    this.key = key;
    this.ringId = ringId;
    this.rank = rank;
    this.timeoutNanos = timeoutNanos;
    this.spinNanos = spinNanos;
  }

  /**
   * Joins rank {@code rank} of the in-JVM ring {@code ringId} of {@code size} ranks of the job
   * that holds {@code secret}; a waiting rank sleeps at once.
   *
   * @param timeoutMillis how long a rank waits for the others at each step of an operation
   * @throws RingException if the rank is taken or the ring has another size
   */
  public static LocalRing join(byte[] secret, long ringId, int rank, int size,
      int timeoutMillis) throws RingException {
    return join(secret, ringId, rank, size, timeoutMillis, 0);
  }

  /**
   * As {@link #join(byte[], long, int, int, int)}, a waiting rank spinning for up to {@code
   * spinNanos} before it sleeps.
   */
  public static LocalRing join(byte[] secret, long ringId, int rank, int size,
      int timeoutMillis, long spinNanos) throws RingException {
    RingSecret.check(secret);
    if (spinNanos < 0) {
      throw new IllegalArgumentException("ring spin must be >= 0 ns, got " + spinNanos);
    }
    if (size < 1 || rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " outside a ring of " + size);
    }
    if (timeoutMillis <= 0) {
      throw new IllegalArgumentException("ring timeout must be > 0 ms, got " + timeoutMillis);
    }
    String key = java.util.HexFormat.of().formatHex(RingSecret.hmac(secret,
        java.nio.ByteBuffer.allocate(8).putLong(ringId).array()));
    Group g = GROUPS.computeIfAbsent(key, k -> new Group(size));
    g.lock.lock();
    try {
      if (g.size != size) {
        throw new RingException("in-JVM ring " + ringId + " has " + g.size + " ranks, rank "
            + rank + " expected " + size);
      }
      if (g.joined[rank]) {
        throw new RingException("rank " + rank + " of in-JVM ring " + ringId + " is taken");
      }
      g.joined[rank] = true;
      g.members++;
    } finally {
      g.lock.unlock();
    }
    return new LocalRing(g, key, ringId, rank, TimeUnit.MILLISECONDS.toNanos(timeoutMillis),
        spinNanos);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return group.size;
  }

  @Override
  public Ring.Stats stats() {
    return stats;
  }

  @Override
  public void allreduce(float[] f, double[] d, Owned owned) throws RingException {
    if (closed) {
      throw new RingException("ring rank " + rank + ": the ring is closed (an earlier operation "
          + "failed, or close() was called)");
    }
    long t0 = System.nanoTime();
    Group g = group;
    int p = g.size;
    if (p == 1) {
      if (owned != null && f.length > 0) {
        owned.summed(f, 0, f.length);
      }
    } else {
      try {
        g.floats[rank] = f;
        g.doubles[rank] = d;
        await("publish its vectors");
        // this operation's vectors, read once after the barrier
        float[][] fs = g.floats.clone();
        double[][] ds = g.doubles.clone();
        for (int r = 0; r < p; r++) {
          if (fs[r] == null || ds[r] == null) {
            throw new RingException("ring rank " + rank + ": rank " + r + " left the ring");
          }
          if (fs[r].length != f.length || ds[r].length != d.length) {
            throw new RingException("ring rank " + rank + ": rank " + r + " reduces "
                + fs[r].length + " floats and " + ds[r].length + " doubles, this rank "
                + f.length + " and " + d.length + " (do all peers reduce vectors of the same "
                + "length?)");
          }
        }
        reduceSegment(fs, ds, f.length, d.length, owned);
        await("write its segment");
      } catch (RingException | RuntimeException e) {
        close();
        throw e;
      }
    }
    stats.operations++;
    stats.seconds += (System.nanoTime() - t0) / 1e9;
  }

  /**
   * Sums segment {@code rank} in ring order into this rank's vectors, lets {@code owned} rewrite
   * its floats, and copies it to all.
   */
  private void reduceSegment(float[][] fs, double[][] ds, int nf, int nd, Owned owned) {
    int p = fs.length;
    long total = (long) nf + nd;
    long a = total * rank / p;
    long b = total * (rank + 1) / p;
    int fa = (int) Math.min(a, nf);
    int fb = (int) Math.min(b, nf);
    int da = (int) (Math.max(a, nf) - nf);
    int db = (int) (Math.max(b, nf) - nf);
    float[] mine = fs[rank];
    double[] myD = ds[rank];
    // block by block, so that a block is still in cache when owned rewrites it
    for (int from = fa; from < fb; from += BLOCK) {
      int to = Math.min(fb, from + BLOCK);
      for (int k = 1; k < p; k++) {
        float[] x = fs[(rank + k) % p];
        for (int i = from; i < to; i++) {
          mine[i] = mine[i] + x[i];
        }
      }
      if (owned != null) {
        owned.summed(mine, from, to);
      }
    }
    for (int k = 1; k < p; k++) {
      double[] y = ds[(rank + k) % p];
      for (int i = da; i < db; i++) {
        myD[i] = myD[i] + y[i];
      }
    }
    for (int k = 1; k < p; k++) {
      System.arraycopy(mine, fa, fs[(rank + k) % p], fa, fb - fa);
      System.arraycopy(myD, da, ds[(rank + k) % p], da, db - da);
    }
    long bytes = (long) (p - 1) * ((fb - fa) * 4L + (db - da) * 8L);
    stats.bytesSent += bytes;
    stats.bytesReceived += bytes;
  }

  /** Waits until every rank has arrived, or fails all of them. */
  private void await(String what) throws RingException {
    Group g = group;
    g.lock.lock();
    try {
      if (g.broken != null) {
        throw new RingException("ring rank " + rank + ": " + g.broken);
      }
      long gen = g.generation;
      g.arrived[rank] = true;
      if (++g.waiting == g.size) {
        g.waiting = 0;
        Arrays.fill(g.arrived, false);
        g.generation++;
        g.advanced.signalAll();
        return;
      }
      for (int r = 0; r < g.size; r++) {
        if (g.left[r]) {
          breakGroup(g, "rank " + r + " left the ring (its task ended or failed)");
          throw new RingException("ring rank " + rank + ": " + g.broken);
        }
      }
      long left = timeoutNanos;
      if (spinNanos > 0) {
        // the last rank advances the generation under the lock: spin without it, within the
        // timeout
        long spin = Math.min(spinNanos, timeoutNanos);
        long from = System.nanoTime();
        g.lock.unlock();
        try {
          while (g.generation == gen && g.broken == null && System.nanoTime() - from < spin) {
            Thread.onSpinWait();
          }
        } finally {
          g.lock.lock();
        }
        left -= System.nanoTime() - from;
      }
      while (g.generation == gen && g.broken == null) {
        if (left <= 0) {
          List<Integer> missing = new ArrayList<>();
          for (int r = 0; r < g.size; r++) {
            if (!g.arrived[r]) {
              missing.add(r);
            }
          }
          breakGroup(g, "rank(s) " + missing + " of in-JVM ring " + ringId + " did not arrive "
              + "within " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms (allreduce "
              + "operation " + (stats.operations + 1) + ": waiting for every rank to " + what
              + "): they stalled or died");
          break;
        }
        try {
          left = g.advanced.awaitNanos(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          breakGroup(g, "rank " + rank + " was interrupted during an allreduce");
        }
      }
      if (g.generation == gen) {
        throw new RingException("ring rank " + rank + ": " + g.broken);
      }
    } finally {
      g.lock.unlock();
    }
  }

  private static void breakGroup(Group g, String why) {
    if (g.broken == null) {
      g.broken = why;
    }
    g.advanced.signalAll();
  }

  /**
   * Leaves the ring (from any thread: the task's watchdog closes it when Spark kills the task).
   * Ranks waiting in an operation, this one included, or arriving later, fail at once: in a
   * round that ends normally every rank has finished its last operation before any closes, so
   * nobody waits.
   */
  @Override
  public void close() {
    Group g = group;
    g.lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      g.left[rank] = true;
      if (g.waiting > 0) {
        breakGroup(g, "rank " + rank + " left the ring (its task ended or failed)");
      }
      if (--g.members == 0) {
        GROUPS.remove(key, g);
        Arrays.fill(g.floats, null);
        Arrays.fill(g.doubles, null);
      }
    } finally {
      g.lock.unlock();
    }
  }

  @Override
  public String toString() {
    return "in-JVM ring " + ringId + ", rank " + rank + " of " + group.size;
  }
}
