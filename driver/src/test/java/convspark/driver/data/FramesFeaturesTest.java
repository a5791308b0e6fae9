package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import java.util.Arrays;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** Vector and array features: a value is reported as the data holds it. */
class FramesFeaturesTest {
  static final Shape SHAPE = new Shape(1, 2, 2);
  static final StructType VECTOR = new StructType().add("f", new VectorUDT());
  static final StructType DOUBLES =
      new StructType().add("f", DataTypes.createArrayType(DataTypes.DoubleType));

  static Row vector(double... v) {
    return new GenericRowWithSchema(new Object[] {Vectors.dense(v)}, VECTOR);
  }

  static Row doubles(Double... v) {
    return new GenericRowWithSchema(new Object[] {
        scala.collection.JavaConverters.asScalaBuffer(Arrays.<Object>asList(v)).toSeq()},
        DOUBLES);
  }

  static String fails(Row r, Frames.Kind kind) {
    return assertThrows(BadInputException.class, () -> Frames.features(r, 0, kind, SHAPE,
        new float[4], 0, "row 3")).getMessage();
  }

  @Test
  void aFiniteValueBeyondTheFloatRangeIsNamedAsItIsNotAsInfinity() {
    assertEquals("row 3: feature 2 is 1.0E300, beyond the range of a float (+-3.4028235E38), "
        + "not an image value", fails(vector(1, 2, 1e300, 4), Frames.Kind.VECTOR));
    assertEquals("row 3: feature 1 is -1.0E39, beyond the range of a float (+-3.4028235E38), "
        + "not an image value", fails(doubles(1.0, -1e39, 3.0, 4.0), Frames.Kind.ARRAY));
    // non-finite values are what they are
    assertEquals("row 3: feature 0 is Infinity",
        fails(vector(Double.POSITIVE_INFINITY, 2, 3, 4), Frames.Kind.VECTOR));
    assertEquals("row 3: feature 3 is NaN", fails(doubles(1.0, 2.0, 3.0, Double.NaN),
        Frames.Kind.ARRAY));
    float[] f = new float[4];
    Frames.features(doubles(1.0, 2.5, 3e38, -4.0), 0, Frames.Kind.ARRAY, SHAPE, f, 0, "row 3");
    assertArrayEquals(new float[] {1, 2.5f, 3e38f, -4}, f);
  }
}
