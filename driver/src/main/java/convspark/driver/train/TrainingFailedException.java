package convspark.driver.train;

/** Training could not go on (divergence, a failed Spark job). The CLI exits with code 3. */
public class TrainingFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public TrainingFailedException(String message) {
    super(message);
  }

  public TrainingFailedException(String message, Throwable cause) {
    super(message, cause);
  }
}
