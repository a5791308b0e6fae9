package convspark.driver;

import convspark.driver.train.SparkSessions;
import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * One local[2] Spark session for a test class (start in @BeforeAll, stop in @AfterAll). A test
 * that leaves tasks running (a cancelled or failed job's) stops it with {@link #stop}: a task
 * that outlives its context makes Spark log errors with stack traces into a later test's log.
 */
public final class SparkTestSession {
  private SparkTestSession() {}

  public static SparkSession start() {
    SparkConf conf = new SparkConf().setMaster("local[2]").setAppName("convspark-test")
        .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
        .set("spark.sql.shuffle.partitions", "2");
    SparkSession s = SparkSession.builder().config(conf).getOrCreate();
    s.sparkContext().setLogLevel("ERROR");
    SparkSessions.trackTasks(s);
    return s;
  }

  /** Stops the session once its tasks have ended (waiting at most 10 s). */
  public static void stop(SparkSession s) {
    SparkSessions.stop(s);
  }

  /**
   * In a task: sleeps for {@code millis}, or less once Spark kills the task (a cancelled job,
   * a failed stage), which a plain sleep does not notice unless Spark interrupts the thread.
   */
  public static void sleepUnlessKilled(long millis) throws InterruptedException {
    long until = System.nanoTime() + millis * 1_000_000L;
    while (System.nanoTime() < until && !TaskContext.get().isInterrupted()) {
      Thread.sleep(20);
    }
  }

  public static JavaSparkContext jsc(SparkSession s) {
    return JavaSparkContext.fromSparkContext(s.sparkContext());
  }
}
