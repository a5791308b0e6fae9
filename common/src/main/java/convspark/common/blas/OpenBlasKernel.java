package convspark.common.blas;

import convspark.common.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which OpenBLAS kernel convspark's JVMs run, and what to say about it.
 *
 * <p>OpenBLAS picks its kernel (its "core type") once, when the library loads: from the
 * environment's {@code OPENBLAS_CORETYPE} when set, else from the CPU. A JVM cannot change its
 * own environment, so the choice is made before Java starts: {@code scripts/openblas-coretype.sh}
 * (which {@code java-flags.sh} sources) maps {@value #ENV} onto {@code OPENBLAS_CORETYPE} for the
 * JVMs the scripts start, and the driver passes it to its executors ({@link #executorCoretype}).
 * {@value #ENV}:
 *
 * <ul>
 *   <li>unset: as OpenBLAS does by itself; an {@code OPENBLAS_CORETYPE} of the environment
 *       applies (the AMD machines of this project set {@code Haswell} for every program);
 *   <li>{@code auto}: OpenBLAS chooses from the CPU, whatever {@code OPENBLAS_CORETYPE} the
 *       environment sets (the scripts unset it; executors get it empty, which the bundled
 *       OpenBLAS 0.3.31 treats as unset);
 *   <li>a kernel name ({@code Haswell}, {@code SkylakeX}, {@code Cooperlake}, {@code Zen}, ...):
 *       that kernel.
 * </ul>
 *
 * {@link #check} compares the request with the kernel that loaded: a mismatch is a warning (the
 * JVM was started outside the scripts, the name is not one of this OpenBLAS's kernels, or the CPU
 * cannot run it), and an AVX2 kernel forced by the environment on an AVX-512 CPU gets a note
 * (on an AMD EPYC Zen 5 the bundled library's own choice, Cooperlake, trained 1.4-1.5x faster
 * than the Haswell kernel the machine's environment forces; docs/BENCHMARKS.md).
 */
public final class OpenBlasKernel {
  /** The environment variable that chooses convspark's OpenBLAS kernel. */
  public static final String ENV = "CONVSPARK_OPENBLAS_CORETYPE";

  /** The variable OpenBLAS itself reads when it loads. */
  public static final String OPENBLAS_ENV = "OPENBLAS_CORETYPE";

  /** {@value #ENV} value that lets OpenBLAS choose from the CPU. */
  public static final String AUTO = "auto";

  /** OpenBLAS x86-64 kernels that use AVX-512 (driver/others/dynamic.c). */
  private static final Set<String> AVX512_KERNELS = Set.of("skylakex", "cooperlake",
      "sapphirerapids");

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_]+");

  private OpenBlasKernel() {}

  /**
   * A warning (the loaded kernel is not the one asked for) and a note (a slower kernel than the
   * CPU allows, forced by the environment); each "" when there is nothing to say.
   */
  public record Check(String warning, String note) {}

  /**
   * Compares what was asked for with the kernel that loaded.
   *
   * @param setting {@value #ENV} as this JVM sees it, null or blank when unset
   * @param coretypeEnv {@code OPENBLAS_CORETYPE} as this JVM sees it, null or blank when unset
   * @param kernel the kernel OpenBLAS runs ({@link BlasInfo#kernel()}); "" when unknown
   * @param bundled whether the library is the bundled OpenBLAS 0.3.31 (the note is about it:
   *     an older system library may not know the CPU)
   * @param cpuHasAvx512 whether the CPU has AVX-512 (foundation); read for the note only
   */
  public static Check check(String setting, String coretypeEnv, String kernel, boolean bundled,
      boolean cpuHasAvx512) {
    String s = setting == null ? "" : setting.trim();
    String env = coretypeEnv == null ? "" : coretypeEnv.trim();
    if (kernel == null || kernel.isEmpty()) {
      return new Check("", ""); // not OpenBLAS, or a build for one CPU: nothing to compare
    }
    if (s.equalsIgnoreCase(AUTO) && !env.isEmpty()) {
      return new Check(ENV + "=auto, but " + OPENBLAS_ENV + "=" + env + " in this JVM's "
          + "environment chose kernel " + kernel + ": OpenBLAS reads it when it loads, so "
          + "unset it before Java starts (scripts/java-flags.sh does)", "");
    }
    boolean named = !s.isEmpty() && !s.equalsIgnoreCase(AUTO);
    if (named && !s.equalsIgnoreCase(kernel) && !env.equalsIgnoreCase(s)) {
      return new Check(ENV + "=" + s + ", but "
          + (env.isEmpty() ? OPENBLAS_ENV + " unset" : OPENBLAS_ENV + "=" + env)
          + " in this JVM's environment chose kernel " + kernel + ": OpenBLAS reads it when it "
          + "loads, so set it before Java starts (scripts/java-flags.sh does)", "");
    }
    // from here on OPENBLAS_CORETYPE is what was asked for (or, unset, OpenBLAS chose)
    if (!env.isEmpty() && !env.equalsIgnoreCase(kernel)) {
      return new Check(OPENBLAS_ENV + "=" + env + ", but OpenBLAS runs kernel " + kernel + ": '"
          + env + "' is not a kernel of this OpenBLAS, or one this CPU cannot run", "");
    }
    if (s.isEmpty() && !env.isEmpty() && bundled && cpuHasAvx512 && !isAvx512(kernel)) {
      return new Check("", OPENBLAS_ENV + "=" + env + " in the environment keeps OpenBLAS on "
          + "kernel " + kernel + " (no AVX-512) on this AVX-512 CPU; " + ENV + "=auto lets "
          + "OpenBLAS choose (it trained 1.4-1.5x faster on an AMD EPYC Zen 5: "
          + "docs/BENCHMARKS.md)");
    }
    return new Check("", "");
  }

  /** Whether a kernel name is one of OpenBLAS's AVX-512 kernels. */
  static boolean isAvx512(String kernel) {
    return AVX512_KERNELS.contains(kernel.toLowerCase(Locale.ROOT));
  }

  /**
   * The {@code OPENBLAS_CORETYPE} the driver gives its executors ({@code
   * spark.executorEnv.OPENBLAS_CORETYPE}), or null to leave theirs alone: "" for {@code auto}
   * (an executor's environment may set another), the name for a kernel name, and otherwise the
   * driver's own {@code OPENBLAS_CORETYPE} when set (executors on other machines of a
   * homogeneous cluster get the driver's choice).
   *
   * @throws BadInputException if {@code setting} is neither auto nor a kernel name
   */
  public static String executorCoretype(String setting, String driverCoretypeEnv) {
    String s = setting == null ? "" : setting.trim();
    if (s.equalsIgnoreCase(AUTO)) {
      return "";
    }
    if (!s.isEmpty()) {
      if (!NAME.matcher(s).matches()) {
        throw new BadInputException(ENV + "='" + setting + "': expected auto or an "
            + "OpenBLAS kernel name (Haswell, SkylakeX, Cooperlake, Zen, ...)");
      }
      return s;
    }
    return driverCoretypeEnv == null || driverCoretypeEnv.isBlank() ? null : driverCoretypeEnv;
  }

  /** Whether this machine's CPU has AVX-512 (Linux: /proc/cpuinfo); false when unknown. */
  public static boolean cpuHasAvx512() {
    Path cpuinfo = Path.of("/proc/cpuinfo");
    if (!Files.isReadable(cpuinfo)) {
      return false;
    }
    try (Stream<String> lines = Files.lines(cpuinfo)) {
      return lines.filter(l -> l.startsWith("flags")).findFirst()
          .map(l -> (" " + l.substring(l.indexOf(':') + 1) + " ").contains(" avx512f "))
          .orElse(false);
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }
}
