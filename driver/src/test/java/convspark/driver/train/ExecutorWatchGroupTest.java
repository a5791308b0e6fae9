package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.SparkTestSession;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * The Spark ML API's watch ({@link ExecutorWatch#during}) runs fit's jobs in a job group and
 * cancels only that group's jobs once the cluster has had no executor for the limit, never
 * another job of the caller's session; it keeps a job group the caller set (which can then
 * still cancel fit) and gives the thread back what it had. (Under this local master {@code
 * during} starts no watch thread; the watch it would start, {@link ExecutorWatch#overGroup}, is
 * polled here with no executor registered.)
 */
class ExecutorWatchGroupTest {
  static final long S = 1_000_000_000L;

  @Test
  void onlyFitsJobsAreCancelledAndTheCallersGroupIsKept() throws Exception {
    SparkSession spark = SparkTestSession.start();
    JavaFutureAction<List<Integer>> other = null;
    JavaFutureAction<List<Integer>> mine = null;
    try {
      JavaSparkContext jsc = SparkTestSession.jsc(spark);
      SparkContext sc = jsc.sc();
      // Spark's own count of task slots, which the watch reads: local[2], 1 cpu per task, and
      // no executor besides the driver
      assertEquals(new SparkSessions.Capacity(0, 2), SparkSessions.capacity(sc));
      // another job of the session, outside fit, running beside it
      sc.setJobGroup("someone-else", "not fit", false);
      other = sleeper(jsc);
      sc.clearJobGroup();
      try (AutoCloseable watch = ExecutorWatch.during(sc, 120, "CnnClassifier.fit")) {
        String group = sc.getLocalProperty("spark.jobGroup.id");
        assertNotNull(group, "fit's jobs run in no job group");
        mine = sleeper(jsc);
        int id = mine.jobIds().get(0);
        long until = System.nanoTime() + 30 * S;
        while (ExecutorWatch.activeIn(sc, group).length == 0 && System.nanoTime() < until) {
          Thread.sleep(50);
        }
        ExecutorWatch w = ExecutorWatch.overGroup(sc, 120_000, group,
            () -> new SparkSessions.Capacity(0, 0), 0);
        assertEquals(Set.of(), w.poll(100 * S), "cancelled before the limit");
        assertEquals(Set.of(id), w.poll(121 * S), "not fit's job alone");
        JavaFutureAction<List<Integer>> cancelled = mine;
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> cancelled.get(30, TimeUnit.SECONDS));
        assertTrue(String.valueOf(e.getCause().getMessage()).contains(
            "no executor has been registered with master"), String.valueOf(e.getCause()));
        assertFalse(other.isDone(), "the other job of the session was cancelled too");
      }
      assertNull(sc.getLocalProperty("spark.jobGroup.id"), "the thread keeps fit's job group");
      // a caller that set its own group keeps it, and the watch watches that group
      sc.setJobGroup("callers", "a notebook cell", true);
      try (AutoCloseable watch = ExecutorWatch.during(sc, 120, "CnnClassifier.fit")) {
        assertEquals("callers", sc.getLocalProperty("spark.jobGroup.id"));
      }
      assertEquals("callers", sc.getLocalProperty("spark.jobGroup.id"));
      assertEquals("true", sc.getLocalProperty("spark.job.interruptOnCancel"));
    } finally {
      for (JavaFutureAction<?> j : new JavaFutureAction<?>[] {other, mine}) {
        if (j != null) {
          j.cancel(true);
        }
      }
      SparkTestSession.stop(spark);
    }
  }

  private static JavaFutureAction<List<Integer>> sleeper(JavaSparkContext jsc) {
    return jsc.parallelize(List.of(1), 1).map(x -> {
      SparkTestSession.sleepUnlessKilled(30_000);
      return x;
    }).collectAsync();
  }
}
