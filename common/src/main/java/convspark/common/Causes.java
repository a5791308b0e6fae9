package convspark.common;

/**
 * One-line descriptions of failures whose first line is a wrapper's: Spark's job failures end
 * theirs in words like "Exception thrown in awaitResult:", and what went wrong is only in the
 * cause chain.
 */
public final class Causes {
  private Causes() {}

  /** The first line of {@code s}, stripped ("" for null). */
  public static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return (nl < 0 ? s : s.substring(0, nl)).strip();
  }

  /**
   * {@code line} (what {@code t} says), followed by " (cause: ...)" with the first line of the
   * innermost cause of {@code t} that has a message, where {@code line} does not already hold it.
   */
  public static String withInnermost(String line, Throwable t) {
    Throwable root = null;
    for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      if (!firstLine(c.getMessage()).isEmpty()) {
        root = c;
      }
    }
    if (root == null) {
      return line;
    }
    String cause = firstLine(root.toString());
    return line.contains(firstLine(root.getMessage())) ? line : line + " (cause: " + cause + ")";
  }
}
