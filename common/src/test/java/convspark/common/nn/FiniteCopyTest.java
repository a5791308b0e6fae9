package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link FiniteCopy}, with and without the Vector API: a move copies and leaves +0 behind, and
 * both checks find NaN, infinities and a NaN with a payload at the start, the middle and the end
 * of vectors of every length class (empty, shorter than a vector, vector tails).
 */
class FiniteCopyTest {
  private static float[] random(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return a;
  }

  /** move or moveScalar, then the check that it moved and cleared [0, n) and nothing beyond. */
  private static boolean move(float[] a, int n, boolean scalar) {
    float[] from = a.clone();
    float[] to = new float[a.length];
    boolean finite = scalar ? FiniteCopy.moveScalar(from, to, n) : FiniteCopy.move(from, to, n);
    for (int i = 0; i < a.length; i++) {
      if (i < n) {
        assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(to[i]), "moved " + i);
        assertEquals(0, Float.floatToRawIntBits(from[i]), "+0 left at " + i);
      } else {
        assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(from[i]));
        assertEquals(0f, to[i], "nothing moved beyond n");
      }
    }
    return finite;
  }

  @Test
  void findsEveryNonFiniteValueWhereverItSits() {
    for (boolean scalar : new boolean[] {false, true}) {
      for (int n : new int[] {0, 1, 7, 8, 9, 31, 1_000, 10_007}) {
        String what = (scalar ? "scalar" : "vector") + ", n=" + n;
        float[] a = random(n, n);
        assertTrue(move(a, n, scalar), what);
        assertTrue(scalar ? FiniteCopy.allFiniteScalar(a) : FiniteCopy.allFinite(a), what);
        for (int at : new int[] {0, n / 2, n - 1}) {
          for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY,
              Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00123)}) {
            if (n == 0) {
              continue;
            }
            float keep = a[at];
            a[at] = bad;
            assertFalse(move(a, n, scalar), what + " at " + at + ": " + bad);
            assertFalse(scalar ? FiniteCopy.allFiniteScalar(a) : FiniteCopy.allFinite(a),
                what + " at " + at + ": " + bad);
            a[at] = keep;
          }
        }
        if (n > 0) {
          a[0] = Float.MAX_VALUE;
          a[n - 1] = -Float.MAX_VALUE;
          assertTrue(move(a, n, scalar), what + ": the largest finite values are finite");
          assertTrue(scalar ? FiniteCopy.allFiniteScalar(a) : FiniteCopy.allFinite(a), what);
          // only the first n values count for a move
          float[] longer = Arrays.copyOf(a, n + 1);
          longer[n] = Float.NaN;
          assertTrue(move(longer, n, scalar), what + ": a NaN beyond n");
        }
      }
    }
  }
}
