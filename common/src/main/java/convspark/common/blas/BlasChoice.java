package convspark.common.blas;

import java.util.List;
import java.util.Locale;

/**
 * The configured BLAS choice, read without loading anything: {@link Blas}'s class initialiser
 * loads the library (and warns about a choice it does not know), so code that only checks or
 * passes on the choice (the command line refuses an unknown one; the driver hands it to its
 * executors) reads it here and leaves {@link Blas} unloaded.
 */
public final class BlasChoice {
  /** System property choosing the library: bundled, system or java. */
  public static final String PROPERTY = "convspark.blas";

  /** Environment variable choosing the library when the property is not set. */
  public static final String ENV = "CONVSPARK_BLAS";

  /** The choices, in fallback order. */
  public static final List<String> CHOICES = List.of("bundled", "system", "java");

  private BlasChoice() {}

  /** The configured choice, lower case: the property, else the environment, else bundled. */
  public static String requested() {
    String v = System.getProperty(PROPERTY);
    if (v == null || v.isBlank()) {
      v = System.getenv(ENV);
    }
    return v == null || v.isBlank() ? "bundled" : v.trim().toLowerCase(Locale.ROOT);
  }

  /** Whether {@link #requested()} is one of the {@link #CHOICES}. */
  public static boolean known() {
    return CHOICES.contains(requested());
  }
}
