package convspark.common.io;

import java.io.IOException;

/** A checkpoint file that is truncated, corrupted, or of an unknown version. */
public class CheckpointFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  public CheckpointFormatException(String message) {
    super(message);
  }
}
