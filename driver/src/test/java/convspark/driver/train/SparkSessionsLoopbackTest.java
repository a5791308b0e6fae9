package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.config.RunConfig;
import java.net.InetAddress;
import java.util.Map;
import org.apache.spark.SparkEnv;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * Under a local master every task runs in the driver's JVM, so Spark's RPC server and block
 * manager (unauthenticated without spark.authenticate) need no other host: they listened on the
 * host's external address, where anyone on the network could fetch broadcast blocks (the model's
 * weights, training data). They now listen on the loopback interface unless the config (or
 * SPARK_LOCAL_IP) says otherwise.
 */
class SparkSessionsLoopbackTest {
  @Test
  void theMasterThatDecidesIsTheOneTheSessionGets() {
    // a cluster master given in spark.conf: no loopback binding (its executors must reach the
    // driver), whatever config key spark.master says
    Map<String, String> cluster = Map.of("spark.master", "spark://127.0.0.1:7077");
    var c = SparkSessions.conf(new RunConfig.Spark("local[1]", "t", cluster, 60), null);
    assertEquals("spark://127.0.0.1:7077", c.get("spark.master"));
    assertFalse(c.contains("spark.driver.bindAddress"), "bound for a cluster master");
    assertFalse(c.contains("spark.ui.enabled"), "UI turned off for a cluster master");
    assertEquals("config key spark.conf.\"spark.master\" (spark://127.0.0.1:7077)",
        SparkSessions.masterSource(new RunConfig.Spark("local[1]", "t", cluster, 60), null));
    // --master wins over both
    c = SparkSessions.conf(new RunConfig.Spark("local[1]", "t", cluster, 60), "local[2]");
    assertEquals("local[2]", c.get("spark.master"));
    if (System.getenv("SPARK_LOCAL_IP") == null) {
      assertEquals("127.0.0.1", c.get("spark.driver.bindAddress"));
    }
    // the config's own Spark properties still win over convspark's defaults
    c = SparkSessions.conf(new RunConfig.Spark("local[1]", "t",
        Map.of("spark.driver.bindAddress", "0.0.0.0", "spark.broadcast.compress", "true"), 60),
        null);
    assertEquals("0.0.0.0", c.get("spark.driver.bindAddress"));
    assertEquals("true", c.get("spark.broadcast.compress"));
  }

  @Test
  void aLocalMasterListensOnlyOnLoopback() throws Exception {
    SparkSession s = SparkSessions.start(
        new RunConfig.Spark("local[1]", "loopback-test", Map.of(), 60), null);
    try {
      String rpc = s.sparkContext().env().rpcEnv().address().host();
      String blocks = SparkEnv.get().blockManager().blockManagerId().host();
      if (System.getenv("SPARK_LOCAL_IP") == null) {
        assertTrue(InetAddress.getByName(rpc).isLoopbackAddress(), "RPC on " + rpc);
        assertTrue(InetAddress.getByName(blocks).isLoopbackAddress(), "blocks on " + blocks);
        assertEquals("127.0.0.1", s.sparkContext().getConf().get("spark.driver.bindAddress"));
      }
    } finally {
      SparkSessions.stop(s);
    }
  }
}
