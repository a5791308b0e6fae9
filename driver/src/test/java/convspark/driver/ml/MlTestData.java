package convspark.driver.ml;

import convspark.driver.TestData;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** DataFrames of the generated {@link TestData} images for the Spark ML tests. */
final class MlTestData {
  private MlTestData() {}

  static final String[] LETTERS = {"a", "b", "c", "d"};

  /** A small conv net for 1x12x12 inputs and 4 classes. */
  static final String MODEL = """
      input { channels = 1, height = 12, width = 12 }
      layers = [
        { type = conv, filters = 6, kernel = 3, padding = 1 }
        { type = batchnorm }
        { type = relu }
        { type = maxpool, kernel = 2 }
        { type = flatten }
        { type = dense, units = 4 }
      ]
      """;

  /**
   * n generated images as (id long, letter string, y double, pixels Vector, arr
   * array&lt;float&gt;), pixels 0..255; y is the class index, letter its name.
   */
  static Dataset<Row> images(SparkSession spark, int n, long seed, int partitions) {
    int[] labels = new int[n];
    byte[][] images = TestData.generate(n, seed, labels);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      double[] v = new double[images[i].length];
      List<Float> a = new ArrayList<>();
      for (int p = 0; p < v.length; p++) {
        v[p] = images[i][p] & 0xff;
        a.add((float) v[p]);
      }
      rows.add(RowFactory.create((long) i, LETTERS[labels[i]], (double) labels[i],
          Vectors.dense(v), a));
    }
    StructType schema = new StructType()
        .add("id", DataTypes.LongType)
        .add("letter", DataTypes.StringType)
        .add("y", DataTypes.DoubleType)
        .add("pixels", new VectorUDT())
        .add("arr", DataTypes.createArrayType(DataTypes.FloatType));
    return spark.createDataFrame(rows, schema).repartition(partitions);
  }
}
