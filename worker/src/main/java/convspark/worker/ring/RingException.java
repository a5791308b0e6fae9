package convspark.worker.ring;

import java.io.IOException;

/**
 * A ring operation failed: a peer did not connect, did not prove the secret, stopped answering
 * within the configured timeout, closed its connection, or sent something malformed. The message
 * names this peer's rank and the peer concerned (rank and address). After one, the ring is closed
 * and cannot be used again: the caller forms a new ring (Spark: the barrier stage is retried).
 */
public final class RingException extends IOException {
  private static final long serialVersionUID = 1L;

  public RingException(String message) {
    super(message);
  }

  public RingException(String message, Throwable cause) {
    super(message, cause);
  }
}
