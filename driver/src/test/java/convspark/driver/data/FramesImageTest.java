package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.expressions.GenericRowWithSchema;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** Image structs (Spark's image source) are read only when they hold what they claim. */
class FramesImageTest {
  static final StructType IMAGE = new StructType()
      .add("origin", DataTypes.StringType)
      .add("height", DataTypes.IntegerType)
      .add("width", DataTypes.IntegerType)
      .add("nChannels", DataTypes.IntegerType)
      .add("mode", DataTypes.IntegerType)
      .add("data", DataTypes.BinaryType);
  static final StructType ROW = new StructType().add("image", IMAGE);
  static final Shape GRAY = new Shape(1, 2, 2);

  static Row row(int h, int w, int c, int mode, byte[] data) {
    Row img = new GenericRowWithSchema(new Object[] {"f.png", h, w, c, mode, data}, IMAGE);
    return new GenericRowWithSchema(new Object[] {img}, ROW);
  }

  static String fails(Row r, Shape shape) {
    return assertThrows(BadInputException.class, () -> Frames.features(r, 0,
        Frames.Kind.IMAGE, shape, new float[shape.size()], 0, "row 3")).getMessage();
  }

  @Test
  void aWellFormedImageIsReadAsPlanes() {
    float[] f = new float[4];
    Frames.features(row(2, 2, 1, 0, new byte[] {1, 2, 3, (byte) 255}), 0, Frames.Kind.IMAGE,
        GRAY, f, 0, "row 0");
    assertArrayEquals(new float[] {1, 2, 3, 255}, f);
    // BGR bytes become RGB planes
    float[] rgb = new float[3];
    Frames.features(row(1, 1, 3, 16, new byte[] {10, 20, 30}), 0, Frames.Kind.IMAGE,
        new Shape(3, 1, 1), rgb, 0, "row 0");
    assertArrayEquals(new float[] {30, 20, 10}, rgb);
  }

  @Test
  void shortOrLongDataAndWiderPixelsAreNamed() {
    // named by the row and by the file the image source read it from
    assertEquals("row 3 (image f.png): image data has 3 bytes, its height x width x "
        + "nChannels needs 4",
        fails(row(2, 2, 1, 0, new byte[3]), GRAY));
    assertEquals("row 3 (image f.png): image data has 8 bytes, its height x width x "
        + "nChannels needs 4",
        fails(row(2, 2, 1, 0, new byte[8]), GRAY));
    assertEquals("row 3 (image f.png): image data has no bytes, its height x width x "
        + "nChannels needs 4",
        fails(row(2, 2, 1, 0, null), GRAY));
    // CV_32FC1 (mode 5): four bytes per pixel, not images of bytes
    assertEquals("row 3 (image f.png): image mode 5 is not 8-bit pixels (OpenCV CV_8UC1 = 0, CV_8UC3 = 16, "
        + "CV_8UC4 = 24)", fails(row(2, 2, 1, 5, new byte[16]), GRAY));
  }

  @Test
  void imageFieldsOfAnotherTypeAreNamedFromTheSchema() {
    StructType longs = new StructType().add("image", new StructType()
        .add("height", DataTypes.LongType).add("width", DataTypes.IntegerType)
        .add("nChannels", DataTypes.IntegerType).add("data", DataTypes.BinaryType));
    String e = assertThrows(BadInputException.class,
        () -> Frames.featuresKind(longs, "image")).getMessage();
    assertEquals("Column image: image field height must be of type int (Spark's image source) "
        + "but was actually of type bigint", e);
    assertEquals(Frames.Kind.IMAGE, Frames.featuresKind(ROW, "image"));
  }

  @Test
  void oldMllibVectorsAreNamedWithTheirConversion() {
    // both vector types print as "vector": the general message would contradict itself
    StructType old = new StructType().add("features",
        new org.apache.spark.mllib.linalg.VectorUDT());
    assertEquals("Column features holds org.apache.spark.mllib.linalg vectors (the old "
        + "RDD-based API); convert it to org.apache.spark.ml.linalg vectors with "
        + "MLUtils.convertVectorColumnsToML(dataset, \"features\")", assertThrows(
        BadInputException.class, () -> Frames.featuresKind(old, "features")).getMessage());
    assertEquals(Frames.Kind.VECTOR, Frames.featuresKind(new StructType().add("features",
        new org.apache.spark.ml.linalg.VectorUDT()), "features"));
  }
}
