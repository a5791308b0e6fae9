package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.config.RunConfig;
import convspark.worker.ModelState;
import convspark.worker.StepPlan;
import convspark.worker.ring.ReplicaRound;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Multi-threaded ring tasks: in local[4] with {@code spark.task.cpus = 2} (two task slots of two
 * CPUs), every barrier task of the ring engine computes its share of each global batch with two
 * data-parallel threads (the round's output says how many it used), and two epochs end where the
 * driver engine (one task per partition, no threads; equal to the ring with one thread per task,
 * see {@link RingEngineTest}) ends, up to float summation order. The model has no batch norm or
 * dropout: with T threads each thread draws its own dropout masks and normalises with its own
 * slice's batch statistics, which legitimately differ from one thread's.
 */
class RingThreadsTest {
  static SparkSession spark;
  static JavaSparkContext jsc;

  @BeforeAll
  static void start() {
    SparkConf conf = new SparkConf().setMaster("local[4]").setAppName("convspark-ring-threads")
        .set("spark.task.cpus", "2").set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false");
    spark = SparkSession.builder().config(conf).getOrCreate();
    spark.sparkContext().setLogLevel("ERROR");
    jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void twoThreadsPerTaskEqualOneToFloatTolerance() {
    Network net = new Network(ModelSpec.parse("""
        input { channels = 1, height = 12, width = 12 }
        layers = [
          { type = conv, filters = 4, kernel = 3, padding = 1 }
          { type = tanh }
          { type = maxpool, kernel = 2 }
          { type = flatten }
          { type = dense, units = 8 }
          { type = relu }
          { type = dense, units = 4 }
        ]
        """));
    int partitions = 2;
    int stepsPerEpoch = 5;
    EngineFixture.Case c = EngineFixture.open(jsc, net, partitions, 20, "threads");
    try {
      StepEngines.Setup setup = c.setup();
      StepPlan plan = c.plan();
      ModelState start = c.start();
      ModelState driverState = start.copy();
      ModelState ringState = start.copy();
      try (StepEngine driver = StepEngines.open(RunConfig.Engine.DRIVER, setup);
          StepEngine ring = StepEngines.open(RunConfig.Engine.RING,
              new RunConfig.RingSettings(1, 60), setup)) {
        for (int epoch = 0; epoch < 2; epoch++) {
          Round round = new Round(epoch, (long) epoch * stepsPerEpoch, 0, stepsPerEpoch,
              stepsPerEpoch, plan, StepListener.NONE);
          RoundResult d = driver.run(round, driverState);
          RoundResult r = ring.run(round, ringState);
          driverState = d.state();
          ringState = r.state();
          ReplicaRound.Output o = ((RingEngine) ring).lastRound();
          assertEquals(2, o.threads(), "threads per ring task (spark.task.cpus)");
          assertEquals(partitions, o.ranks());
          assertEquals(d.count(), r.count(), "samples");
          assertEquals(d.correct(), r.correct(), "correct");
          assertEquals(d.lossSum(), r.lossSum(), 1e-6 * Math.abs(d.lossSum()), "loss sum");
        }
        close(driverState.params(), ringState.params(), "params");
        close(driverState.optimizerState()[0], ringState.optimizerState()[0], "velocity");
        assertEquals(2L * stepsPerEpoch, ringState.optimizerSteps());
      }
    } finally {
      c.blocks().release();
    }
  }

  private static void close(float[] a, float[] b, String what) {
    double max = 0;
    for (float v : a) {
      max = Math.max(max, Math.abs(v));
    }
    for (int i = 0; i < a.length; i++) {
      assertEquals(a[i], b[i], 1e-5 * max + 1e-7, what + " " + i);
    }
  }
}
