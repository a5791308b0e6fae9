package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.SparkTestSession;
import java.util.List;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * The Spark ML API's watch ({@link ExecutorWatch#during}) runs fit's jobs in a job group and
 * would cancel only that group's jobs, never another job of the caller's session; it keeps a
 * job group the caller set (which can then still cancel fit) and gives the thread back what it
 * had.
 */
class ExecutorWatchGroupTest {
  @Test
  void theWatchedGroupIsFitsOwnOrTheCallersAndOnlyItsJobsCount() throws Exception {
    SparkSession spark = SparkTestSession.start();
    JavaFutureAction<List<Integer>> other = null;
    try {
      JavaSparkContext jsc = SparkTestSession.jsc(spark);
      SparkContext sc = jsc.sc();
      // another job of the session, outside fit: running beside it
      sc.setJobGroup("someone-else", "not fit", false);
      other = jsc.parallelize(List.of(1), 1).map(x -> {
        Thread.sleep(30_000);
        return x;
      }).collectAsync();
      sc.clearJobGroup();
      String group;
      JavaFutureAction<List<Integer>> mine;
      try (AutoCloseable watch = ExecutorWatch.during(sc, 120, "CnnClassifier.fit")) {
        group = sc.getLocalProperty("spark.jobGroup.id");
        assertNotNull(group, "fit's jobs run in no job group");
        mine = jsc.parallelize(List.of(2), 1).map(x -> {
          Thread.sleep(30_000);
          return x;
        }).collectAsync();
        long until = System.nanoTime() + 30_000_000_000L;
        while (ExecutorWatch.activeIn(sc, group).length == 0 && System.nanoTime() < until) {
          Thread.sleep(50);
        }
        assertArrayEquals(new int[] {mine.jobIds().get(0)}, ExecutorWatch.activeIn(sc, group),
            "the watch sees other jobs than fit's, or not fit's");
      }
      mine.cancel(true);
      assertNull(sc.getLocalProperty("spark.jobGroup.id"), "the thread keeps fit's job group");
      // a caller that set its own group keeps it, and the watch watches it
      sc.setJobGroup("callers", "a notebook cell", true);
      try (AutoCloseable watch = ExecutorWatch.during(sc, 120, "CnnClassifier.fit")) {
        assertEquals("callers", sc.getLocalProperty("spark.jobGroup.id"));
      }
      assertEquals("callers", sc.getLocalProperty("spark.jobGroup.id"));
      assertEquals("true", sc.getLocalProperty("spark.job.interruptOnCancel"));
      assertTrue(other.jobIds().size() == 1);
    } finally {
      if (other != null) {
        other.cancel(true);
      }
      spark.stop();
    }
  }
}
