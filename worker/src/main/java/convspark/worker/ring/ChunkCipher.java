package convspark.worker.ring;

import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Seals or opens the ring's chunks on one TCP connection with AES-128-GCM (the JDK's provider,
 * which uses the CPU's AES and carry-less multiply instructions): the payload is encrypted, and
 * the 16-byte header (operation, step, chunk, payload bytes) is authenticated with it, under the
 * connection's data key from the {@link Handshake}. The nonce is the header's first 12 bytes:
 * operation, step and chunk never repeat on one connection, and every connection has its own
 * key, so no key and nonce pair is ever used twice. A chunk that was altered, replayed from
 * another position or connection, or sealed with another key fails its tag.
 *
 * <p>Wire: header (in the clear, as on a plain link) | ciphertext (the payload's length) | tag
 * (16 bytes). One instance per connection end, used by one thread at a time.
 */
final class ChunkCipher {
  /** Bytes a sealed chunk adds to the payload. */
  static final int TAG = 16;
  /** AES-128, as Spark's own network encryption by default (spark.network.crypto.keyLength). */
  static final int KEY_BYTES = 16;
  private static final int NONCE = 12;

  private final Cipher cipher;
  private final SecretKeySpec key;
  private final boolean seal;
  private final byte[] header = new byte[Ring.HEADER];
  private final byte[] nonce = new byte[NONCE];

  private ChunkCipher(byte[] dataKey, boolean seal) {
    if (dataKey.length < KEY_BYTES) {
      throw new IllegalArgumentException("a data key of " + dataKey.length + " bytes, at least "
          + KEY_BYTES + " expected");
    }
    this.key = new SecretKeySpec(dataKey, 0, KEY_BYTES, "AES");
    this.seal = seal;
    try {
      this.cipher = Cipher.getInstance("AES/GCM/NoPadding");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JVM has no AES/GCM cipher: " + e.getMessage(), e);
    }
  }

  /** The sending end of a connection with data key {@code dataKey}. */
  static ChunkCipher sealing(byte[] dataKey) {
    return new ChunkCipher(dataKey, true);
  }

  /** The receiving end. */
  static ChunkCipher opening(byte[] dataKey) {
    return new ChunkCipher(dataKey, false);
  }

  /**
   * Seals {@code plain} (header at 0, then the payload, up to its limit) into {@code out}
   * (cleared here): the same header, the ciphertext and the tag; {@code out} is left flipped,
   * ready to write. {@code out} needs {@code plain.limit() + TAG} bytes.
   */
  void seal(ByteBuffer plain, ByteBuffer out) throws GeneralSecurityException {
    if (!seal) {
      throw new IllegalStateException("an opening cipher cannot seal");
    }
    crypt(Cipher.ENCRYPT_MODE, plain, out);
    out.flip();
  }

  /**
   * Opens {@code sealed} (header, ciphertext and tag, from 0 to its limit) into {@code out}
   * (cleared here): the header and the payload, from 0; {@code out} needs {@code
   * sealed.limit() - TAG} bytes.
   *
   * @throws AEADBadTagException if the chunk was altered or sealed with another key or nonce
   */
  void open(ByteBuffer sealed, ByteBuffer out) throws GeneralSecurityException {
    if (seal) {
      throw new IllegalStateException("a sealing cipher cannot open");
    }
    crypt(Cipher.DECRYPT_MODE, sealed, out);
  }

  /**
   * Copies {@code in}'s header to {@code out} (cleared) and seals or opens the rest of {@code
   * in} after it: the nonce is the header's first 12 bytes, the header the associated data.
   */
  private void crypt(int mode, ByteBuffer in, ByteBuffer out) throws GeneralSecurityException {
    in.get(0, header);
    System.arraycopy(header, 0, nonce, 0, NONCE);
    cipher.init(mode, key, new GCMParameterSpec(8 * TAG, nonce));
    cipher.updateAAD(header);
    out.clear();
    out.put(header);
    in.position(Ring.HEADER);
    cipher.doFinal(in, out);
  }
}
