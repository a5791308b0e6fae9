package convspark.common.nn;

/**
 * Whether a float vector is all finite, in one pass, alone or while moving it: the sharded
 * update's check of the new weights rides on the move that takes them into place, and the full
 * update's check of a gradient whose norm nothing needs costs one read. Each lane adds {@code x
 * * 0}, which is 0 for a finite x and NaN for an infinite or NaN one: vectorised with the Vector
 * API ({@link VectorKernels}, when {@link Kernels#VECTOR_API}), else with four scalar
 * accumulators. A plain per-element test does not vectorise and took 8x a memory copy here.
 */
public final class FiniteCopy {
  private FiniteCopy() {}

  /** Whether every value of {@code a} is finite. */
  public static boolean allFinite(float[] a) {
    return Kernels.VECTOR_API ? VectorKernels.allFinite(a) : allFiniteScalar(a);
  }

  /**
   * {@code to[i] = from[i]}, then {@code from[i] = 0}, for i in [0, n).
   *
   * @return false if any of the moved values is infinite or NaN
   */
  public static boolean move(float[] from, float[] to, int n) {
    return Kernels.VECTOR_API ? VectorKernels.moveFinite(from, to, n) : moveScalar(from, to, n);
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

  /** {@link #move} without the Vector API. */
  static boolean moveScalar(float[] from, float[] to, int n) {
    float s0 = 0;
    float s1 = 0;
    int i = 0;
    for (; i + 1 < n; i += 2) {
      float x0 = from[i];
      float x1 = from[i + 1];
      to[i] = x0;
      to[i + 1] = x1;
      from[i] = 0f;
      from[i + 1] = 0f;
      s0 += x0 * 0f;
      s1 += x1 * 0f;
    }
    for (; i < n; i++) {
      float x = from[i];
      to[i] = x;
      from[i] = 0f;
      s0 += x * 0f;
    }
    return !Float.isNaN(s0 + s1);
  }
}
