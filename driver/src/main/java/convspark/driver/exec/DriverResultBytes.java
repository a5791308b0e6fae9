package convspark.driver.exec;

import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Measures the task result bytes the driver receives for the jobs run inside {@link #measure}:
 * a {@link SparkListener} that sums Spark's own {@code TaskMetrics.resultSize} (set by the
 * driver from the bytes it received, direct results and results fetched from an executor's
 * BlockManager alike) over every finished task of those jobs. Jobs are recognised by a local
 * property set around the measured code, unique to this listener, so other jobs (validation,
 * start-up probes, another run in the same context) are not counted, and a caller's own job
 * group is left alone. Broadcast bytes the driver sends are not results and are not counted.
 */
public final class DriverResultBytes extends SparkListener implements AutoCloseable {
  /** The local property that marks measured jobs (its value identifies the listener). */
  static final String PROPERTY = "convspark.driverResultBytes";
  /** How long {@link #take} waits for Spark's listener bus to deliver pending events. */
  static final long DRAIN_MILLIS = 10_000;

  private final SparkContext sc;
  private final String tag = UUID.randomUUID().toString();
  private final Set<Integer> stages = ConcurrentHashMap.newKeySet();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong tasks = new AtomicLong();

  private DriverResultBytes(SparkContext sc) {
    this.sc = sc;
  }

  /** A listener registered on {@code jsc}'s context; {@link #close} removes it. */
  public static DriverResultBytes register(JavaSparkContext jsc) {
    DriverResultBytes l = new DriverResultBytes(jsc.sc());
    jsc.sc().addSparkListener(l);
    return l;
  }

  /** Runs {@code body}, counting the result bytes of every job it submits on this thread. */
  public <T> T measure(Supplier<T> body) {
    String before = sc.getLocalProperty(PROPERTY);
    sc.setLocalProperty(PROPERTY, tag);
    try {
      return body.get();
    } finally {
      sc.setLocalProperty(PROPERTY, before);
    }
  }

  /** What was received since the last {@code take}. */
  public record Received(long bytes, long tasks) {}

  /**
   * The bytes and finished tasks counted since the last call. Spark delivers listener events
   * asynchronously: this first waits up to {@value #DRAIN_MILLIS} ms for its listener bus to
   * drain (an undrained bus leaves the rest to the next call).
   */
  public Received take() {
    try {
      sc.listenerBus().waitUntilEmpty(DRAIN_MILLIS);
    } catch (TimeoutException e) {
      // counted later: the figures are sums, nothing is lost
    }
    return new Received(bytes.getAndSet(0), tasks.getAndSet(0));
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted e) {
    Properties p = e.properties();
    if (p != null && tag.equals(p.getProperty(PROPERTY))) {
      stages.add(e.stageInfo().stageId());
    }
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd e) {
    if (e.taskMetrics() != null && stages.contains(e.stageId())) {
      bytes.addAndGet(e.taskMetrics().resultSize());
      tasks.incrementAndGet();
    }
  }

  @Override
  public void close() {
    sc.removeSparkListener(this);
  }
}
