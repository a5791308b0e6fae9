package convspark.worker.ring;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The per-job secret that every peer of a ring must know: 32 random bytes from {@link
 * SecureRandom}, created by the caller (the Spark driver) and handed to the peers over a channel
 * it trusts (the task closure over Spark's own RPC; a child process's stdin). Never logged.
 */
public final class RingSecret {
  /** Length of a generated secret, and of nonces and MACs in the handshake. */
  public static final int BYTES = 32;
  /** The shortest secret {@link Handshake} accepts. */
  public static final int MIN_BYTES = 16;
  private static final SecureRandom RANDOM = new SecureRandom();

  private RingSecret() {}

  /** A fresh random secret. */
  public static byte[] generate() {
    return random(BYTES);
  }

  static byte[] random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  public static String toHex(byte[] secret) {
    return HexFormat.of().formatHex(secret);
  }

  /** Parses a hex secret; the message never repeats the input. */
  public static byte[] fromHex(String hex) {
    try {
      byte[] b = HexFormat.of().parseHex(hex.trim());
      check(b);
      return b;
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("ring secret: expected at least " + MIN_BYTES
          + " bytes as hex digits, got a malformed or short value");
    }
  }

  static void check(byte[] secret) {
    if (secret == null || secret.length < MIN_BYTES) {
      throw new IllegalArgumentException("ring secret must have at least " + MIN_BYTES
          + " bytes, got " + (secret == null ? "none" : secret.length));
    }
  }

  /** HMAC-SHA256 of the concatenated parts under {@code secret}. */
  static byte[] hmac(byte[] secret, byte[]... parts) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      for (byte[] p : parts) {
        mac.update(p);
      }
      return mac.doFinal();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
    }
  }
}
