package convspark.worker.ring;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The rings the ring engine's replicas ended their last round with, left open in this JVM (an
 * executor) for the next round of the same job, so that a round whose tasks land where the last
 * round's did skips forming its links: the TCP connections, their handshakes and the
 * shared-memory files (36-82 ms less per round on the 2-executor cluster, docs/BENCHMARKS.md,
 * "Kept links").
 *
 * <p>Keyed by job and rank: a task takes the ring this JVM kept for its own rank. It uses the
 * links only when every rank of the new round holds links of the same earlier ring (what the
 * rendezvous tells all of them alike, {@link RingRendezvous.Peers#keptRing}): then rank r of the
 * new round holds the end of rank r of that ring, for every r, and the links join exactly the
 * neighbours the new round needs. Otherwise every task closes what it took and forms new links.
 * Keeping a ring of another round or job closes the older ones, so this JVM never holds more
 * than its tasks' links of one round; a ring nobody takes within {@link #IDLE_MILLIS} is closed
 * (the job ended, or its executors moved).
 */
public final class KeptRings {
  /** A kept ring that no round takes for this long is closed. */
  public static final long IDLE_MILLIS = TimeUnit.MINUTES.toMillis(10);

  /** The rings of this JVM, shared by the ring engine's tasks in it. */
  public static final KeptRings IN_THIS_JVM = new KeptRings(IDLE_MILLIS);

  /** A kept ring; {@code expiry} closes it after the idle time, and is cancelled once it goes. */
  private static final class Kept {
    final long job;
    final long ring;
    final Ring links;
    ScheduledFuture<?> expiry; // guarded by the pool

    Kept(long job, long ring, Ring links) {
      this.job = job;
      this.ring = ring;
      this.links = links;
    }
  }

  /**
   * What {@link #take} found.
   *
   * @param ring the id of the ring the links were kept from; -1 when none
   * @param links the kept links, now the caller's (to use or close); null when none
   */
  public record Taken(long ring, Ring links) {
    /** Nothing kept. */
    public static final Taken NONE = new Taken(-1, null);
  }

  private final long idleMillis;
  private final List<Kept> kept = new ArrayList<>();
  private long reused;
  private ScheduledThreadPoolExecutor expiry; // guarded by this; started on first keep

  KeptRings(long idleMillis) {
    this.idleMillis = idleMillis;
  }

  /**
   * Keeps the links a replica ended round {@code ring} of job {@code job} with; the caller must
   * not use or close them afterwards. Closes the kept links of every other round and job.
   */
  public void keep(long job, long ring, Ring links) {
    List<Ring> dropped = new ArrayList<>();
    Kept k = new Kept(job, ring, links);
    synchronized (this) {
      for (Iterator<Kept> it = kept.iterator(); it.hasNext(); ) {
        Kept o = it.next();
        if (o.job != job || o.ring != ring || o.links.rank() == links.rank()) {
          it.remove();
          o.expiry.cancel(false);
          dropped.add(o.links);
        }
      }
      kept.add(k);
      if (expiry == null) {
        expiry = new ScheduledThreadPoolExecutor(1, r -> {
          Thread t = new Thread(r, "convspark-kept-rings");
          t.setDaemon(true);
          return t;
        });
        // a cancelled expiry leaves the queue at once: it would hold its closed ring's buffers
        // for the whole idle time, one per round
        expiry.setRemoveOnCancelPolicy(true);
      }
      k.expiry = expiry.schedule(() -> expire(k), idleMillis, TimeUnit.MILLISECONDS);
    }
    dropped.forEach(Ring::close);
  }

  private void expire(Kept k) {
    boolean removed;
    synchronized (this) {
      removed = kept.remove(k);
    }
    if (removed) {
      k.links.close();
    }
  }

  /**
   * Takes the links this JVM kept for rank {@code rank} of a ring of {@code size} of job
   * {@code job}, removing them from the pool; {@link Taken#NONE} when there are none, or they
   * were closed since (a peer failed them, or Spark killed the task that kept them).
   */
  public Taken take(long job, int rank, int size) {
    Kept found = null;
    synchronized (this) {
      for (Iterator<Kept> it = kept.iterator(); it.hasNext(); ) {
        Kept k = it.next();
        if (k.job == job && k.links.rank() == rank && k.links.size() == size) {
          it.remove();
          k.expiry.cancel(false);
          found = k;
          break;
        }
      }
    }
    if (found == null || found.links.isClosed()) {
      return Taken.NONE;
    }
    return new Taken(found.ring, found.links);
  }

  /** A task goes on with links it took: counted for {@link #reused}. */
  public synchronized void reusing() {
    reused++;
  }

  /** How many times a task went on with kept links ({@link #reusing}). */
  public synchronized long reused() {
    return reused;
  }

  /** Closes and forgets the rings kept for job {@code job}. */
  public void closeJob(long job) {
    List<Kept> mine = new ArrayList<>();
    synchronized (this) {
      for (Iterator<Kept> it = kept.iterator(); it.hasNext(); ) {
        Kept k = it.next();
        if (k.job == job) {
          it.remove();
          k.expiry.cancel(false);
          mine.add(k);
        }
      }
    }
    mine.forEach(k -> k.links.close());
  }

  /** How many rings the pool holds. */
  public synchronized int size() {
    return kept.size();
  }

  /** How many expiries are scheduled: one per kept ring, none for rings gone. */
  synchronized int pendingExpiries() {
    return expiry == null ? 0 : expiry.getQueue().size();
  }

  /** Closes and forgets every kept ring. */
  public void closeAll() {
    List<Kept> all;
    synchronized (this) {
      all = new ArrayList<>(kept);
      kept.clear();
      all.forEach(k -> k.expiry.cancel(false));
    }
    all.forEach(k -> k.links.close());
  }
}
