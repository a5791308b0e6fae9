package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.SparkTestSession;
import convspark.driver.config.RunConfig;
import convspark.worker.TrainingFailedException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A ring round whose Spark context was stopped under it (Ctrl-C, SIGTERM: Spark's shutdown hook
 * stops the context) fails at once with a message that says so; it is not rerun against the
 * stopped context up to {@code train.ring.attempts} times, each rerun printing an error that
 * blames the round.
 */
class RingStoppedContextTest {
  private SparkSession spark;

  @AfterEach
  void stop() {
    if (spark != null) {
      spark.stop();
    }
  }

  @Test
  void aStoppedContextFailsTheRoundOnceAndSaysWhy() {
    spark = SparkTestSession.start();
    Network net = new Network(ModelSpec.parse("""
        input { channels = 1, height = 12, width = 12 }
        layers = [ { type = flatten }, { type = dense, units = 3 } ]
        """));
    EngineFixture.Case c = EngineFixture.open(SparkTestSession.jsc(spark), net, 2, 20, "stopped");
    Round round = new Round(0, 0, 0, 5, 5, c.plan(), StepListener.NONE);
    PrintStream err = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    try (StepEngine ring = StepEngines.open(RunConfig.Engine.RING,
        new RunConfig.RingSettings(3, 60), c.setup())) {
      spark.stop();
      System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
      TrainingFailedException e = assertThrows(TrainingFailedException.class,
          () -> ring.run(round, c.start()));
      System.setErr(err);
      assertTrue(e.getMessage().startsWith("Spark was shut down during the ring round of epoch 1"),
          e.getMessage());
      String printed = captured.toString(StandardCharsets.UTF_8);
      assertFalse(printed.contains("rerunning"), printed);
    } finally {
      System.setErr(err);
    }
  }
}
