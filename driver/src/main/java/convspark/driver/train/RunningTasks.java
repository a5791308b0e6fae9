package convspark.driver.train;

import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;

/**
 * The tasks running in a Spark context, counted from Spark's own task start and end events, for
 * {@link SparkSessions#stop}: a task's end event comes after its completion listeners have run.
 *
 * <p>Spark's status store (what {@code statusTracker().getExecutorInfos()} reads) will not do: it
 * writes an executor's count of running tasks when the count drops to 0 and otherwise at most
 * every {@code spark.ui.liveUpdate.period} (100 ms), so right after a stage's end it can say 0
 * while the next stage's tasks run.
 */
final class RunningTasks extends SparkListener {
  private static final Map<SparkContext, RunningTasks> BY_CONTEXT =
      Collections.synchronizedMap(new WeakHashMap<>());

  private final AtomicInteger running = new AtomicInteger();

  private RunningTasks() {}

  /** Starts counting the tasks of {@code sc} (once per context). */
  static void attach(SparkContext sc) {
    BY_CONTEXT.computeIfAbsent(sc, c -> {
      RunningTasks t = new RunningTasks();
      c.addSparkListener(t);
      return t;
    });
  }

  /** The count of {@code sc}'s tasks, or null when {@link #attach} was not called for it. */
  static RunningTasks of(SparkContext sc) {
    return BY_CONTEXT.get(sc);
  }

  /** Tasks started and not yet ended, as far as the events delivered so far tell. */
  int count() {
    return running.get();
  }

  /**
   * Waits up to {@code timeoutMillis} for Spark to deliver the events posted so far, so that
   * {@link #count} includes every task started before this call. {@code
   * LiveListenerBus.waitUntilEmpty} is private[spark] in Scala and public to Java, in both Spark
   * lines this project builds for; without it, a short pause stands in.
   */
  static void awaitEvents(SparkContext sc, long timeoutMillis) throws InterruptedException {
    try {
      sc.listenerBus().waitUntilEmpty(timeoutMillis);
    } catch (TimeoutException e) {
      // the wait that follows is bounded too
    } catch (LinkageError e) {
      Thread.sleep(Math.min(timeoutMillis, 200));
    }
  }

  @Override
  public void onTaskStart(SparkListenerTaskStart taskStart) {
    running.incrementAndGet();
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
    running.decrementAndGet();
  }
}
