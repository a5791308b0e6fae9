package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.SparkTestSession;
import convspark.driver.config.RunConfig;
import convspark.worker.TrainingFailedException;
import java.util.List;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * A ring round whose barrier tasks cannot all get a slot fails after
 * train.ring.start-timeout-seconds
 * with a message saying so: Spark starts a barrier stage's tasks all at once or not at all, and
 * waits without end for the slots (an executor lost and not replaced; here another job holds
 * one of local[2]'s two slots), while no ring timeout runs, since no ring task has started.
 */
class RingRoundStartTest {
  @Test
  void aRoundThatCannotGetItsSlotsFailsAfterTheTimeout() {
    SparkSession spark = SparkTestSession.start();
    JavaFutureAction<List<Integer>> blocker = null;
    try {
      JavaSparkContext jsc = SparkTestSession.jsc(spark);
      Network net = new Network(ModelSpec.parse("""
          input { channels = 1, height = 12, width = 12 }
          layers = [ { type = flatten }, { type = dense, units = 3 } ]
          """));
      EngineFixture.Case c = EngineFixture.open(jsc, net, 2, 20, "round-start");
      Round round = new Round(0, 0, 0, 5, 5, c.plan(), StepListener.NONE);
      // one task that holds a slot for 60 s
      blocker = jsc.parallelize(List.of(1), 1).map(x -> {
        SparkTestSession.sleepUnlessKilled(60_000);
        return x;
      }).collectAsync();
      long until = System.nanoTime() + 30_000_000_000L;
      while (jsc.statusTracker().getActiveStageIds().length == 0 && System.nanoTime() < until) {
        Thread.sleep(50);
      }
      try (StepEngine ring = StepEngines.open(RunConfig.Engine.RING,
          new RunConfig.RingSettings(1, 60).withStartTimeout(3), c.setup())) {
        long t0 = System.nanoTime();
        TrainingFailedException e = assertThrows(TrainingFailedException.class,
            () -> ring.run(round, c.start()));
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(e.getMessage().contains("could not start: its 2 barrier tasks did not get 2 "
            + "free task slots at once within 3 s (train.ring.start-timeout-seconds)"),
            e.getMessage());
        assertTrue(secs < 30, "failed after " + secs + " s");
      } finally {
        c.blocks().release();
      }
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    } finally {
      if (blocker != null) {
        blocker.cancel(true);
      }
      SparkTestSession.stop(spark);
    }
  }
}
