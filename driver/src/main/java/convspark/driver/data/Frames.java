package convspark.driver.data;

import convspark.common.BadInputException;
import convspark.common.nn.Shape;
import convspark.driver.train.Distributed;
import convspark.driver.train.Trainer;
import convspark.worker.SampleBlock;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * Training data from any Spark DataFrame source (Parquet, ORC, JSON, CSV, the image source, ...)
 * with a numeric label column and a features column that is an ML {@code Vector}, an array of
 * numbers (C,H,W order), or an image struct of {@code spark.read.format("image")} (interleaved
 * BGR(A) bytes, converted to RGB(A) planes). The executors pack their rows into blocks; nothing
 * passes through the driver.
 */
public final class Frames {
  private Frames() {}

  /** Which columns hold what. */
  public record Columns(String label, String features) implements Serializable {}

  /** How the features column is stored. */
  public enum Kind {
    VECTOR,
    ARRAY,
    IMAGE
  }

  /** Reads {@code path} with {@code spark.read().format(source).options(options)}. */
  public static Dataset<Row> read(SparkSession spark, String source, Map<String, String> options,
      String path, String key) {
    try {
      return spark.read().format(source).options(options).load(path);
    } catch (RuntimeException e) {
      String msg = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
      throw new BadInputException("config key " + key + ": cannot read " + path + " as "
          + source + ": " + msg, e);
    }
  }

  /**
   * Checks that the columns exist and have usable types; errors name the column, in the style of
   * Spark ML's schema checks.
   */
  public static Kind checkSchema(StructType schema, Columns cols) {
    List<String> names = Arrays.asList(schema.fieldNames());
    if (!names.contains(cols.label())) {
      throw new BadInputException("Column " + cols.label() + " (the label column) does not exist;"
          + " available columns: " + names);
    }
    if (!names.contains(cols.features())) {
      throw new BadInputException("Column " + cols.features() + " (the features column) does "
          + "not exist; available columns: " + names);
    }
    DataType lt = schema.apply(cols.label()).dataType();
    if (!(lt instanceof NumericType)) {
      throw new BadInputException("Column " + cols.label() + " must be of a numeric type but "
          + "was actually of type " + lt.simpleString());
    }
    return featuresKind(schema, cols.features());
  }

  /** How column {@code col} holds features; the column must exist. */
  public static Kind featuresKind(StructType schema, String col) {
    DataType ft = schema.apply(col).dataType();
    if (ft instanceof VectorUDT) {
      return Kind.VECTOR;
    }
    if (ft instanceof ArrayType a && a.elementType() instanceof NumericType) {
      return Kind.ARRAY;
    }
    if (ft instanceof StructType st && Arrays.asList(st.fieldNames()).containsAll(
        List.of("height", "width", "nChannels", "data"))) {
      return Kind.IMAGE;
    }
    throw new BadInputException("Column " + col + " must be of type vector, array<numeric> or "
        + "an image struct (height, width, nChannels, data) but was actually of type "
        + ft.simpleString());
  }

  /**
   * Reads one row's features into {@code dst[off..off+shape.size())}, unscaled, rejecting
   * missing and non-finite values; {@code where} names the row in errors. Training and scoring
   * both read rows through here, so a model scores rows exactly as it saw them.
   */
  public static void features(Row row, int idx, Kind kind, Shape shape, float[] dst, int off,
      String where) {
    int size = shape.size();
    if (row.isNullAt(idx)) {
      throw new BadInputException(where + ": features are null");
    }
    switch (kind) {
      case VECTOR -> {
        Vector v = (Vector) row.get(idx);
        if (v.size() != size) {
          throw new BadInputException(where + ": features have " + v.size() + " values, the "
              + "model input " + shape + " needs " + size);
        }
        double[] a = v.toArray();
        for (int i = 0; i < size; i++) {
          dst[off + i] = (float) a[i];
        }
      }
      case ARRAY -> {
        List<Object> l = row.getList(idx);
        if (l.size() != size) {
          throw new BadInputException(where + ": features have " + l.size() + " values, the "
              + "model input " + shape + " needs " + size);
        }
        for (int i = 0; i < size; i++) {
          Object o = l.get(i);
          if (o == null) {
            throw new BadInputException(where + ": feature " + i + " is null");
          }
          dst[off + i] = ((Number) o).floatValue();
        }
      }
      case IMAGE -> {
        Row img = row.getStruct(idx);
        int h = img.getInt(img.fieldIndex("height"));
        int w = img.getInt(img.fieldIndex("width"));
        int c = img.getInt(img.fieldIndex("nChannels"));
        if (h != shape.height() || w != shape.width() || c != shape.channels()) {
          throw new BadInputException(where + ": image is " + c + "x" + h + "x" + w
              + " but the model input is " + shape);
        }
        byte[] data = (byte[]) img.get(img.fieldIndex("data"));
        for (int ch = 0; ch < c; ch++) {
          // OpenCV order BGR(A): plane 0 of ours (R) is byte 2 of each pixel
          int src = c >= 3 && ch < 3 ? 2 - ch : ch;
          for (int p = 0; p < h * w; p++) {
            dst[off + ch * h * w + p] = data[p * c + src] & 0xff;
          }
        }
      }
      default -> throw new AssertionError(kind);
    }
    for (int i = off; i < off + size; i++) {
      if (!Float.isFinite(dst[i])) {
        throw new BadInputException(where + ": feature " + (i - off) + " is " + dst[i]);
      }
    }
  }

  static int label(Row row, int idx, int classes, String where) {
    if (row.isNullAt(idx)) {
      throw new BadInputException(where + ": label is null");
    }
    double v = ((Number) row.get(idx)).doubleValue();
    if (v != Math.rint(v) || v < 0 || v >= classes) {
      throw new BadInputException(where + ": label " + v + " is not a class index in [0, "
          + classes + ")");
    }
    return (int) v;
  }

  /** Packs a partition's rows into one block, scaled and normalised, validating each row. */
  static final class Pack implements FlatMapFunction<Iterator<Row>, SampleBlock> {
    private static final long serialVersionUID = 1L;
    private final Kind kind;
    private final Shape shape;
    private final int classes;
    private final Normalization norm;
    private final String source;

    Pack(Kind kind, Shape shape, int classes, Normalization norm, String source) {
      this.kind = kind;
      this.shape = shape;
      this.classes = classes;
      this.norm = norm;
      this.source = source;
    }

    @Override
    public Iterator<SampleBlock> call(Iterator<Row> rows) {
      int size = shape.size();
      float[] f = new float[size * 256];
      int[] y = new int[256];
      int n = 0;
      while (rows.hasNext()) {
        Row r = rows.next();
        if (n == y.length) {
          y = Arrays.copyOf(y, n * 2);
          f = Arrays.copyOf(f, n * 2 * size);
        }
        String where = source + " row " + n + " of partition "
            + org.apache.spark.TaskContext.getPartitionId();
        y[n] = label(r, 0, classes, where);
        features(r, 1, kind, shape, f, n * size, where);
        checkMagnitude(f, n * size, size, norm.scale(), where);
        n++;
      }
      f = Arrays.copyOf(f, n * size);
      norm.applyInPlace(f, 0, n, shape.channels(), shape.spatial());
      return List.of(new SampleBlock(n, size, f, Arrays.copyOf(y, n))).iterator();
    }
  }

  /** As {@link ImageSet#validateMagnitude}: one absurd value must not set the normalisation. */
  static void checkMagnitude(float[] f, int off, int size, float scale, String where) {
    double limit = Inputs.MAX_SCALED_VALUE / Math.abs((double) scale);
    for (int i = off; i < off + size; i++) {
      if (Math.abs(f[i]) > limit) {
        throw new BadInputException(where + ": feature " + (i - off) + " is " + f[i]
            + "; times data.scale (" + scale + ") that is beyond +-" + (float) Inputs.MAX_SCALED_VALUE
            + ", not an image value");
      }
    }
  }

  /** Per-channel sums of scaled features: [sum_c..., sumsq_c..., count]. */
  static double[] moments(JavaRDD<Row> rows, Kind kind, Shape shape, float scale,
      String source) {
    int ch = shape.channels();
    int hw = shape.spatial();
    return rows.mapPartitions((Iterator<Row> it) -> {
      double[] m = new double[2 * ch + 1];
      float[] buf = new float[shape.size()];
      long i = 0;
      while (it.hasNext()) {
        String where = source + " row " + i++;
        features(it.next(), 1, kind, shape, buf, 0, where);
        checkMagnitude(buf, 0, buf.length, scale, where);
        for (int c = 0; c < ch; c++) {
          for (int p = 0; p < hw; p++) {
            double v = buf[c * hw + p] * (double) scale;
            m[c] += v;
            m[ch + c] += v * v;
          }
        }
        m[2 * ch] += 1;
      }
      return List.of(m).iterator();
    }).reduce((a, b) -> {
      for (int i = 0; i < a.length; i++) {
        a[i] += b[i];
      }
      return a;
    });
  }

  /** Per-channel mean and std of the scaled features, computed on the executors. */
  public static Normalization fit(Dataset<Row> df, Columns cols, Shape shape, float scale,
      String source) {
    Kind kind = checkSchema(df.schema(), cols);
    double[] m = moments(df.select(cols.label(), cols.features()).javaRDD(), kind, shape, scale,
        source);
    int ch = shape.channels();
    double count = m[2 * ch] * shape.spatial();
    if (count == 0) {
      throw new BadInputException(source + ": no samples");
    }
    float[] mean = new float[ch];
    float[] std = new float[ch];
    for (int c = 0; c < ch; c++) {
      double mu = m[c] / count;
      mean[c] = (float) mu;
      std[c] = (float) Math.max(Normalization.STD_FLOOR,
          Math.sqrt(Math.max(0, m[ch + c] / count - mu * mu)));
    }
    return Normalization.of(scale, mean, std, ch);
  }

  /** A DataFrame split: packed into blocks on the executors when training starts. */
  public record FrameSplit(Dataset<Row> df, Columns cols, Shape shape, int classes,
      Normalization norm, String source) implements Trainer.Split {
    public FrameSplit {
      checkSchema(df.schema(), cols);
    }

    @Override
    public long count() {
      return df.count();
    }

    @Override
    public Distributed.Blocks toBlocks(JavaSparkContext jsc, int partitions, String name) {
      Kind kind = checkSchema(df.schema(), cols);
      JavaRDD<SampleBlock> rdd = df.select(cols.label(), cols.features()).javaRDD()
          .repartition(partitions)
          .mapPartitions(new Pack(kind, shape, classes, norm, source))
          .setName(name).persist(StorageLevel.MEMORY_ONLY());
      List<Integer> sizes = rdd.map(SampleBlock::count).collect();
      long total = 0;
      int max = 0;
      for (int s : sizes) {
        total += s;
        max = Math.max(max, s);
      }
      if (total == 0) {
        rdd.unpersist(false);
        throw new BadInputException(source + ": no samples");
      }
      return new Distributed.Blocks(rdd, total, max, null);
    }
  }

  /** Splits off a seeded random validation fraction. */
  public static List<Dataset<Row>> split(Dataset<Row> df, double fraction, long seed) {
    Dataset<Row>[] parts = df.randomSplit(new double[] {1 - fraction, fraction}, seed);
    return new ArrayList<>(List.of(parts[0], parts[1]));
  }
}
