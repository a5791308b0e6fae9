package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import convspark.driver.config.RunConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * Stopping the session after a failed job: a job whose one task fails leaves its other tasks
 * running, and a context stopped under them makes Spark log errors with stack traces after the
 * command's one-line message (a task's completion listener finds its broadcast block gone).
 * {@link SparkSessions#stop} waits for them.
 */
class SparkSessionsStopTest {
  /** How long the surviving task of the failed job runs on. */
  static final long SURVIVOR_MILLIS = 1500;

  @Test
  void stopWaitsForTheTasksAFailedJobLeftRunning() {
    List<LogEvent> errors = Collections.synchronizedList(new ArrayList<>());
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    AbstractAppender capture = new AbstractAppender("stop-capture", null, null, true,
        Property.EMPTY_ARRAY) {
      @Override
      public void append(LogEvent event) {
        // the failed task's own error is expected; a completion listener's is the symptom
        if (event.getLoggerName().equals("org.apache.spark.TaskContextImpl")) {
          errors.add(event.toImmutable());
        }
      }
    };
    capture.start();
    ctx.getConfiguration().getRootLogger().addAppender(capture, Level.ALL, null);
    ctx.updateLoggers();
    long stopMillis;
    SparkSession s = null;
    try {
      // Spark's status store writes an executor's count of running tasks when it drops to 0 and
      // otherwise at most every spark.ui.liveUpdate.period (100 ms), so after a stage's end it
      // can say 0 while the next stage's tasks run; a long period makes that certain here
      s = SparkSessions.start(new RunConfig.Spark("local[2]", "stop-test",
          Map.of("spark.ui.liveUpdate.period", "1h"), 60), null);
      JavaSparkContext jsc = SparkSessions.context(s);
      Broadcast<int[]> b = jsc.broadcast(new int[1024]);
      jsc.parallelize(List.of(0, 1), 2).count();
      assertThrows(Exception.class, () -> jsc.parallelize(List.of(0, 1), 2).foreach(i -> {
        int n = b.value().length; // holds the broadcast block until the task completes
        if (i == 0) {
          throw new IllegalArgumentException("a bad row (" + n + ")");
        }
        Thread.sleep(SURVIVOR_MILLIS); // the other task: a failed job does not interrupt it
      }));
      long t0 = System.nanoTime();
      SparkSessions.stop(s);
      stopMillis = (System.nanoTime() - t0) / 1_000_000;
    } finally {
      if (s != null && !s.sparkContext().isStopped()) {
        SparkSessions.stop(s); // a failed assertion leaves no session to the next test class
      }
      ctx.getConfiguration().getRootLogger().removeAppender("stop-capture");
      ctx.updateLoggers();
    }
    assertTrue(stopMillis >= SURVIVOR_MILLIS / 2 && stopMillis < SparkSessions.DRAIN_MILLIS,
        "stop returned after " + stopMillis + " ms, while a task ran on for about "
            + SURVIVOR_MILLIS + " ms after the job failed");
    for (LogEvent e : errors) {
      fail("logged: " + e.getLevel() + " " + e.getLoggerName() + " "
          + e.getMessage().getFormattedMessage() + " (thread " + e.getThreadName() + "): "
          + e.getThrown());
    }
  }
}
