package convspark.common.optim;

/**
 * Moves a float vector and says whether every value was finite, in one pass: the sharded
 * update's check that the new weights are finite costs no more than the move it rides on; and
 * the same check without the move, for a gradient whose norm nothing needs. With
 * the Vector API (when its module is present) each lane adds {@code x * 0}, which is 0 for a
 * finite x and NaN for an infinite or NaN one; without it, eight scalar accumulators do the same.
 * A plain per-element test does not vectorise and took 8x a memory copy here.
 */
public final class FiniteCopy {
  private FiniteCopy() {}

  private static final boolean VECTOR_API =
      ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

  /** Whether every value of {@code a} is finite (one vectorised pass, no copy). */
  public static boolean allFinite(float[] a) {
    return VECTOR_API ? FiniteCopyVector.allFinite(a) : allFiniteScalar(a);
  }

  /** {@link #allFinite} without the Vector API. */
  static boolean allFiniteScalar(float[] a) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    int i = 0;
    for (; i + 3 < a.length; i += 4) {
      s0 += a[i] * 0f;
      s1 += a[i + 1] * 0f;
      s2 += a[i + 2] * 0f;
      s3 += a[i + 3] * 0f;
    }
    for (; i < a.length; i++) {
      s0 += a[i] * 0f;
    }
    return !Float.isNaN(s0 + s1 + s2 + s3);
  }

  /**
   * {@code to[i] = from[i]}, then {@code from[i] = 0}, for i in [0, n), in one pass.
   *
   * @return false if any of the moved values is infinite or NaN
   */
  public static boolean move(float[] from, float[] to, int n) {
    if (VECTOR_API) {
      return FiniteCopyVector.move(from, to, n);
    }
    boolean finite = copyScalar(from, to, n);
    java.util.Arrays.fill(from, 0, n, 0f);
    return finite;
  }

  /** {@code to[i] = from[i]} for i in [0, n), without the Vector API; false if any is not finite. */
  static boolean copyScalar(float[] from, float[] to, int n) {
    float s0 = 0;
    float s1 = 0;
    float s2 = 0;
    float s3 = 0;
    float s4 = 0;
    float s5 = 0;
    float s6 = 0;
    float s7 = 0;
    int i = 0;
    for (; i + 7 < n; i += 8) {
      float x0 = from[i];
      float x1 = from[i + 1];
      float x2 = from[i + 2];
      float x3 = from[i + 3];
      float x4 = from[i + 4];
      float x5 = from[i + 5];
      float x6 = from[i + 6];
      float x7 = from[i + 7];
      to[i] = x0;
      to[i + 1] = x1;
      to[i + 2] = x2;
      to[i + 3] = x3;
      to[i + 4] = x4;
      to[i + 5] = x5;
      to[i + 6] = x6;
      to[i + 7] = x7;
      s0 += x0 * 0f;
      s1 += x1 * 0f;
      s2 += x2 * 0f;
      s3 += x3 * 0f;
      s4 += x4 * 0f;
      s5 += x5 * 0f;
      s6 += x6 * 0f;
      s7 += x7 * 0f;
    }
    for (; i < n; i++) {
      float x = from[i];
      to[i] = x;
      s0 += x * 0f;
    }
    return !Float.isNaN(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7);
  }
}
