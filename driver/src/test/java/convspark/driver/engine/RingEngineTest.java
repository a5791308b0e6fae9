package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.SparkTestSession;
import convspark.driver.config.RunConfig;
import convspark.worker.ModelState;
import convspark.worker.StepPlan;
import convspark.worker.ring.KeptRings;
import convspark.worker.ring.KeptStates;
import convspark.worker.ring.ReplicaRound;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The ring engine against the driver engine in local[2] (2 barrier tasks x 1 thread): the same
 * start state and round give the same parameters, batch-norm state, optimizer state, loss and
 * counts after several steps, up to float summation order; and two ring runs, one through memory
 * (the default under a local master) and one over TCP (train.ring.transport = tcp), are
 * bit-identical.
 * The model has batch norm and dropout: with one thread per task, the ring engine draws the
 * same samples and the same dropout masks as the driver engine.
 */
class RingEngineTest {
  static SparkSession spark;
  static JavaSparkContext jsc;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
    jsc = SparkTestSession.jsc(spark);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void ringEqualsDriverOverSeveralStepsAndRepeatsBitForBit() throws Exception {
    Network net = new Network(ModelSpec.parse("""
        input { channels = 1, height = 12, width = 12 }
        layers = [
          { type = conv, filters = 4, kernel = 3, padding = 1 }
          { type = batchnorm }
          { type = relu }
          { type = maxpool, kernel = 2 }
          { type = flatten }
          { type = dropout, rate = 0.25 }
          { type = dense, units = 8 }
          { type = relu }
          { type = dense, units = 4 }
        ]
        """));
    int partitions = 2;
    int stepsPerEpoch = 5;
    EngineFixture.Case c = EngineFixture.open(jsc, net, partitions, 20, "ring-eq");
    try {
      StepEngines.Setup setup = c.setup();
      StepPlan plan = c.plan();
      ModelState start = c.start();
      // Two epochs-worth of rounds: the second starts from the first's result.
      ModelState driverState = start.copy();
      ModelState ringState = start.copy();
      ModelState ringAgain = start.copy();
      RunConfig.RingSettings settings = new RunConfig.RingSettings(1, 60);
      // over TCP with sealed links (AES-GCM): still the same bits
      RunConfig.RingSettings tcp = new RunConfig.RingSettings(1, 60, 0,
          RunConfig.RingTransport.TCP, true, RunConfig.RingEncryption.ON,
          RunConfig.RingSettings.START_TIMEOUT_SECONDS, RunConfig.RingSettings.SPIN_MICROS,
          true, true);
      try (StepEngine driver = StepEngines.open(RunConfig.Engine.DRIVER, setup);
          StepEngine ring = StepEngines.open(RunConfig.Engine.RING, settings, setup);
          StepEngine ring2 = StepEngines.open(RunConfig.Engine.RING, tcp, setup)) {
        assertEquals("ring", ring.name());
        assertTrue(((RingEngine) ring).inProcess(), "auto in local[2]: through memory");
        assertTrue(!((RingEngine) ring2).inProcess(), "tcp: over TCP");
        assertTrue(((RingEngine) ring2).encrypts(), "encryption = on: sealed");
        assertTrue(!((RingEngine) ring).encrypts(), "auto without spark.network.crypto");
        for (int epoch = 0; epoch < 2; epoch++) {
          Round round = new Round(epoch, (long) epoch * stepsPerEpoch, 0, stepsPerEpoch,
              stepsPerEpoch, plan, StepListener.NONE);
          RoundResult d = driver.run(round, driverState);
          ModelState before = ringState.copy();
          RoundResult r = ring.run(round, ringState);
          long taken = KeptStates.IN_THIS_JVM.taken();
          long reused = KeptRings.IN_THIS_JVM.reused();
          RoundResult r2 = ring2.run(round, ringAgain);
          // over TCP the tasks keep their end states (in memory they read the broadcast in this
          // JVM and keep none), and the second round's two replicas start from them: the
          // bit-equality below covers those rounds
          assertEquals(epoch == 0 ? 0 : 2, KeptStates.IN_THIS_JVM.taken() - taken,
              "replicas that started from a kept state in epoch " + (epoch + 1));
          // and their sealed links: the second round goes on with the first's (its cipher
          // counters and all), and ends with the same bits
          assertEquals(epoch == 0 ? 0 : 2, KeptRings.IN_THIS_JVM.reused() - reused,
              "replicas that went on with kept links in epoch " + (epoch + 1));
          assertEquals(2, KeptRings.IN_THIS_JVM.size(), "links kept after epoch " + (epoch + 1));
          assertArrayEquals(before.params(), ringState.params(), 0f,
              "the ring engine leaves the start state alone");
          driverState = d.state();
          ringState = r.state();
          ringAgain = r2.state();
          assertEquals(d.count(), r.count(), "samples");
          assertEquals(d.correct(), r.correct(), "correct");
          assertEquals(d.lossSum(), r.lossSum(), 1e-9 * Math.abs(d.lossSum()), "loss sum");
          assertEquals(d.lastLr(), r.lastLr(), 0.0, "learning rate");
          ReplicaRound.Output o = ((RingEngine) ring).lastRound();
          assertEquals(2, o.ranks());
          // in memory rank 0 writes its half of the vector into the peer's
          assertTrue(o.allreduceBytes() > (long) stepsPerEpoch * 2 * net.paramCount() * 0.9,
              "allreduce bytes " + o.allreduceBytes());
          // over TCP it sends 2 (P - 1) / P of the vector
          ReplicaRound.Output o2 = ((RingEngine) ring2).lastRound();
          assertTrue(o2.allreduceBytes() > (long) stepsPerEpoch * 4 * net.paramCount() * 0.9,
              "allreduce bytes " + o2.allreduceBytes());
        }
        close(driverState.params(), ringState.params(), "params");
        close(driverState.state(), ringState.state(), "batch-norm state");
        close(driverState.optimizerState()[0], ringState.optimizerState()[0], "velocity");
        assertEquals(driverState.optimizerSteps(), ringState.optimizerSteps());
        assertEquals(2L * stepsPerEpoch, ringState.optimizerSteps());
        assertArrayEquals(ringState.params(), ringAgain.params(), 0f,
            "ring runs repeat bit for bit, through memory and over sealed TCP alike");
        assertArrayEquals(ringState.state(), ringAgain.state(), 0f);
      }
      assertEquals(0, KeptRings.IN_THIS_JVM.size(), "the engine closed its links when it closed");
      // and no thread of the barrier tasks is left to keep the JVM alive (Spark 3.5's timer)
      Thread.sleep(200);
      assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.isAlive()
          && !t.isDaemon() && t.getName().startsWith("Barrier task timer")),
          "a non-daemon barrier timer thread is left");
    } finally {
      c.blocks().release();
    }
  }

  /** encryption = auto seals the ring exactly where Spark encrypts its own traffic. */
  @Test
  void encryptionAutoFollowsSparksNetworkCrypto() {
    org.apache.spark.SparkConf plain = new org.apache.spark.SparkConf(false);
    org.apache.spark.SparkConf crypto = new org.apache.spark.SparkConf(false)
        .set("spark.network.crypto.enabled", "true");
    assertTrue(!RingEngine.encrypts(RunConfig.RingEncryption.AUTO, plain));
    assertTrue(RingEngine.encrypts(RunConfig.RingEncryption.AUTO, crypto));
    assertTrue(RingEngine.encrypts(RunConfig.RingEncryption.ON, plain));
    assertTrue(!RingEngine.encrypts(RunConfig.RingEncryption.OFF, crypto));
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

  @Test
  void localMastersKnowTheirTaskSlots() {
    assertEquals(1, RingEngine.localSlots("local", 1));
    assertEquals(4, RingEngine.localSlots("local[4]", 1));
    assertEquals(2, RingEngine.localSlots("local[4]", 2));
    assertEquals(3, RingEngine.localSlots("local[3,2]", 1));
    assertEquals(
        Runtime.getRuntime().availableProcessors(), RingEngine.localSlots("local[*]", 1));
    assertEquals(0, RingEngine.localSlots("spark://h:7077", 1));
    assertEquals(0,
        RingEngine.localSlots("local-cluster[2,1,1024]", 1));
  }

  @Test
  void theStartUpLogSaysHowAWaitingReplicaWaits() {
    int cpus = Runtime.getRuntime().availableProcessors();
    assertTrue(RingEngine.waiting(2000, true, cpus, 1).contains("spins for up to 2000 us"),
        RingEngine.waiting(2000, true, cpus, 1));
    String over = RingEngine.waiting(2000, true, cpus + 1, 1);
    assertTrue(over.contains("sleeps at once: " + (cpus + 1) + " tasks x 1 CPU(s) outnumber"),
        over);
    assertTrue(RingEngine.waiting(0, true, 1, 1).contains("sleeps at once (train.ring.spin-micros"
        + " = 0)"));
    // on a cluster each executor decides for its own host
    assertTrue(RingEngine.waiting(500, false, cpus + 1, 1).contains("on hosts whose ring tasks"));
  }
}
