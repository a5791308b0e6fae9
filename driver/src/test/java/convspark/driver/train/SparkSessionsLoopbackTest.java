package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
