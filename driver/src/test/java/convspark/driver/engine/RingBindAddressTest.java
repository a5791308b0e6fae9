package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.config.RunConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * {@code spark.driver.bindAddress = 0.0.0.0} (Spark's RPC on every interface, common in
 * containers) is a valid Spark setting: the ring engine's rendezvous then binds to {@code
 * spark.driver.host}, the address the tasks reach the driver at, and the round runs. It used to
 * refuse the wildcard inside the round, so the round failed, was rerun train.ring.attempts times
 * and training exited 3.
 */
class RingBindAddressTest {
  @Test
  void aWildcardDriverBindAddressBindsTheRendezvousToTheDriverHost() {
    SparkConf conf = new SparkConf().setMaster("local[2]").setAppName("ring-bind")
        .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
        .set("spark.driver.bindAddress", "0.0.0.0").set("spark.driver.host", "127.0.0.1");
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    spark.sparkContext().setLogLevel("ERROR");
    PrintStream err = System.err;
    try {
      JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
      assertEquals("0.0.0.0", jsc.getConf().get("spark.driver.bindAddress"));
      Network net = new Network(ModelSpec.parse("""
          input { channels = 1, height = 12, width = 12 }
          layers = [ { type = flatten }, { type = dense, units = 3 } ]
          """));
      EngineFixture.Case c = EngineFixture.open(jsc, net, 2, 20, "ring-bind");
      Round round = new Round(0, 0, 0, 5, 5, c.plan(), StepListener.NONE);
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      // TCP: the tasks meet through the rendezvous even under a local master
      try (StepEngine ring = StepEngines.open(RunConfig.Engine.RING,
          new RunConfig.RingSettings(2, 60, 0, RunConfig.RingTransport.TCP), c.setup())) {
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        RoundResult r = ring.run(round, c.start());
        System.setErr(err);
        assertEquals(5 * 20, r.count(), "samples trained in the round");
        assertFalse(captured.toString(StandardCharsets.UTF_8).contains("failed (run"),
            captured.toString(StandardCharsets.UTF_8));
      } finally {
        System.setErr(err);
        c.blocks().release();
      }
    } finally {
      spark.stop();
    }
  }
}
