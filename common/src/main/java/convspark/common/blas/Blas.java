package convspark.common.blas;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import dev.ludovic.netlib.blas.NativeBLAS;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * The BLAS facade: one {@link BLAS} instance per JVM, chosen once, on first use.
 *
 * <p>Every call goes through {@code dev.ludovic.netlib} (the maintained netlib-java that Spark
 * uses); what changes is the library behind it, chosen by the system property {@value
 * BlasChoice#PROPERTY} or else the environment variable {@value BlasChoice#ENV} (the driver
 * passes its choice to the executors as {@code spark.executorEnv.CONVSPARK_BLAS}):
 *
 * <ul>
 *   <li>{@code bundled} (default): OpenBLAS 0.3.31 as shipped in the jar by {@code
 *       org.bytedeco:openblas}. JavaCPP's {@link Loader} extracts it (into {@code
 *       ~/.javacpp/cache}, or {@code -Dorg.bytedeco.javacpp.cachedir}) and loads it with its
 *       small JNI binding; we then point netlib's {@code dev.ludovic.netlib.blas.nativeLibPath}
 *       at that very file, so netlib's {@code sgemm} and the binding share one loaded copy (the
 *       dynamic loader maps a file once). Why netlib and not the binding for the calls: netlib
 *       passes Java arrays with offsets to {@code sgemm} through critical array access, which
 *       our layers use everywhere, and the system and Java choices keep the same code path.
 *       Nodes need no {@code libopenblas0}; and 0.3.31 recognises CPUs that Debian's 0.3.21
 *       mis-detects (it picks the Prescott kernels on recent Intel Xeons, about 4x slower).
 *   <li>{@code system}: the machine's library: {@code dev.ludovic.netlib.blas.nativeLibPath} or
 *       {@code nativeLib} when set, else {@code libopenblas.so.0} in the usual places, else
 *       netlib's default {@code libblas.so.3} (flagged: it may be the slow reference BLAS).
 *   <li>{@code java}: netlib's Java code (VectorBLAS with {@code --add-modules
 *       jdk.incubator.vector}, else Java11BLAS).
 * </ul>
 *
 * A choice that fails to load falls back (bundled, then system, then Java) with a warning on
 * stderr and in {@link #info()}; it never fails. OpenBLAS reads {@code OPENBLAS_CORETYPE} from
 * the environment itself at load, so a kernel the environment forces is respected ({@link
 * OpenBlasKernel}: {@code CONVSPARK_OPENBLAS_CORETYPE} and what is said about the kernel); {@link
 * #info()} reports the kernel actually in use (read from OpenBLAS's {@code gotoblas} table,
 * which is what {@code openblas_get_corename} returns), the version and the file. The bundled
 * library runs with {@code OPENBLAS_NUM_THREADS} threads when that is set, else 1 (one per
 * Spark task: tasks already fill the cores); {@link #setThreads} changes it.
 *
 * <p>All matrix helpers here are <b>row-major</b>: {@code C(m x n) = alpha op(A)(m x k) op(B)(k x
 * n) + beta C}, where {@code lda/ldb/ldc} are the row lengths as stored. netlib is column-major,
 * so we compute {@code C^T = op(B)^T op(A)^T}, which has the same memory layout.
 */
public final class Blas {
  private static final String NETLIB_PATH = "dev.ludovic.netlib.blas.nativeLibPath";
  private static final String NETLIB_LIB = "dev.ludovic.netlib.blas.nativeLib";

  private static final String[] OPENBLAS_CANDIDATES = {
    "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
    "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
    "/usr/local/lib/libopenblas.so.0",
  };

  /**
   * OpenBLAS's core names (driver/others/dynamic*.c), whose tables a DYNAMIC_ARCH build exports
   * as {@code gotoblas_<NAME IN CAPITALS>}; {@code gotoblas} points at the one in use.
   */
  private static final String[] CORENAMES = {
    "Prescott", "Katmai", "Coppermine", "Northwood", "Banias", "Atom", "Core2", "Penryn",
    "Dunnington", "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano",
    "Sandybridge", "Bobcat", "Bulldozer", "Piledriver", "Haswell", "Steamroller", "Excavator",
    "Zen", "SkylakeX", "Cooperlake", "SapphireRapids",
    "armv8", "cortexa53", "cortexa55", "cortexa57", "cortexa72", "cortexa73", "cortexa76",
    "cortexa510", "cortexa710", "cortexx1", "cortexx2", "falkor", "thunderx", "thunderx2t99",
    "thunderx3t110", "tsv110", "emag8180", "neoversen1", "neoversen2", "neoversev1",
    "neoversev2", "a64fx", "armv8sve", "vortex",
  };

  private static final BLAS INSTANCE;
  private static final BlasInfo INFO;

  static {
    // the user's own netlib settings, before the bundled choice overwrites nativeLibPath
    String userPath = System.getProperty(NETLIB_PATH);
    String userLib = System.getProperty(NETLIB_LIB);
    String requested = BlasChoice.requested();
    String warning = "";
    if (!BlasChoice.CHOICES.contains(requested)) {
      warning = BlasChoice.PROPERTY + "/" + BlasChoice.ENV + " = '" + requested
          + "' is not one of " + BlasChoice.CHOICES
          + "; using bundled";
      requested = "bundled";
    }
    BLAS blas = null;
    String library = null;
    String path = "";
    String version = "";
    int threads = 0;
    List<String> failures = new ArrayList<>();
    if (warning.length() > 0) {
      failures.add(warning);
    }
    if (requested.equals("bundled")) {
      try {
        path = loadBundled();
        System.setProperty(NETLIB_PATH, path);
        blas = NativeBLAS.getInstance();
        library = "bundled";
        // read at run time (a constant would be inlined at compile time): the binding on the
        // class path may be another build, e.g. nd4j's next to ours in the peers module
        version = String.valueOf(org.bytedeco.openblas.global.openblas_nolapack.class
            .getField("OPENBLAS_VERSION").get(null)).trim();
        threads = configureThreads();
      } catch (Throwable t) {
        failures.add("bundled OpenBLAS did not load: " + t);
      }
    }
    if (blas == null && !requested.equals("java")) {
      path = systemLibrary(userPath, userLib);
      try {
        if (path.contains("/")) {
          System.setProperty(NETLIB_PATH, path);
        } else {
          // a bare name: netlib dlopens it through the library search path
          System.clearProperty(NETLIB_PATH);
          System.setProperty(NETLIB_LIB, path);
        }
        blas = NativeBLAS.getInstance();
        library = "system";
        version = systemVersion(path);
        if (!path.contains("openblas")) {
          failures.add(path + " is not OpenBLAS: it may be the slow reference BLAS");
        }
      } catch (Throwable t) {
        failures.add("system BLAS " + path + " did not load: " + t);
      }
    }
    String kernel = "";
    if (blas == null) {
      blas = JavaBLAS.getInstance();
      library = "java";
      path = "";
    } else {
      kernel = kernel();
    }
    String env = System.getenv(OpenBlasKernel.OPENBLAS_ENV);
    boolean bundled = "bundled".equals(library);
    OpenBlasKernel.Check kc = OpenBlasKernel.check(System.getenv(OpenBlasKernel.ENV), env, kernel,
        bundled, bundled && OpenBlasKernel.cpuHasAvx512());
    if (!kc.warning().isEmpty()) {
      failures.add(kc.warning());
    }
    INSTANCE = blas;
    INFO = new BlasInfo(library, requested, blas.getClass().getSimpleName(), path, version,
        kernel, env == null ? "" : env, threads, String.join("; ", failures), kc.note(),
        hostName(), ProcessHandle.current().pid());
    if (!INFO.warning().isEmpty()) {
      System.err.println("convspark: WARNING: BLAS: " + INFO.describe());
    }
  }

  private Blas() {}

  /** Extracts and loads the bundled OpenBLAS with its JNI binding; returns the file's path. */
  private static String loadBundled() {
    Loader.load(org.bytedeco.openblas.global.openblas_nolapack.class);
    for (Map.Entry<String, String> e : Loader.getLoadedLibraries().entrySet()) {
      // the binding preloads OpenBLAS as libopenblas_nolapack.so.0 ("openblas_nolapack@.0")
      if (e.getKey().startsWith("openblas_nolapack@") || e.getKey().startsWith("openblas@")) {
        return e.getValue();
      }
    }
    throw new IllegalStateException("JavaCPP loaded the OpenBLAS binding but reports no "
        + "OpenBLAS library among " + Loader.getLoadedLibraries().keySet());
  }

  /** OPENBLAS_NUM_THREADS when set, else 1; applied to the bundled library, then read back. */
  private static int configureThreads() {
    int n = 1;
    String env = System.getenv("OPENBLAS_NUM_THREADS");
    if (env != null && !env.isBlank()) {
      try {
        n = Math.max(1, Integer.parseInt(env.trim()));
      } catch (NumberFormatException e) {
        n = 1;
      }
    }
    org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(n);
    int now = org.bytedeco.openblas.presets.openblas_nolapack.blas_get_num_threads();
    return now > 0 ? now : 0;
  }

  /**
   * Sets the bundled OpenBLAS's thread count (a process-wide setting); no effect on other
   * libraries, whose count {@code OPENBLAS_NUM_THREADS} sets at load.
   */
  public static void setThreads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("BLAS threads must be at least 1, got " + n);
    }
    if (INFO.library().equals("bundled")) {
      org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(n);
    }
  }

  /** The system library to try: netlib's properties when set, else OpenBLAS where found. */
  private static String systemLibrary(String userPath, String userLib) {
    if (userPath != null && !userPath.isBlank()) {
      return userPath;
    }
    if (userLib != null && !userLib.isBlank()) {
      return userLib;
    }
    for (String candidate : OPENBLAS_CANDIDATES) {
      if (new File(candidate).canRead()) {
        return candidate;
      }
    }
    return "libblas.so.3";
  }

  /** "OpenBLAS 0.3.21" from a resolved file name like libopenblasp-r0.3.21.so, else "". */
  private static String systemVersion(String path) {
    String real = path;
    try {
      real = Path.of(path).toRealPath().getFileName().toString();
    } catch (IOException | RuntimeException e) {
      // a bare name or an unreadable link: use what we have
    }
    Matcher m = Pattern.compile("openblas.*?(\\d+\\.\\d+\\.\\d+)").matcher(real);
    return m.find() ? "OpenBLAS " + m.group(1) : "";
  }

  /**
   * The OpenBLAS kernel in use: the core whose {@code gotoblas_<CORE>} table {@code gotoblas}
   * points at (a DYNAMIC_ARCH build's choice, as {@code openblas_get_corename} reports it); ""
   * when the library exports no such table (not OpenBLAS, or built for one CPU only).
   */
  private static String kernel() {
    try {
      Pointer g = Loader.addressof("gotoblas");
      if (g == null) {
        return "";
      }
      long table = new PointerPointer<Pointer>(g).get(0).address();
      for (String core : CORENAMES) {
        Pointer t = Loader.addressof("gotoblas_" + core.toUpperCase(Locale.ROOT));
        if (t != null && t.address() == table) {
          return core;
        }
      }
      return "";
    } catch (Throwable t) {
      return "";
    }
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  /** What was loaded: library, version, kernel, path, threads, host and pid. */
  public static BlasInfo info() {
    return INFO;
  }

  /** One line saying which implementation loaded, for start-up logs and summaries. */
  public static String describe() {
    return INFO.describe();
  }

  /** Whether a native library was loaded. */
  public static boolean isNative() {
    return INFO.isNative();
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
