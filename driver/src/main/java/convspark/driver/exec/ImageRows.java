package convspark.driver.exec;

import convspark.driver.data.ImageSet;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/** Samples read on the driver, turned into DataFrame rows on the executors (for scoring). */
public final class ImageRows {
  private ImageRows() {}

  /**
   * Samples read on the driver (idx, csv) as a DataFrame of (index, label, features
   * array&lt;float&gt;, unscaled), built on the executors from one broadcast.
   */
  public static Dataset<Row> frame(SparkSession spark, ImageSet set, int parts) {
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    Broadcast<ImageSet> b = jsc.broadcast(set);
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < parts; i++) {
      ids.add(i);
    }
    JavaRDD<Row> rows = jsc.parallelize(ids, parts).flatMap(new Rows(b, parts));
    StructType schema = new StructType()
        .add("index", DataTypes.LongType, false)
        .add("label", DataTypes.IntegerType, false)
        .add("features", DataTypes.createArrayType(DataTypes.FloatType, false), false);
    return spark.createDataFrame(rows, schema);
  }

  /** Partition p of {@link #frame}: samples [p*n/parts, (p+1)*n/parts). */
  static final class Rows implements FlatMapFunction<Integer, Row> {
    private static final long serialVersionUID = 1L;
    private final Broadcast<ImageSet> set;
    private final int parts;

    Rows(Broadcast<ImageSet> set, int parts) {
      this.set = set;
      this.parts = parts;
    }

    @Override
    public Iterator<Row> call(Integer p) {
      ImageSet s = set.value();
      long n = s.count();
      int from = (int) (p * n / parts);
      int to = (int) ((p + 1) * n / parts);
      int size = s.sampleSize();
      return new Iterator<>() {
        int i = from;

        @Override
        public boolean hasNext() {
          return i < to;
        }

        @Override
        public Row next() {
          float[] f = Arrays.copyOfRange(s.pixels(), i * size, (i + 1) * size);
          Row r = RowFactory.create((long) i, s.labels()[i], f);
          i++;
          return r;
        }
      };
    }
  }
}
