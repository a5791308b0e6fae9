package convspark.common;

/**
 * Bad input from the user: a malformed file, a config key with a wrong value, data that does not
 * fit the model. The message is one line that names the file, field or key and what was expected.
 * The command line maps it to exit code 2.
 */
public class BadInputException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public BadInputException(String message) {
    super(message);
  }

  public BadInputException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * The first BadInputException in {@code t}'s cause chain ({@code t} included), or null: Spark
   * wraps what an executor threw in its own exceptions.
   */
  public static BadInputException in(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof BadInputException b) {
        return b;
      }
    }
    return null;
  }
}
