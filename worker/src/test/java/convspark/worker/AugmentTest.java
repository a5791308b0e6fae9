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
