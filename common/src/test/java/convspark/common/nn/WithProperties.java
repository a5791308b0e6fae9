package convspark.common.nn;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Runs a test body with system properties set, and restores them afterwards whatever happens
 * (the kernels read their tuning properties when a network or workspace is built).
 */
final class WithProperties {
  private WithProperties() {}

  /** Sets each key to its value ({@code null} clears it), runs {@code body}, restores them. */
  static void run(Runnable body, String... keysAndValues) {
    Map<String, String> before = new LinkedHashMap<>();
    try {
      for (int i = 0; i < keysAndValues.length; i += 2) {
        String key = keysAndValues[i];
        before.putIfAbsent(key, System.getProperty(key));
        set(key, keysAndValues[i + 1]);
      }
      body.run();
    } finally {
      before.forEach(WithProperties::set);
    }
  }

  private static void set(String key, String value) {
    if (value == null) {
      System.clearProperty(key);
    } else {
      System.setProperty(key, value);
    }
  }
}
