package convspark.driver.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.SparkTestSession;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BroadcastBlockId;
import org.apache.spark.storage.RDDBlockId;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Distributed.Blocks#release} returns once the blocks are gone from the executors, not
 * while Spark's removal is still on its way: a cluster run whose context stopped right after a
 * release that did not wait logged "Still have 1 requests outstanding" once per executor.
 */
class BlocksReleaseTest {
  static SparkSession spark;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void releaseReturnsOnceTheExecutorsHaveDroppedTheBlocksAndTheBroadcast() {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    int partitions = 4;
    int size = 28 * 28;
    int n = 4000; // 12.5 MB of floats: removal takes a while, as on a real data set
    for (int round = 0; round < 5; round++) {
      Distributed.Blocks b = Distributed.blocks(jsc, new float[n * size], new int[n], size,
          partitions, "release-" + round);
      List<BlockId> ids = new ArrayList<>();
      for (int p = 0; p < partitions; p++) {
        ids.add(new RDDBlockId(b.rdd().id(), p));
      }
      ids.add(new BroadcastBlockId(b.source().id(), ""));
      // local mode: the driver's block manager is the executor's
      for (BlockId id : ids) {
        assertTrue(SparkEnv.get().blockManager().memoryStore().contains(id), "cached: " + id);
      }
      b.release();
      List<BlockId> left = new ArrayList<>();
      for (BlockId id : ids) {
        if (SparkEnv.get().blockManager().memoryStore().contains(id)) {
          left.add(id);
        }
      }
      assertEquals(List.of(), left, "still held right after release() returned, round " + round);
      assertFalse(b.source().isValid(), "the broadcast is destroyed");
    }
  }
}
