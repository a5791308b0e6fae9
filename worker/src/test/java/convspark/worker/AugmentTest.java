package convspark.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AugmentTest {
  static float[] image(int c, int h, int w) {
    float[] x = new float[c * h * w];
    for (int i = 0; i < x.length; i++) {
      x[i] = i + 1;
    }
    return x;
  }

  @Test
  void flipMirrorsEachRowAndShiftPadsWithZeros() {
    float[] x = image(1, 2, 3); // rows [1 2 3] [4 5 6]
    float[] y = new float[6];
    // find draws that flip without shifting, and shift without flipping
    boolean sawFlip = false;
    boolean sawShift = false;
    for (long s = 0; s < 200; s++) {
      new Augment(true, 0).apply(x, 0, y, 0, 1, 2, 3, new SplittableRandom(s));
      if (Arrays.equals(y, new float[] {3, 2, 1, 6, 5, 4})) {
        sawFlip = true;
      } else {
        assertArrayEquals(x, y, "a flip-only augmentation either flips or copies");
      }
      new Augment(false, 1).apply(x, 0, y, 0, 1, 2, 3, new SplittableRandom(s));
      float sum = 0;
      for (float v : y) {
        sum += v;
        assertTrue(v == 0 || (v >= 1 && v <= 6));
      }
      if (!Arrays.equals(x, y)) {
        sawShift = true;
        assertTrue(sum < 21, "a shift moves pixels out and zeros in");
      }
    }
    assertTrue(sawFlip && sawShift);
  }

  @Test
  void eraseZeroesOneRectangleOfTheDrawnAreaInEveryChannel() {
    int c = 2;
    int h = 20;
    int w = 20;
    float[] x = image(c, h, w); // every pixel nonzero
    float[] y = new float[c * h * w];
    Augment erase = new Augment(false, 0, 1.0, 0.1, 0.2, 3.0);
    int erased = 0;
    for (long s = 0; s < 300; s++) {
      erase.apply(x, 0, y, 0, c, h, w, new SplittableRandom(s));
      // the zeros of channel 0 form one rectangle, the same in channel 1
      int y0 = h;
      int y1 = -1;
      int x0 = w;
      int x1 = -1;
      int zeros = 0;
      for (int i = 0; i < h * w; i++) {
        assertEquals(y[i] == 0, y[h * w + i] == 0, "channels erased alike at " + i);
        if (y[i] == 0) {
          zeros++;
          y0 = Math.min(y0, i / w);
          y1 = Math.max(y1, i / w);
          x0 = Math.min(x0, i % w);
          x1 = Math.max(x1, i % w);
        } else {
          assertEquals(x[i], y[i], "pixels outside the rectangle are copied");
        }
      }
      if (zeros == 0) {
        continue; // ten draws that did not fit: the image stays whole (rare at these sizes)
      }
      erased++;
      int eh = y1 - y0 + 1;
      int ew = x1 - x0 + 1;
      assertEquals(eh * ew, zeros, "the zeros fill their bounding box");
      // the area is drawn in [0.1, 0.2] of 400 pixels and rounded per side
      assertTrue(zeros >= 0.1 * 400 * 0.6 && zeros <= 0.2 * 400 * 1.5, "area " + zeros);
      double aspect = (double) eh / ew;
      assertTrue(aspect >= 1 / 3.0 * 0.6 && aspect <= 3.0 * 1.6, "aspect " + aspect);
    }
    assertTrue(erased > 290, "probability 1 erases nearly every image: " + erased);

    // probability 0.5 erases about half; probability 0 leaves the flip/shift draws unchanged
    int half = 0;
    for (long s = 0; s < 400; s++) {
      new Augment(false, 0, 0.5, 0.1, 0.2, 3.0).apply(x, 0, y, 0, c, h, w,
          new SplittableRandom(s));
      half += Arrays.equals(x, y) ? 0 : 1;
    }
    assertTrue(half > 150 && half < 250, "erased " + half + " of 400 at probability 0.5");
    float[] z = new float[y.length];
    for (long s = 0; s < 50; s++) {
      new Augment(true, 2).apply(x, 0, y, 0, c, h, w, new SplittableRandom(s));
      new Augment(true, 2, 0, 0.1, 0.2, 3.0).apply(x, 0, z, 0, c, h, w, new SplittableRandom(s));
      assertArrayEquals(y, z, "no erasing: the same draws as before erasing existed");
    }
  }

  @Test
  void augmentationKeepsLabelsAndShapesAndIsReproducible() {
    Network net = new Network(ModelSpec.parse("""
        input { channels = 2, height = 5, width = 5 }
        layers = [ { type = flatten }, { type = dense, units = 3 } ]
        """));
    int n = 20;
    float[] f = new float[n * 50];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = i % 3;
      for (int p = 0; p < 50; p++) {
        f[i * 50 + p] = i * 100 + p + 1;
      }
    }
    SampleBlock block = new SampleBlock(n, 50, f, y);
    int[] perm = new int[n];
    PartitionStep.shuffle(perm, n, 1);
    var ws1 = net.newWorkspace(n);
    var ws2 = net.newWorkspace(n);
    Augment aug = new Augment(true, 2);
    PartitionStep.gather(block, perm, 0, n, ws1, net.inputShape(), aug, 77);
    PartitionStep.gather(block, perm, 0, n, ws2, net.inputShape(), aug, 77);
    assertArrayEquals(Arrays.copyOf(ws1.input(), n * 50), Arrays.copyOf(ws2.input(), n * 50));
    boolean changed = false;
    for (int i = 0; i < n; i++) {
      int src = perm[i];
      assertEquals(y[src], ws1.labels()[i], "labels follow their samples");
      for (int p = 0; p < 50; p++) {
        float v = ws1.input()[i * 50 + p];
        // every value is zero padding or a pixel of the same sample (same hundreds), same channel
        assertTrue(v == 0 || ((int) (v - 1) / 100 == src && ((int) (v - 1) % 100) / 25 == p / 25),
            "sample " + i + " value " + v);
        changed |= v != f[src * 50 + p];
      }
    }
    assertTrue(changed);
    PartitionStep.gather(block, perm, 0, n, ws2, net.inputShape(), aug, 78);
    assertFalse(Arrays.equals(Arrays.copyOf(ws1.input(), n * 50),
        Arrays.copyOf(ws2.input(), n * 50)), "another seed, other augmentations");
  }
}
