package convspark.driver.train;

import java.util.HashSet;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;

/**
 * Fails the jobs of a command whose cluster has had no executor that can run a task (no task
 * slot) for {@code spark.executor-wait-seconds}: when every worker dies mid-run, or only
 * executors with fewer cores than {@code spark.task.cpus} are left, Spark keeps the jobs pending
 * and waits for resources forever. The watch cancels each active job once, with a reason that
 * names the config key; the step engine's failure (exit 3, naming the last good checkpoint) follows.
 * {@link SparkSessions#awaitExecutors} covers the start, this the rest of the run. Not used for
 * local masters, nor under dynamic allocation (executors may then leave when idle).
 *
 * <p>The Spark ML API's {@code fit} runs in the caller's session, beside other jobs: there the
 * watch lasts as long as {@code fit} and cancels only the jobs of {@code fit}'s own job group
 * ({@link #during}).
 */
public final class ExecutorWatch {
  private final String master;
  private final long timeoutNanos;
  private final String task;
  private final Supplier<SparkSessions.Capacity> capacity;
  private final Supplier<int[]> activeJobs;
  private final BiConsumer<Integer, String> cancel;
  private final Set<Integer> cancelled = new HashSet<>();
  private long lastSeen;
  private boolean warned;

  /**
   * @param task what a task asks for ({@link SparkSessions#taskAsks}), for the message
   * @param capacity the cluster's executors and task slots now
   */
  ExecutorWatch(String master, String task, long timeoutMillis,
      Supplier<SparkSessions.Capacity> capacity, Supplier<int[]> activeJobs,
      BiConsumer<Integer, String> cancel, long now) {
    this.master = master;
    this.task = task;
    this.timeoutNanos = timeoutMillis * 1_000_000L;
    this.capacity = capacity;
    this.activeJobs = activeJobs;
    this.cancel = cancel;
    this.lastSeen = now;
  }

  /** Starts a daemon thread that polls every second until the context stops. */
  static void start(SparkContext sc, int timeoutSeconds) {
    ExecutorWatch w = new ExecutorWatch(sc.master(), SparkSessions.taskAsks(sc.getConf()),
        timeoutSeconds * 1000L, () -> SparkSessions.capacity(sc),
        () -> sc.statusTracker().getActiveJobIds(), sc::cancelJob, System.nanoTime());
    Thread t = new Thread(() -> w.run(sc::isStopped, 1000), "convspark-executor-watch");
    t.setDaemon(true);
    t.start();
  }

  /**
   * Runs the jobs that the calling thread submits until {@link AutoCloseable#close} in a job
   * group (the caller's own, if it set one, so that it can still cancel them; else a new one),
   * and watches them: with a cluster master (not local, no dynamic allocation), once no executor
   * that can run a task has been registered for {@code timeoutSeconds}, the group's active jobs
   * are cancelled, naming the config key. Closing stops the watch and gives the thread back its
   * previous job group. For work in a session that others use too.
   *
   * @param what names the work in the job group's description ("CnnClassifier.fit")
   */
  public static AutoCloseable during(SparkContext sc, int timeoutSeconds, String what) {
    String[] keys = {"spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"};
    String[] before = new String[keys.length];
    for (int i = 0; i < keys.length; i++) {
      before[i] = sc.getLocalProperty(keys[i]);
    }
    String group = before[0];
    if (group == null) {
      group = "convspark-" + java.util.UUID.randomUUID();
      sc.setJobGroup(group, what, false);
    }
    String watched = group;
    Thread t = null;
    if (!SparkSessions.isLocal(sc.master())
        && !sc.getConf().getBoolean("spark.dynamicAllocation.enabled", false)) {
      ExecutorWatch w = overGroup(sc, timeoutSeconds * 1000L, watched,
          () -> SparkSessions.capacity(sc), System.nanoTime());
      t = new Thread(() -> w.run(sc::isStopped, 1000), "convspark-executor-watch");
      t.setDaemon(true);
      t.start();
    }
    Thread watch = t;
    return () -> {
      if (watch != null) {
        watch.interrupt();
        // a poll under way could otherwise still cancel a job the caller starts next in its
        // own group
        watch.join(2000);
      }
      for (int i = 0; i < keys.length; i++) {
        sc.setLocalProperty(keys[i], before[i]);
      }
    };
  }

  /** A watch over the active jobs of job group {@code group} only. */
  static ExecutorWatch overGroup(SparkContext sc, long timeoutMillis, String group,
      Supplier<SparkSessions.Capacity> capacity, long now) {
    return new ExecutorWatch(sc.master(), SparkSessions.taskAsks(sc.getConf()), timeoutMillis,
        capacity, () -> activeIn(sc, group), sc::cancelJob, now);
  }

  /** The active jobs of job group {@code group}. */
  static int[] activeIn(SparkContext sc, String group) {
    Set<Integer> mine = new HashSet<>();
    for (int id : sc.statusTracker().getJobIdsForGroup(group)) {
      mine.add(id);
    }
    return java.util.Arrays.stream(sc.statusTracker().getActiveJobIds())
        .filter(mine::contains).toArray();
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
    SparkSessions.Capacity c = capacity.get();
    if (c.slots() > 0) {
      lastSeen = now;
      warned = false;
      return done;
    }
    if (now - lastSeen < timeoutNanos) {
      return done;
    }
    long seconds = timeoutNanos / 1_000_000_000L;
    String reason = c.executors() == 0
        ? "no executor has been registered with master " + master + " for " + seconds
            + " s (config key spark.executor-wait-seconds): every worker or executor was lost"
        : "no executor registered with master " + master + " has been able to run a task for "
            + seconds + " s (config key spark.executor-wait-seconds): each of the "
            + c.executors() + " left has less than a task asks for (" + task + ")";
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
