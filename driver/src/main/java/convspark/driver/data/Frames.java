package convspark.driver.data;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Training data from any Spark DataFrame source (Parquet, ORC, JSON, CSV, the image source, ...)
 * with a numeric label column and a features column that is an ML {@code Vector}, an array of
 * numbers (C,H,W order), or an image struct of {@code spark.read.format("image")} (interleaved
 * BGR(A) bytes, converted to RGB(A) planes): reading, schema checks and the parsing of one row.
 * The executor-side functions that pack rows into blocks are in {@code convspark.driver.exec}.
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

  /**
   * Reads {@code path} with {@code spark.read().format(source).options(options)}; the text
   * sources (json, csv) fail on a malformed record ({@code mode = FAILFAST}) unless the options
   * choose a mode, where Spark's default would turn it into a row of nulls, reported later as a
   * null label with nothing said of the malformed record.
   */
  public static Dataset<Row> read(SparkSession spark, String source, Map<String, String> options,
      String path, String key) {
    Map<String, String> opts = options;
    if ((source.equalsIgnoreCase("json") || source.equalsIgnoreCase("csv"))
        && options.keySet().stream().noneMatch(k -> k.equalsIgnoreCase("mode"))) {
      opts = new java.util.LinkedHashMap<>(options);
      opts.put("mode", "FAILFAST");
    }
    try {
      return spark.read().format(source).options(opts).load(path);
    } catch (Exception e) { // AnalysisException too (a missing path), which Scala throws undeclared
      // a file that is no Parquet fails schema inference's job, "... Exception thrown in
      // awaitResult:", which says nothing of the file: its cause does
      String msg = convspark.common.Causes.withInnermost(
          convspark.common.Causes.firstLine(e.getMessage()), e);
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
    if (ft instanceof org.apache.spark.mllib.linalg.VectorUDT) {
      // its simpleString is "vector" too: the general message would say it must be of type
      // vector but was of type vector
      throw new BadInputException("Column " + col + " holds org.apache.spark.mllib.linalg "
          + "vectors (the old RDD-based API); convert it to org.apache.spark.ml.linalg vectors "
          + "with MLUtils.convertVectorColumnsToML(dataset, \"" + col + "\")");
    }
    if (ft instanceof StructType st && Arrays.asList(st.fieldNames()).containsAll(
        List.of("height", "width", "nChannels", "data"))) {
      for (String f : List.of("height", "width", "nChannels")) {
        if (!(st.apply(f).dataType() instanceof IntegerType)) {
          throw new BadInputException("Column " + col + ": image field " + f + " must be of "
              + "type int (Spark's image source) but was actually of type "
              + st.apply(f).dataType().simpleString());
        }
      }
      if (!(st.apply("data").dataType() instanceof BinaryType)) {
        throw new BadInputException("Column " + col + ": image field data must be of type "
            + "binary but was actually of type " + st.apply("data").dataType().simpleString());
      }
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
          dst[off + i] = toFloat(a[i], i, where);
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
          dst[off + i] = o instanceof Double || o instanceof java.math.BigDecimal
              ? toFloat(((Number) o).doubleValue(), i, where) : ((Number) o).floatValue();
        }
      }
      case IMAGE -> {
        Row img = row.getStruct(idx);
        // the image's file (spark.read.format("image") fills origin): "row N of partition P"
        // alone cannot be traced back to a file
        if (img.schema().getFieldIndex("origin").isDefined()
            && !img.isNullAt(img.fieldIndex("origin"))) {
          where = where + " (image " + img.getString(img.fieldIndex("origin")) + ")";
        }
        int h = img.getInt(img.fieldIndex("height"));
        int w = img.getInt(img.fieldIndex("width"));
        int c = img.getInt(img.fieldIndex("nChannels"));
        if (h < 0 || w < 0 || c < 0) {
          // how the image source marks a file it could not decode (with dropInvalid = false)
          throw new BadInputException(where + ": not an image the image source could decode "
              + "(its option dropInvalid = true skips such files)");
        }
        if (h != shape.height() || w != shape.width() || c != shape.channels()) {
          throw new BadInputException(where + ": image is " + c + "x" + h + "x" + w
              + " but the model input is " + shape);
        }
        int[] modes = img.schema().getFieldIndex("mode").isDefined()
            ? new int[] {img.fieldIndex("mode")} : new int[0];
        if (modes.length == 1 && !img.isNullAt(modes[0])) {
          // OpenCV types of 8-bit pixels (CV_8UC1/3/4): the only ones read byte by byte
          int mode = ((Number) img.get(modes[0])).intValue();
          if (mode != 0 && mode != 16 && mode != 24) {
            throw new BadInputException(where + ": image mode " + mode + " is not 8-bit pixels "
                + "(OpenCV CV_8UC1 = 0, CV_8UC3 = 16, CV_8UC4 = 24)");
          }
        }
        byte[] data = img.isNullAt(img.fieldIndex("data")) ? null
            : (byte[]) img.get(img.fieldIndex("data"));
        if (data == null || data.length != h * w * c) {
          throw new BadInputException(where + ": image data has " + (data == null ? "no"
              : data.length) + " bytes, its height x width x nChannels needs " + h * w * c);
        }
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

  /**
   * {@code x} as a float; a finite value beyond the float range is an error naming it (cast, it
   * would be reported as Infinity, a value the data does not hold).
   */
  private static float toFloat(double x, int i, String where) {
    float f = (float) x;
    if (Float.isInfinite(f) && Double.isFinite(x)) {
      throw new BadInputException(where + ": feature " + i + " is " + x + ", beyond the range "
          + "of a float (+-" + Float.MAX_VALUE + "), not an image value");
    }
    return f;
  }

  /** One row's label, checked to be a class index; {@code where} names the row in errors. */
  public static int label(Row row, int idx, int classes, String where) {
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

  /** As {@link ImageSet#validateMagnitude}: one absurd value must not set the normalisation. */
  public static void checkMagnitude(float[] f, int off, int size, float scale, String where) {
    double limit = Inputs.MAX_SCALED_VALUE / Math.abs((double) scale);
    for (int i = off; i < off + size; i++) {
      if (Math.abs(f[i]) > limit) {
        throw new BadInputException(where + ": feature " + (i - off) + " is " + f[i]
            + "; times data.scale (" + scale + ") that is beyond +-" + (float) Inputs.MAX_SCALED_VALUE
            + ", not an image value");
      }
    }
  }

  /** Top-level column {@code name}, quoted: a dot in a name is not a nested field. */
  public static Column column(String name) {
    return functions.col("`" + name.replace("`", "``") + "`");
  }

  /** Splits off a seeded random validation fraction. */
  public static List<Dataset<Row>> split(Dataset<Row> df, double fraction, long seed) {
    Dataset<Row>[] parts = df.randomSplit(new double[] {1 - fraction, fraction}, seed);
    return new ArrayList<>(List.of(parts[0], parts[1]));
  }
}
