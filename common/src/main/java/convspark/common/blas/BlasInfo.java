package convspark.common.blas;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one JVM loaded as its BLAS, as {@link Blas} found it: for start-up logs, summary.json and
 * the executors' report.
 *
 * @param library which choice was made: {@code bundled} (the OpenBLAS shipped in the jar),
 *     {@code system} (a native library of the machine) or {@code java} (netlib's Java code)
 * @param requested what the configuration asked for ({@code bundled}, {@code system} or {@code
 *     java}); differs from {@code library} after a fallback
 * @param implementation netlib's class doing the calls (JNIBLAS, VectorBLAS, Java11BLAS, ...)
 * @param path the native library file, or "" for Java
 * @param version e.g. "OpenBLAS 0.3.31", "" when unknown
 * @param kernel the OpenBLAS kernel chosen at load (what {@code openblas_get_corename} returns,
 *     e.g. "SkylakeX", "Haswell", "Zen"), "" for Java or when the library does not tell
 * @param coretypeEnv the {@code OPENBLAS_CORETYPE} of the environment, "" when unset
 * @param threads OpenBLAS's thread count after our setting, 0 when unknown
 * @param warning why the requested library is not the one in use, or why its kernel is not the
 *     one asked for ({@link OpenBlasKernel#check}); "" when both are as asked
 * @param note advice that is not a fault, "" when none: a kernel forced by the environment that
 *     is slower than the CPU allows ({@link OpenBlasKernel#check})
 * @param host the machine's name
 * @param pid this JVM's process id
 */
public record BlasInfo(
    String library,
    String requested,
    String implementation,
    String path,
    String version,
    String kernel,
    String coretypeEnv,
    int threads,
    String warning,
    String note,
    String host,
    long pid)
    implements Serializable {

  /** Whether a native library does the calls. */
  public boolean isNative() {
    return !"java".equals(library);
  }

  /** One line: library, version, kernel, path, and any warning. */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    if (isNative()) {
      sb.append(library).append(' ')
          .append(version.isEmpty() ? "native BLAS" : version)
          .append(", kernel ").append(kernel.isEmpty() ? "unknown" : kernel);
      if (!coretypeEnv.isEmpty()) {
        sb.append(" (OPENBLAS_CORETYPE=").append(coretypeEnv).append(')');
      }
      if (threads > 0) {
        sb.append(", ").append(threads).append(threads == 1 ? " thread" : " threads");
      }
      sb.append(", ").append(path).append(" via ").append(implementation);
    } else {
      sb.append("Java ").append(implementation);
    }
    if (!warning.isEmpty()) {
      sb.append(" (WARNING: ").append(warning).append(')');
    }
    if (!note.isEmpty()) {
      sb.append(" (note: ").append(note).append(')');
    }
    return sb.toString();
  }

  /** The fields as an ordered map, for JSON. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("library", library);
    m.put("requested", requested);
    m.put("implementation", implementation);
    m.put("path", path);
    m.put("version", version);
    m.put("kernel", kernel);
    m.put("openblas_coretype_env", coretypeEnv);
    m.put("threads", threads);
    m.put("warning", warning);
    m.put("note", note);
    m.put("host", host);
    m.put("pid", pid);
    return m;
  }
}
