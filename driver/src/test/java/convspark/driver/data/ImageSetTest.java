package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ImageSetTest {
  /** Sample i has label i and every pixel equal to i (so pixels identify their sample). */
  static ImageSet numbered(int count, int c, int h, int w) {
    int s = c * h * w;
    float[] px = new float[count * s];
    int[] lb = new int[count];
    for (int i = 0; i < count; i++) {
      Arrays.fill(px, i * s, (i + 1) * s, i);
      lb[i] = i;
    }
    return new ImageSet(count, c, h, w, px, lb);
  }

  @Test
  void constructorValidatesLengths() {
    assertThrows(
        IllegalArgumentException.class, () -> new ImageSet(2, 1, 2, 2, new float[7], new int[2]));
    assertThrows(
        IllegalArgumentException.class, () -> new ImageSet(2, 1, 2, 2, new float[8], new int[3]));
    assertThrows(
        IllegalArgumentException.class, () -> new ImageSet(1, 0, 2, 2, new float[0], new int[1]));
    assertThrows(
        IllegalArgumentException.class, () -> new ImageSet(-1, 1, 1, 1, new float[0], new int[0]));
    ImageSet ok = new ImageSet(2, 3, 2, 2, new float[24], new int[2]);
    assertEquals(12, ok.sampleSize());
  }

  @Test
  void validateLabelsNamesSourceIndexAndValue() {
    ImageSet s = new ImageSet(4, 1, 1, 1, new float[4], new int[] {0, 9, 10, 3});
    s.validateLabels(11, "train.csv"); // all in [0, 11): no exception
    BadInputException e =
        assertThrows(BadInputException.class, () -> s.validateLabels(10, "train.csv"));
    assertTrue(e.getMessage().startsWith("train.csv: label 10 of sample 2 (counting from 0)"), e.getMessage());
    assertTrue(e.getMessage().contains("[0, 10)"), e.getMessage());
    ImageSet neg = new ImageSet(2, 1, 1, 1, new float[2], new int[] {1, -1});
    BadInputException e2 =
        assertThrows(BadInputException.class, () -> neg.validateLabels(10, "x.idx"));
    assertTrue(e2.getMessage().contains("x.idx: label -1 of sample 1"), e2.getMessage());
  }

  @Test
  void validateFiniteNamesFirstBadSample() {
    float[] px = new float[3 * 2 * 2 * 2];
    px[2 * 8 + 4 + 3] = Float.POSITIVE_INFINITY; // sample 2, channel 1, row 1, col 1
    ImageSet s = new ImageSet(3, 2, 2, 2, px, new int[3]);
    BadInputException e = assertThrows(BadInputException.class, () -> s.validateFinite("f.csv"));
    assertTrue(e.getMessage().startsWith("f.csv: sample 2 "), e.getMessage());
    assertTrue(e.getMessage().contains("Infinity"), e.getMessage());
    assertTrue(e.getMessage().contains("channel 1, row 1, column 1"), e.getMessage());
    px[2 * 8 + 4 + 3] = 0f;
    px[8 + 2] = Float.NaN; // sample 1, channel 0, row 1, col 0
    BadInputException e2 = assertThrows(BadInputException.class, () -> s.validateFinite("f.csv"));
    assertTrue(e2.getMessage().startsWith("f.csv: sample 1 "), e2.getMessage());
    assertTrue(e2.getMessage().contains("NaN at channel 0, row 1, column 0"), e2.getMessage());
    numbered(3, 2, 2, 2).validateFinite("ok"); // no exception for finite data
  }

  @Test
  void subsetCopiesSamplesInOrder() {
    ImageSet s = numbered(5, 2, 1, 3);
    ImageSet sub = s.subset(new int[] {4, 1, 1});
    assertEquals(3, sub.count());
    assertArrayEquals(new int[] {4, 1, 1}, sub.labels());
    float[] expected = new float[18];
    Arrays.fill(expected, 0, 6, 4f);
    Arrays.fill(expected, 6, 18, 1f);
    assertArrayEquals(expected, sub.pixels());
    assertThrows(IndexOutOfBoundsException.class, () -> s.subset(new int[] {5}));
    assertThrows(IndexOutOfBoundsException.class, () -> s.subset(new int[] {-1}));
  }

  @Test
  void splitIsSeededDisjointAndComplete() {
    ImageSet s = numbered(101, 1, 2, 2);
    ImageSet.Split a = ImageSet.split(s, 0.2, 12345L);
    ImageSet.Split b = ImageSet.split(s, 0.2, 12345L);
    assertEquals(20, a.holdout().count()); // round(101 * 0.2) = round(20.2)
    assertEquals(81, a.train().count());
    assertEquals(a, b);
    assertArrayEquals(a.holdout().labels(), b.holdout().labels());
    assertArrayEquals(a.train().labels(), b.train().labels());

    Set<Integer> seen = new HashSet<>();
    for (ImageSet part : new ImageSet[] {a.train(), a.holdout()}) {
      for (int i = 0; i < part.count(); i++) {
        int id = part.labels()[i];
        assertTrue(seen.add(id), "sample " + id + " appears twice");
        for (int k = 0; k < 4; k++) {
          assertEquals(id, part.pixels()[i * 4 + k], "pixels follow their label");
        }
      }
    }
    assertEquals(101, seen.size());

    ImageSet.Split other = ImageSet.split(s, 0.2, 54321L);
    assertNotEquals(
        Arrays.toString(a.holdout().labels()), Arrays.toString(other.holdout().labels()));
    // Shuffled, not the first 20 samples.
    assertNotEquals(
        Arrays.toString(Arrays.copyOf(s.labels(), 20)), Arrays.toString(a.holdout().labels()));
  }

  @Test
  void splitRoundsAndHandlesEdges() {
    ImageSet s = numbered(10, 1, 1, 1);
    assertEquals(3, ImageSet.split(s, 0.25, 1).holdout().count()); // round(2.5) = 3
    assertEquals(0, ImageSet.split(s, 0.0, 1).holdout().count());
    assertEquals(10, ImageSet.split(s, 1.0, 1).holdout().count());
    assertEquals(0, ImageSet.split(s, 1.0, 1).train().count());
    assertThrows(IllegalArgumentException.class, () -> ImageSet.split(s, 1.5, 1));
    assertThrows(IllegalArgumentException.class, () -> ImageSet.split(s, Double.NaN, 1));
  }

  @Test
  void equalsComparesContentsAndSerializationRoundTrips() throws Exception {
    ImageSet s = numbered(3, 1, 2, 2);
    assertEquals(s, numbered(3, 1, 2, 2));
    assertEquals(s.hashCode(), numbered(3, 1, 2, 2).hashCode());
    ImageSet changed = numbered(3, 1, 2, 2);
    changed.pixels()[5] = 99;
    assertNotEquals(s, changed);

    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(s);
    }
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      assertEquals(s, in.readObject());
    }
  }

  @Test
  void anAbsurdPixelNamesItsSampleCountingFromZero() {
    float[] px = new float[3 * 4];
    px[2 * 4 + 3] = 1e9f; // sample 2, row 1, column 1
    BadInputException e = assertThrows(BadInputException.class, () -> new ImageSet(3, 1, 2, 2,
        px, new int[3]).validateMagnitude("x.csv", 1.0, 1e6));
    assertTrue(e.getMessage().startsWith("x.csv: sample 2 (counting from 0) has pixel value "
        + "1.0E9 at channel 0, row 1, column 1; "), e.getMessage());
  }
}
