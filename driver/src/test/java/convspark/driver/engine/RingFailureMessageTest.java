package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import convspark.driver.SparkTestSession;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import scala.collection.Iterator;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * The line a failed ring round reports ("failed (run k of N): ..." and the exit-3 reason) is
 * the task's error, not Spark's generic "barrier task ... finished unsuccessfully": Spark aborts
 * a failed barrier stage with an exception that has no cause and carries the task's error on
 * its second line.
 */
class RingFailureMessageTest {
  static final String WHY = "ring rank 1: rank 0 (/127.0.0.1:4242) sent nothing for 5000 ms "
      + "(allreduce operation 3, step 1 of 2): it stalled or died";

  /** Rank 1 fails as a ring whose peer went silent does; rank 0 is still running. */
  static final class Fail extends AbstractFunction1<Iterator<Integer>, Iterator<Integer>>
      implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<Integer> apply(Iterator<Integer> it) {
      if (BarrierTaskContext.get().partitionId() == 1) {
        throw new UncheckedIOException(WHY, new java.io.IOException("read timed out"));
      }
      try {
        SparkTestSession.sleepUnlessKilled(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return it;
    }
  }

  @Test
  void aFailedBarrierStageIsReportedByItsTasksError() {
    SparkSession spark = SparkTestSession.start();
    try {
      JavaRDD<Integer> rdd = SparkTestSession.jsc(spark).parallelize(List.of(0, 1), 2);
      Exception caught = null;
      try {
        new JavaRDD<>(rdd.rdd().barrier().mapPartitions(new Fail(), false,
            ClassTag$.MODULE$.apply(Integer.class)), ClassTag$.MODULE$.apply(Integer.class))
            .collect();
      } catch (Exception e) {
        caught = e;
      }
      assertNotNull(caught, "the barrier stage did not fail");
      assertEquals(WHY, RingEngine.firstLine(caught), String.valueOf(caught.getMessage()));
    } finally {
      SparkTestSession.stop(spark);
    }
  }

  @Test
  void otherErrorsKeepTheirFirstLine() {
    assertEquals("in-JVM ring 7 has 2 ranks", RingEngine.firstLine(
        new IllegalStateException("in-JVM ring 7 has 2 ranks\nsecond line")));
    assertEquals("unknown", RingEngine.firstLine(null));
  }
}
