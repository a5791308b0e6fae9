package convspark.driver.train;

import java.util.HashSet;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;

/**
 * Fails the jobs of a command whose cluster has had no executor for {@code
 * spark.executor-wait-seconds}: when every worker dies mid-run, Spark keeps the jobs pending and
 * waits for resources forever. The watch cancels each active job once, with a reason that names
 * the config key; the step engine's failure (exit 3, naming the last good checkpoint) follows.
 * {@link SparkSessions#awaitExecutors} covers the start, this the rest of the run. Not used for
 * local masters, nor under dynamic allocation (executors may then leave when idle).
 */
final class ExecutorWatch {
  private final String master;
  private final long timeoutNanos;
  private final IntSupplier executors;
  private final Supplier<int[]> activeJobs;
  private final BiConsumer<Integer, String> cancel;
  private final Set<Integer> cancelled = new HashSet<>();
  private long lastSeen;
  private boolean warned;

  ExecutorWatch(String master, long timeoutMillis, IntSupplier executors,
      Supplier<int[]> activeJobs, BiConsumer<Integer, String> cancel, long now) {
    this.master = master;
    this.timeoutNanos = timeoutMillis * 1_000_000L;
    this.executors = executors;
    this.activeJobs = activeJobs;
    this.cancel = cancel;
    this.lastSeen = now;
  }

  /** Starts a daemon thread that polls every second until the context stops. */
  static void start(SparkContext sc, int timeoutSeconds) {
    ExecutorWatch w = new ExecutorWatch(sc.master(), timeoutSeconds * 1000L,
        () -> SparkSessions.executors(sc),
        () -> sc.statusTracker().getActiveJobIds(), sc::cancelJob, System.nanoTime());
    Thread t = new Thread(() -> w.run(sc::isStopped, 1000), "convspark-executor-watch");
    t.setDaemon(true);
    t.start();
  }

  private void run(BooleanSupplier stopped, long pollMillis) {
    try {
      while (!stopped.getAsBoolean()) {
        poll(System.nanoTime());
        Thread.sleep(pollMillis);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      // the context stopped under a status call: nothing left to watch
    }
  }

  /** One look at time {@code now} (System.nanoTime); returns the jobs it cancelled. */
  Set<Integer> poll(long now) {
    Set<Integer> done = new HashSet<>();
    if (executors.getAsInt() > 0) {
      lastSeen = now;
      warned = false;
      return done;
    }
    if (now - lastSeen < timeoutNanos) {
      return done;
    }
    String reason = "no executor has been registered with master " + master + " for "
        + timeoutNanos / 1_000_000_000L + " s (config key spark.executor-wait-seconds): every "
        + "worker or executor was lost";
    if (!warned) {
      System.err.println("convspark: " + reason + "; failing the running jobs");
      warned = true;
    }
    for (int id : activeJobs.get()) {
      if (cancelled.add(id)) {
        // Spark's message reads "Job 7 cancelled " + the reason
        cancel.accept(id, "because " + reason);
        done.add(id);
      }
    }
    return done;
  }
}
