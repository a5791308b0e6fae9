package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Vector API reductions and ReLU's backward against plain double-precision loops, over every
 * length from 0 to a few vectors and at odd offsets, so the lane loop and the scalar tail both
 * run (the gradient checks only see the lengths of their layers).
 */
class VectorKernelsTest {
  private static final SplittableRandom RNG = new SplittableRandom(7);

  @BeforeAll
  static void needsTheModule() {
    assumeTrue(Kernels.VECTOR_API, "--add-modules=jdk.incubator.vector is not set");
  }

  private static float[] random(int n, float shift) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (RNG.nextGaussian() + shift);
    }
    return a;
  }

  @Test
  void reductionsMatchDoubleLoopsAtEveryLengthAndOffset() {
    float[] a = random(100, 3f);
    float[] b = random(100, -0.5f);
    for (int off = 0; off < 3; off++) {
      for (int len = 0; len <= 70; len++) {
        double sum = 0;
        double sq = 0;
        double dy = 0;
        double dot = 0;
        float mean = 2.9f;
        float inv = 1.3f;
        for (int i = off; i < off + len; i++) {
          sum += a[i];
          sq += (a[i] - (double) mean) * (a[i] - (double) mean);
          dy += b[i];
          dot += (a[i] - (double) mean) * inv * b[i];
        }
        String at = "off " + off + " len " + len;
        assertEquals(sum, VectorKernels.sum(a, off, len), 1e-5 * (1 + Math.abs(sum)), at);
        assertEquals(sq, VectorKernels.sumSqDiff(a, off, len, mean), 1e-5 * (1 + sq), at);
        double[] out = {1, -1}; // the kernel adds into out
        VectorKernels.sumAndDotNormalized(a, b, off, len, mean, inv, out);
        assertEquals(1 + dy, out[0], 1e-5 * (1 + Math.abs(dy)), at);
        assertEquals(-1 + dot, out[1], 1e-5 * (1 + Math.abs(dot)), at);
      }
    }
  }

  @Test
  void reluBackwardPassesTheGradientExactlyWhereTheInputIsPositive() {
    for (int len = 0; len <= 70; len++) {
      float[] x = random(len, 0f);
      if (len > 2) {
        x[1] = 0f;
        x[2] = -0f;
      }
      float[] gy = random(len, 1f);
      float[] gx = random(len, 5f); // overwritten, never accumulated into
      float[] want = new float[len];
      for (int i = 0; i < len; i++) {
        want[i] = x[i] > 0 ? gy[i] : 0f;
      }
      VectorKernels.reluBackward(x, gy, gx, len);
      assertArrayEquals(want, gx, "len " + len);
    }
  }
}
