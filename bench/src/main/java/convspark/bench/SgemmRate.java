package convspark.bench;

import convspark.common.blas.Blas;

/**
 * The machine's single-thread sgemm rate, the number issue 17's GEMM-bound limit of a training
 * step is defined by (GEMM FLOPs per step / this rate): row-major {@code C = A * B} through the
 * same {@link Blas#gemm} the kernel uses, square sizes 256 to 2048, each timed for about
 * {@code seconds} after a warm-up of half that, median of its calls. Prints one line per size
 * and a last line "sgemm peak GFLOP/s X (size N)". Run with OPENBLAS_NUM_THREADS=1.
 *
 * <p>{@code java -cp bench/target/benchmarks.jar convspark.bench.SgemmRate [seconds]}
 */
public final class SgemmRate {
  private SgemmRate() {}

  public static void main(String[] args) {
    double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
    System.out.println("# " + Blas.describe());
    double best = 0;
    int bestN = 0;
    for (int n : new int[] {256, 512, 1024, 1536, 2048}) {
      float[] a = fill(n * n, 1);
      float[] b = fill(n * n, 2);
      float[] c = new float[n * n];
      double flop = 2.0 * n * n * n;
      long end = System.nanoTime() + (long) (seconds * 0.5e9);
      while (System.nanoTime() < end) {
        Blas.gemm(false, false, n, n, n, 1f, a, b, 0f, c);
      }
      double[] t = new double[4096];
      int calls = 0;
      end = System.nanoTime() + (long) (seconds * 1e9);
      while (System.nanoTime() < end && calls < t.length) {
        long t0 = System.nanoTime();
        Blas.gemm(false, false, n, n, n, 1f, a, b, 0f, c);
        t[calls++] = (System.nanoTime() - t0) / 1e9;
      }
      java.util.Arrays.sort(t, 0, calls);
      double rate = flop / t[calls / 2] / 1e9;
      System.out.printf("sgemm %dx%dx%d: %.1f GFLOP/s (median of %d calls)%n", n, n, n, rate,
          calls);
      if (rate > best) {
        best = rate;
        bestN = n;
      }
    }
    System.out.printf("sgemm peak GFLOP/s %.1f (size %d)%n", best, bestN);
  }

  private static float[] fill(int len, int seed) {
    java.util.Random r = new java.util.Random(seed);
    float[] x = new float[len];
    for (int i = 0; i < len; i++) {
      x[i] = r.nextFloat() - 0.5f;
    }
    return x;
  }
}
