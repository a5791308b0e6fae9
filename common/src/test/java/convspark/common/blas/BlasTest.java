package convspark.common.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The BLAS choice: the OpenBLAS shipped in the jar by default (its version and kernel reported),
 * the system or Java library by configuration, a fallback with a warning instead of a failure,
 * and the row-major GEMM helper against a plain triple loop for every transpose combination.
 */
class BlasTest {

  @Test
  void bundledOpenBlasIsTheDefaultAndReportsItsKernel() {
    BlasInfo info = Blas.info();
    // this JVM (Surefire) sets no convspark.blas: the default applies
    assertEquals("bundled", info.requested(), info.describe());
    assertEquals("bundled", info.library(), info.describe());
    assertEquals("OpenBLAS 0.3.31", info.version());
    assertTrue(Files.isReadable(Path.of(info.path())), info.path());
    assertTrue(info.isNative());
    assertEquals("", info.warning());
    if (System.getProperty("os.arch").contains("64")) {
      assertFalse(info.kernel().isEmpty(), "no OpenBLAS kernel reported: " + info.describe());
    }
    String env = System.getenv("OPENBLAS_CORETYPE");
    if (env != null && !env.isEmpty()) {
      // OpenBLAS honours a kernel forced by the environment
      assertEquals(env.toLowerCase(), info.kernel().toLowerCase(), info.describe());
    }
    assertTrue(info.threads() >= 1, info.describe());
    assertTrue(info.describe().contains("OpenBLAS 0.3.31, kernel " + info.kernel()),
        info.describe());
  }

  @Test
  void gemmMatchesATripleLoopForEveryTranspose() {
    SplittableRandom r = new SplittableRandom(7);
    int m = 13;
    int n = 17;
    int k = 11;
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        float[] c = new float[m * n];
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) r.nextDouble(-1, 1);
        }
        for (int i = 0; i < b.length; i++) {
          b[i] = (float) r.nextDouble(-1, 1);
        }
        for (int i = 0; i < c.length; i++) {
          c[i] = (float) r.nextDouble(-1, 1);
        }
        float[] expected = c.clone();
        for (int i = 0; i < m; i++) {
          for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
              s += (ta ? a[p * m + i] : a[i * k + p]) * (double) (tb ? b[j * k + p] : b[p * n + j]);
            }
            expected[i * n + j] = (float) (0.5 * s + 2 * expected[i * n + j]);
          }
        }
        Blas.gemm(ta, tb, m, n, k, 0.5f, a, b, 2f, c);
        for (int i = 0; i < c.length; i++) {
          assertEquals(expected[i], c[i], 1e-4, "transA=" + ta + " transB=" + tb + " at " + i);
        }
      }
    }
  }

  /** Prints the BLAS info of a fresh JVM: run by the tests below with other settings. */
  public static void main(String[] args) {
    float[] c = new float[4];
    Blas.gemm(false, false, 2, 2, 1, 1f, new float[] {1, 2}, new float[] {3, 4}, 0f, c);
    System.out.println("library=" + Blas.info().library());
    System.out.println("kernel=" + Blas.info().kernel());
    System.out.println("c=" + c[0] + "," + c[1] + "," + c[2] + "," + c[3]);
    System.out.println("describe=" + Blas.describe());
  }

  static String runFresh(List<String> props) throws IOException, InterruptedException {
    return runFresh(props, Map.of());
  }

  /**
   * Runs {@link #main} in a fresh JVM with these system properties and environment changes (a
   * null value removes the variable); returns its output.
   */
  static String runFresh(List<String> props, Map<String, String> env)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(props);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(BlasTest.class.getName());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    env.forEach((k, v) -> {
      if (v == null) {
        pb.environment().remove(k);
      } else {
        pb.environment().put(k, v);
      }
    });
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not end: " + out);
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("c=3.0,4.0,6.0,8.0"), out);
    return out;
  }

  @Test
  void javaIsAChoiceByConfiguration() throws Exception {
    String out = runFresh(List.of("-Dconvspark.blas=java"));
    assertTrue(out.contains("library=java"), out);
  }

  @Test
  void anUnknownChoiceWarnsAndUsesTheBundledLibrary() throws Exception {
    String out = runFresh(List.of("-Dconvspark.blas=mkl"));
    assertTrue(out.contains("library=bundled"), out);
    assertTrue(out.contains("WARNING: BLAS") && out.contains("'mkl' is not one of"), out);
  }

  @Test
  void aSystemLibraryThatIsMissingFallsBackToJavaWithAWarning() throws Exception {
    String out = runFresh(List.of("-Dconvspark.blas=system",
        "-Ddev.ludovic.netlib.blas.nativeLibPath=/nonexistent/libopenblas.so.0"));
    assertTrue(out.contains("library=java"), out);
    assertTrue(out.contains("WARNING: BLAS") && out.contains("/nonexistent/libopenblas.so.0"),
        out);
  }

  @Test
  void theSystemOpenBlasIsAChoiceWhereInstalled() throws Exception {
    Path debian = Path.of("/usr/lib/x86_64-linux-gnu/libopenblas.so.0");
    if (!Files.isReadable(debian)) {
      return; // nothing to choose on this machine; the fallback test covers the path
    }
    String out = runFresh(List.of("-Dconvspark.blas=system",
        "-Ddev.ludovic.netlib.blas.nativeLibPath=" + debian));
    assertTrue(out.contains("library=system"), out);
    assertTrue(out.contains("describe=system OpenBLAS "), out);
  }

  /** The environment of a fresh JVM: OPENBLAS_CORETYPE and CONVSPARK_OPENBLAS_CORETYPE. */
  private static Map<String, String> kernelEnv(String coretype, String setting) {
    Map<String, String> env = new HashMap<>();
    env.put(OpenBlasKernel.OPENBLAS_ENV, coretype);
    env.put(OpenBlasKernel.ENV, setting);
    return env;
  }

  private static String line(String out, String key) {
    return out.lines().filter(l -> l.startsWith(key + "=")).findFirst()
        .map(l -> l.substring(key.length() + 1)).orElseThrow(() -> new AssertionError(
            "no " + key + "= line in: " + out));
  }

  /**
   * The bundled OpenBLAS treats an empty OPENBLAS_CORETYPE as unset (the driver gives its
   * executors an empty one for CONVSPARK_OPENBLAS_CORETYPE=auto, since Spark can set a variable
   * but not remove it), follows a kernel it is told, and says so when it cannot.
   */
  @Test
  void theBundledLibraryChoosesItsOwnKernelWhenTheVariableIsEmptyAndWarnsOnAMismatch()
      throws Exception {
    String arch = System.getProperty("os.arch");
    assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "x86-64 kernels: " + arch);
    String own = line(runFresh(List.of(), kernelEnv(null, null)), "kernel");
    assertFalse(own.isEmpty(), "the bundled OpenBLAS reported no kernel");
    String empty = runFresh(List.of(), kernelEnv("", "auto"));
    assertEquals(own, line(empty, "kernel"), empty);
    assertFalse(empty.contains("WARNING: BLAS"), empty);
    // a kernel every x86-64 CPU of this project can run
    String haswell = runFresh(List.of(), kernelEnv("Haswell", "Haswell"));
    assertEquals("Haswell", line(haswell, "kernel"), haswell);
    assertFalse(haswell.contains("WARNING: BLAS"), haswell);
    // started outside the scripts: the environment still forces a kernel
    String forced = runFresh(List.of(), kernelEnv("Haswell", "auto"));
    assertEquals("Haswell", line(forced, "kernel"), forced);
    assertTrue(forced.contains("WARNING: BLAS") && forced.contains(
        "CONVSPARK_OPENBLAS_CORETYPE=auto, but OPENBLAS_CORETYPE=Haswell"), forced);
    // a name OpenBLAS does not know: it chooses by itself, and convspark says so
    String unknown = runFresh(List.of(), kernelEnv("NoSuchCore", null));
    assertEquals(own, line(unknown, "kernel"), unknown);
    assertTrue(unknown.contains("WARNING: BLAS") && unknown.contains("'NoSuchCore' is not a "
        + "kernel of this OpenBLAS"), unknown);
    // an AVX2 kernel forced on an AVX-512 CPU whose own choice uses AVX-512: a note
    if (OpenBlasKernel.cpuHasAvx512() && OpenBlasKernel.isAvx512(own)) {
      String slow = runFresh(List.of(), kernelEnv("Haswell", null));
      assertTrue(line(slow, "describe").contains("(note: OPENBLAS_CORETYPE=Haswell in the "
          + "environment keeps OpenBLAS on kernel Haswell"), slow);
    }
  }
}
