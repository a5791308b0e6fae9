package convspark.common.blas;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import dev.ludovic.netlib.blas.NativeBLAS;
import java.io.File;

/**
 * The BLAS facade: one {@link BLAS} instance per JVM, chosen once.
 *
 * <p>Prefers the system's native OpenBLAS through {@code dev.ludovic.netlib} (the maintained
 * netlib-java that Spark uses). Unless the user set {@code dev.ludovic.netlib.blas.nativeLib} or
 * {@code nativeLibPath}, we point netlib at {@code libopenblas.so.0} when it exists, because the
 * default {@code libblas.so.3} is the slow reference BLAS wherever Debian's {@code libblas3} is
 * installed. When no native library loads we fall back to the Java implementation (VectorBLAS with
 * {@code --add-modules jdk.incubator.vector}) with a warning; we never fail.
 *
 * <p>All matrix helpers here are <b>row-major</b>: {@code C(m x n) = alpha op(A)(m x k) op(B)(k x
 * n) + beta C}, where {@code lda/ldb/ldc} are the row lengths as stored. netlib is column-major,
 * so we compute {@code C^T = op(B)^T op(A)^T}, which has the same memory layout.
 */
public final class Blas {
  private static final String[] OPENBLAS_CANDIDATES = {
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
    "/usr/local/lib/libopenblas.so.0",
  };

  private static final BLAS INSTANCE;
  private static final String DESCRIPTION;
  private static final boolean NATIVE;

  static {
    if (System.getProperty("dev.ludovic.netlib.blas.nativeLib") == null
        && System.getProperty("dev.ludovic.netlib.blas.nativeLibPath") == null) {
      for (String candidate : OPENBLAS_CANDIDATES) {
        if (new File(candidate).canRead()) {
          System.setProperty("dev.ludovic.netlib.blas.nativeLibPath", candidate);
          break;
        }
      }
    }
    String lib = System.getProperty("dev.ludovic.netlib.blas.nativeLibPath");
    if (lib == null) {
      lib = System.getProperty("dev.ludovic.netlib.blas.nativeLib", "libblas.so.3");
    }
    BLAS blas;
    String desc;
    boolean nat;
    try {
      blas = NativeBLAS.getInstance();
      nat = true;
      desc = "native " + lib + " via " + blas.getClass().getSimpleName();
      String core = System.getenv("OPENBLAS_CORETYPE");
      if (core != null && !core.isEmpty()) {
        desc += ", OPENBLAS_CORETYPE=" + core;
      }
      if (!lib.contains("openblas")) {
        desc += " (not OpenBLAS: may be the slow reference BLAS; install libopenblas0)";
      }
    } catch (Throwable t) {
      blas = JavaBLAS.getInstance();
      nat = false;
      desc = "Java " + blas.getClass().getSimpleName()
          + " (WARNING: native BLAS not loaded from " + lib + ": " + t.getMessage()
          + "; install Debian's libopenblas0 for full speed)";
    }
    INSTANCE = blas;
    DESCRIPTION = desc;
    NATIVE = nat;
    if (!nat) {
      System.err.println("convspark: WARNING: falling back to " + desc);
    }
  }

  private Blas() {}

  /** The BLAS implementation in use. */
  public static BLAS get() {
    return INSTANCE;
  }

  /** One line saying which implementation loaded, for start-up logs and summaries. */
  public static String describe() {
    return DESCRIPTION;
  }

  /** Whether a native library was loaded. */
  public static boolean isNative() {
    return NATIVE;
  }

  /**
   * Row-major GEMM: {@code C = alpha * op(A) * op(B) + beta * C} with C m x n, op(A) m x k, op(B)
   * k x n.
   */
  public static void gemm(
      boolean transA,
      boolean transB,
      int m,
      int n,
      int k,
      float alpha,
      float[] a,
      int aOff,
      int lda,
      float[] b,
      int bOff,
      int ldb,
      float beta,
      float[] c,
      int cOff,
      int ldc) {
    if (m == 0 || n == 0) {
      return;
    }
    INSTANCE.sgemm(
        transB ? "T" : "N",
        transA ? "T" : "N",
        n,
        m,
        k,
        alpha,
        b,
        bOff,
        ldb,
        a,
        aOff,
        lda,
        beta,
        c,
        cOff,
        ldc);
  }

  /** Row-major GEMM on whole arrays with natural leading dimensions. */
  public static void gemm(
      boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, float[] b,
      float beta, float[] c) {
    gemm(transA, transB, m, n, k, alpha, a, 0, transA ? m : k, b, 0, transB ? k : n, beta, c, 0, n);
  }
}
