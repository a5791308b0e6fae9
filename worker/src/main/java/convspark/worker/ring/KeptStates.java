package convspark.worker.ring;

import convspark.worker.ModelState;
import java.lang.ref.SoftReference;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The states the ring engine's replicas ended their last round with, kept in this JVM (an
 * executor) for the next round of the same job. Every replica ends a round with the same state,
 * bit for bit, and the driver starts the next round from the one rank 0 returned, unchanged. So
 * a replica that finds a state kept from that round, with the fingerprint of the driver's start
 * state, starts from it instead of fetching and deserializing the driver's broadcast.
 *
 * <p>A pool, not a map by rank: any replica's state will do, and Spark may place a rank on
 * another executor from one round to the next. A task takes a state for itself (it updates it in
 * place), so two tasks on one executor take two, and a round that fails and runs again finds
 * none and fetches the broadcast. Only the states of the latest round kept are held: keeping a
 * state of another round or job drops the others, so the pool never holds more than this JVM's
 * tasks of one round. The states are held by soft references, which the garbage collector clears
 * before this JVM runs out of memory; the task then fetches the broadcast.
 */
public final class KeptStates {
  /** The pool of this JVM, shared by the ring engine's tasks in it. */
  public static final KeptStates IN_THIS_JVM = new KeptStates();

  private record Kept(long job, long round, long fingerprint, SoftReference<ModelState> state) {}

  /**
   * What {@link #take} found.
   *
   * @param state the kept state, now the caller's; null when none could be used
   * @param why why none could be used, for the log; null when one was
   */
  public record Taken(ModelState state, String why) {}

  private final List<Kept> kept = new ArrayList<>();
  private long taken;

  /**
   * Keeps the state a replica ended round {@code round} of job {@code job} with; the caller
   * must not change it afterwards. Drops the states of every other round and job.
   */
  public void keep(long job, long round, ModelState state) {
    long fingerprint = state.fingerprint();
    synchronized (this) {
      kept.removeIf(k -> k.job() != job || k.round() != round);
      kept.add(new Kept(job, round, fingerprint, new SoftReference<>(state)));
    }
  }

  /**
   * Takes a state kept from round {@code round} of job {@code job} whose fingerprint is
   * {@code fingerprint}, removing it from the pool. A state of that round whose fingerprint
   * differs (it is not the state the driver starts from) is dropped, and so is one the garbage
   * collector cleared.
   */
  public synchronized Taken take(long job, long round, long fingerprint) {
    String why = null;
    for (Iterator<Kept> it = kept.iterator(); it.hasNext(); ) {
      Kept k = it.next();
      if (k.job() != job || k.round() != round) {
        continue;
      }
      it.remove();
      ModelState s = k.state().get();
      if (s == null) {
        why = "the state kept from ring " + round + " was dropped by the garbage collector";
      } else if (k.fingerprint() != fingerprint) {
        why = String.format("the state kept from ring %d differs from the driver's (fingerprint "
            + "%016x, the driver's %016x)", round, k.fingerprint(), fingerprint);
      } else {
        taken++;
        return new Taken(s, null);
      }
    }
    if (why == null) {
      why = kept.stream().anyMatch(k -> k.job() == job)
          ? "this executor kept states of another ring than " + round
          : "this executor kept no state of this job's ring " + round;
    }
    return new Taken(null, why);
  }

  /** How many states {@link #take} has handed out. */
  public synchronized long taken() {
    return taken;
  }

  /** How many states the pool holds (cleared ones included). */
  public synchronized int size() {
    return kept.size();
  }
}
