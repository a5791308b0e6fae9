package convspark.driver.ml;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import convspark.driver.data.Frames;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.attribute.Attribute;
import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.attribute.NominalAttribute;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import scala.Option;

/**
 * Schema checks of the Spark ML API (errors name the column, in the style of Spark ML's
 * SchemaUtils) and the executor-side conversion of one row's features to floats.
 *
 * <p>{@link #read} is {@link Frames#features}, the conversion training uses.
 */
final class FeatureColumns {
  private FeatureColumns() {}

  private static StructField field(StructType schema, String col, String role) {
    List<String> names = Arrays.asList(schema.fieldNames());
    if (!names.contains(col)) {
      throw new BadInputException("Column " + col + " (the " + role + " column) does not exist;"
          + " available columns: " + names);
    }
    return schema.apply(col);
  }

  /** The kind of the features column: a Vector, an array of numbers or an image struct. */
  static Frames.Kind featuresKind(StructType schema, String col) {
    field(schema, col, "features");
    return Frames.featuresKind(schema, col);
  }

  /**
   * Checks a Vector column's size against the model input when its ML metadata knows it (as
   * after VectorAssembler); other columns are checked row by row when the rows are read.
   */
  static void checkSize(StructType schema, String col, Shape shape) {
    StructField f = field(schema, col, "features");
    if (!(f.dataType() instanceof VectorUDT)) {
      return;
    }
    int n = AttributeGroup.fromStructField(f).size(); // -1: unknown
    if (n >= 0 && n != shape.size()) {
      throw new BadInputException("Column " + col + " holds vectors of size " + n
          + " but the model input " + shape + " needs " + shape.size() + " values");
    }
  }

  /** Checks the label column: numeric, and at most {@code classes} values per its metadata. */
  static void checkLabel(StructType schema, String col, int classes) {
    DataType lt = field(schema, col, "label").dataType();
    if (!(lt instanceof NumericType)) {
      throw new BadInputException("Column " + col + " must be of type numeric but was actually "
          + "of type " + lt.simpleString() + " (index string labels with StringIndexer)");
    }
    Attribute a = Attribute.fromStructField(schema.apply(col));
    if (a instanceof NominalAttribute nominal) {
      Option<Object> nv = nominal.getNumValues();
      if (nv.isDefined() && (Integer) nv.get() > classes) {
        throw new BadInputException("Column " + col + " has " + nv.get() + " classes (per its "
            + "metadata) but the model outputs " + classes + " class scores");
      }
    }
  }

  /**
   * Checks the column of param {@code param} that says which rows validate (true) and which
   * train (false): it exists and is boolean.
   */
  static void checkIndicator(StructType schema, String col, String param) {
    List<String> names = Arrays.asList(schema.fieldNames());
    if (!names.contains(col)) {
      throw new BadInputException("Column " + col + " (param " + param + ") does not exist;"
          + " available columns: " + names);
    }
    DataType t = schema.apply(col).dataType();
    if (!(t instanceof BooleanType)) {
      throw new BadInputException("Column " + col + " (param " + param + ") must be of type "
          + "boolean (true: validation, false: training) but was actually of type "
          + t.simpleString());
    }
  }

  /** Checks that an output column does not exist yet (empty name: column not wanted). */
  static void checkOutput(StructType schema, String col, String param) {
    if (col.isEmpty()) {
      return;
    }
    for (String f : schema.fieldNames()) {
      if (sameName(f, col)) {
        throw new BadInputException("Output column " + col + " (param " + param + ") already "
            + "exists" + (f.equals(col) ? "" : " as " + f + " (Spark compares column names "
            + "without case unless spark.sql.caseSensitive is true)") + ".");
      }
    }
  }

  /**
   * Whether two column names name the same column, as Spark's analyzer resolves them: without
   * case unless {@code spark.sql.caseSensitive} (a select of "prediction" beside an input column
   * "Prediction" fails as ambiguous otherwise).
   */
  private static boolean sameName(String a, String b) {
    return SQLConf.get().caseSensitiveAnalysis() ? a.equals(b) : a.equalsIgnoreCase(b);
  }

  /** The schema with the output columns (those with non-empty names) appended. */
  static StructType withOutputs(StructType schema, String raw, String prob, String pred,
      int classes) {
    checkOutput(schema, raw, "rawPredictionCol");
    checkOutput(schema, prob, "probabilityCol");
    checkOutput(schema, pred, "predictionCol");
    if (!raw.isEmpty() && sameName(raw, prob) || !raw.isEmpty() && sameName(raw, pred)
        || !prob.isEmpty() && sameName(prob, pred)) {
      throw new BadInputException("Output columns must have distinct names, found rawPrediction"
          + "Col " + raw + ", probabilityCol " + prob + ", predictionCol " + pred);
    }
    StructType out = schema;
    if (!raw.isEmpty()) {
      out = out.add(new AttributeGroup(raw, classes).toStructField());
    }
    if (!prob.isEmpty()) {
      out = out.add(new AttributeGroup(prob, classes).toStructField());
    }
    if (!pred.isEmpty()) {
      out = out.add(NominalAttribute.defaultAttr().withName(pred).withNumValues(classes)
          .toStructField());
    }
    return out;
  }
}
