package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** Reads the real Fashion-MNIST training files when they are installed; skipped otherwise. */
class FashionMnistIdxTest {
  private static final Path DIR = Path.of("/usr/share/datasets/fashion-mnist");

  @Test
  void readsFashionMnistTrainingSet() {
    Path images = DIR.resolve("train-images-idx3-ubyte.gz");
    Path labels = DIR.resolve("train-labels-idx1-ubyte.gz");
    assumeTrue(
        Files.isReadable(images) && Files.isReadable(labels), "dataset-fashion-mnist not installed");

    long t0 = System.nanoTime();
    ImageSet s = IdxReader.read(images.toString(), labels.toString(), new Configuration());
    long millis = (System.nanoTime() - t0) / 1_000_000;

    assertEquals(60000, s.count());
    assertEquals(1, s.channels());
    assertEquals(28, s.height());
    assertEquals(28, s.width());
    assertEquals(60000 * 784, s.pixels().length);
    s.validateLabels(10, labels.toString());
    int[] perClass = new int[10];
    for (int l : s.labels()) {
      perClass[l]++;
    }
    for (int c = 0; c < 10; c++) {
      assertEquals(6000, perClass[c], "samples of class " + c);
    }
    float min = Float.MAX_VALUE;
    float max = -Float.MAX_VALUE;
    for (float v : s.pixels()) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assertEquals(0f, min);
    assertEquals(255f, max);
    assertTrue(millis < 5000, "loading took " + millis + " ms");
  }
}
