package convspark.common.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.ParamRange;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * What the ring engine's sharded update relies on: an optimizer step and the regularisation
 * gradient applied in pieces that cover the vector give exactly the bits of one whole step, over
 * several steps (so the state and Adam's step count carry over), and {@link FiniteCopy} finds
 * every kind of non-finite value wherever it sits, with and without the Vector API.
 */
class RangeStepTest {
  private static final int N = 1_003;
  private static final List<ParamRange> WEIGHTS =
      List.of(new ParamRange(0, 400), new ParamRange(450, 300), new ParamRange(1_000, 3));

  private static float[] random(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return a;
  }

  /** Cuts [0, N) into pieces of uneven sizes, some empty. */
  private static int[] cuts() {
    return new int[] {0, 0, 7, 399, 400, 401, 451, 777, 1_000, 1_002, N};
  }

  private static void check(java.util.function.Supplier<Optimizer> make, String what) {
    Optimizer whole = make.get();
    Optimizer pieces = make.get();
    float[] p1 = random(1, N);
    float[] p2 = p1.clone();
    Regularization reg = new Regularization(0.01, 0.05, WEIGHTS);
    for (int step = 0; step < 4; step++) {
      float[] g = random(10 + step, N);
      float[] g1 = g.clone();
      float[] g2 = g.clone();
      double lr = 0.1 / (step + 1);
      reg.addGradient(p1, g1);
      whole.step(p1, g1, lr);
      int[] c = cuts();
      // pieces in reverse order: no piece may depend on another having run
      for (int k = c.length - 2; k >= 0; k--) {
        reg.addGradient(p2, g2, c[k], c[k + 1]);
        pieces.stepRange(p2, g2, lr, c[k], c[k + 1]);
      }
      pieces.endStep();
      for (int i = 0; i < N; i++) {
        assertEquals(Float.floatToRawIntBits(p1[i]), Float.floatToRawIntBits(p2[i]),
            what + ", step " + step + ", element " + i);
      }
      assertEquals(whole.steps(), pieces.steps(), what);
      float[][] s1 = whole.state();
      float[][] s2 = pieces.state();
      for (int a = 0; a < s1.length; a++) {
        for (int i = 0; i < s1[a].length; i++) {
          assertEquals(Float.floatToRawIntBits(s1[a][i]), Float.floatToRawIntBits(s2[a][i]),
              what + ", state " + a + ", element " + i);
        }
      }
    }
  }

  @Test
  void stepsInPiecesGiveTheBitsOfWholeSteps() {
    check(() -> new Sgd(N, 0, false), "SGD");
    check(() -> new Sgd(N, 0.9, false), "SGD with momentum");
    check(() -> new Sgd(N, 0.9, true), "SGD with Nesterov momentum");
    check(() -> new Adam(N, 0.9, 0.999, 1e-8, 0, WEIGHTS), "Adam");
    check(() -> new Adam(N, 0.8, 0.99, 1e-6, 0.05, WEIGHTS), "AdamW");
  }

  @Test
  void finiteCopyCopiesAndFindsEveryNonFiniteValueWherever() {
    for (int n : new int[] {0, 1, 7, 8, 9, 31, 1_000, 10_007}) {
      float[] a = random(n, n);
      float[] b = new float[n];
      float[] moved = a.clone();
      float[] c = new float[n];
      assertTrue(FiniteCopy.move(moved, c, n), "n=" + n);
      for (int i = 0; i < n; i++) {
        assertEquals(a[i], c[i], 0f);
        assertEquals(0, Float.floatToRawIntBits(moved[i]), "moved from: +0 left at " + i);
      }
      assertTrue(FiniteCopy.copyScalar(a, b, n), "n=" + n);
      assertTrue(FiniteCopy.allFinite(a), "n=" + n);
      assertTrue(FiniteCopy.allFiniteScalar(a), "n=" + n);
      for (int i = 0; i < n; i++) {
        assertEquals(a[i], b[i], 0f);
      }
      a = a.clone();
      for (int at : new int[] {0, n / 2, n - 1}) {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00123)}) {
          if (n == 0) {
            continue;
          }
          float keep = a[at];
          a[at] = bad;
          assertFalse(FiniteCopy.allFinite(a), "n=" + n + " at " + at + ": " + bad);
          assertFalse(FiniteCopy.move(a.clone(), b, n), "n=" + n + " at " + at + ": " + bad);
          assertFalse(FiniteCopy.copyScalar(a, b, n), "n=" + n + " at " + at + ": " + bad);
          assertFalse(FiniteCopy.allFiniteScalar(a), "n=" + n + " at " + at + ": " + bad);
          a[at] = keep;
        }
      }
      if (n > 0) {
        a[0] = Float.MAX_VALUE;
        a[n - 1] = -Float.MAX_VALUE;
        assertTrue(FiniteCopy.move(a.clone(), b, n), "the largest finite values are finite");
        assertTrue(FiniteCopy.allFinite(a), "the largest finite values are finite");
        assertTrue(FiniteCopy.copyScalar(a, b, n) && FiniteCopy.allFiniteScalar(a));
        // only the first n values count
        float[] longer = java.util.Arrays.copyOf(a, n + 1);
        longer[n] = Float.NaN;
        assertTrue(FiniteCopy.move(longer, new float[n + 1], n));
        assertTrue(Float.isNaN(longer[n]), "a move stops at n");
      }
    }
  }
}
