package convspark.driver.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.spec.Shape;
import convspark.driver.SparkTestSession;
import convspark.driver.TestData;
import convspark.driver.data.Frames;
import convspark.driver.data.ImageSet;
import convspark.driver.data.Normalization;
import convspark.worker.SampleBlock;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.BlockId;
import org.apache.spark.storage.BroadcastBlockId;
import org.apache.spark.storage.RDDBlockId;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * DataFrame rows on the executors: the normalisation fitted there is the one fitted on the same
 * samples on the driver (one algorithm), and packed blocks hold the rows normalised with it.
 */
class RowBlocksTest {
  static final int N = 300;
  static final Shape SHAPE = new Shape(1, 12, 12);
  static final float SCALE = 1f / 255f;
  static SparkSession spark;
  static ImageSet set;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
    int[] labels = new int[N];
    byte[][] images = TestData.generate(N, 3, labels);
    float[] px = new float[N * SHAPE.size()];
    for (int i = 0; i < N; i++) {
      for (int p = 0; p < SHAPE.size(); p++) {
        px[i * SHAPE.size() + p] = images[i][p] & 0xff;
      }
    }
    set = new ImageSet(N, 1, 12, 12, px, labels);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static Dataset<Row> frame(int partitions) {
    List<Row> rows = new ArrayList<>();
    int size = SHAPE.size();
    for (int i = 0; i < N; i++) {
      double[] v = new double[size];
      for (int p = 0; p < size; p++) {
        v[p] = set.pixels()[i * size + p];
      }
      rows.add(RowFactory.create((double) set.labels()[i], Vectors.dense(v)));
    }
    StructType schema = new StructType().add("label", DataTypes.DoubleType)
        .add("features", new VectorUDT());
    return spark.createDataFrame(rows, schema).coalesce(1).repartition(partitions);
  }

  @Test
  void fitOnOnePartitionEqualsTheDriverFitExactly() {
    Normalization driver = Normalization.fit(set, SCALE);
    Normalization rows = RowBlocks.fit(frame(1), Frames.Kind.VECTOR, SHAPE, SCALE, "test");
    assertEquals(driver, rows);
  }

  @Test
  void fitOverPartitionsDiffersOnlyBySummationOrder() {
    Normalization driver = Normalization.fit(set, SCALE);
    Normalization rows = RowBlocks.fit(frame(3), Frames.Kind.VECTOR, SHAPE, SCALE, "test");
    assertEquals(driver.mean()[0], rows.mean()[0], 1e-6 * Math.abs(driver.mean()[0]));
    assertEquals(driver.std()[0], rows.std()[0], 1e-6 * driver.std()[0]);
  }

  @Test
  void aBlockHoldsItsRowsInTheOrderOfTheirOriginWhateverOrderTheShuffleDelivered() {
    // rows from two input partitions, arriving interleaved in two different orders, as pieces
    // fetched from two executors can
    int size = SHAPE.size();
    List<scala.Tuple2<Long, Row>> rows = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      double[] v = new double[size];
      for (int p = 0; p < size; p++) {
        v[p] = set.pixels()[i * size + p];
      }
      rows.add(new scala.Tuple2<>(RowBlocks.origin(i % 2, i / 2),
          RowFactory.create((double) set.labels()[i], Vectors.dense(v))));
    }
    List<scala.Tuple2<Long, Row>> other = new ArrayList<>(rows);
    java.util.Collections.shuffle(other, new java.util.Random(5));
    RowBlocks.Pack pack = new RowBlocks.Pack(Frames.Kind.VECTOR, SHAPE, 4,
        Normalization.scaleOnly(SCALE, 1), "test");
    SampleBlock a = pack.call(rows.iterator()).next();
    SampleBlock b = pack.call(other.iterator()).next();
    assertArrayEquals(a.features(), b.features());
    assertArrayEquals(a.labels(), b.labels());
    // origin order: input partition 0's rows (the even samples), then partition 1's
    assertEquals(set.labels()[0], a.labels()[0]);
    assertEquals(set.labels()[2], a.labels()[1]);
    assertEquals(set.labels()[1], a.labels()[20]);
    assertEquals(set.pixels()[2 * size + 7] * SCALE, a.features()[size + 7], 1e-6);
  }

  @Test
  void packedBlocksHoldEveryRowNormalised() {
    Normalization norm = Normalization.fit(set, SCALE);
    Distributed.Blocks b = RowBlocks.pack(frame(2).javaRDD(), 3, Frames.Kind.VECTOR, SHAPE, 4,
        norm, "test", "pack");
    try {
      assertEquals(N, b.count());
      List<SampleBlock> blocks = b.rdd().collect();
      assertEquals(3, blocks.size());
      double sum = 0;
      double sq = 0;
      long n = 0;
      for (SampleBlock k : blocks) {
        for (int i = 0; i < k.count() * k.sampleSize(); i++) {
          sum += k.features()[i];
          sq += (double) k.features()[i] * k.features()[i];
          n++;
        }
      }
      // normalised with the fitted statistics: mean 0, variance 1
      assertEquals(0, sum / n, 1e-4);
      assertEquals(1, sq / n, 1e-3);
      int[] counts = new int[4];
      for (SampleBlock k : blocks) {
        for (int i = 0; i < k.count(); i++) {
          counts[k.labels()[i]]++;
        }
      }
      int[] expected = new int[4];
      for (int y : set.labels()) {
        expected[y]++;
      }
      assertArrayEquals(expected, counts);
    } finally {
      b.release();
    }
  }

  /**
   * {@link Distributed.Blocks#release} returns once the blocks are gone from the executors, not
   * while Spark's removal is still on its way: a cluster run whose context stopped right after a
   * release that did not wait logged "Still have 1 requests outstanding" once per executor.
   */
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
