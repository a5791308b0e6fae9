package convspark.worker;

/**
 * Training cannot go on (it diverged, or a step failed after Spark's retries); the CLI exits
 * with status 3.
 */
public class TrainingFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TrainingFailedException(String message) {
    super(message);
  }

  public TrainingFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
