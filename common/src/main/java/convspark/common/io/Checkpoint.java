package convspark.common.io;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Everything needed to resume training or to score: the model spec (as HOCON), parameters,
 * batch-norm state, optimizer state, where training was (epoch, global step), and string
 * metadata (normalisation, best validation metrics, ...).
 *
 * <p>Binary format, big-endian: magic {@code CSPKCKPT}, format version (int), then the fields,
 * then a CRC-32 of everything before it and the total length. A truncated or torn file fails the
 * length or CRC check and is reported, never half-read. Floats are stored bit-exactly.
 */
public record Checkpoint(
    String modelSpec,
    int epoch,
    long step,
    float[] params,
    float[] state,
    String optimizer,
    float[][] optimizerState,
    long optimizerSteps,
    Map<String, String> meta) {

  private static final byte[] MAGIC = "CSPKCKPT".getBytes(StandardCharsets.US_ASCII);
  /** The version this code writes; it reads versions up to this one. */
  public static final int VERSION = 1;

  /**
   * The largest file that can be a checkpoint: it is read into one byte array. A bigger file is
   * rejected by its length before anything is read.
   */
  public static final long MAX_BYTES = Integer.MAX_VALUE - 16;

  public Checkpoint {
    meta = Collections.unmodifiableMap(new LinkedHashMap<>(meta));
  }

  /** This checkpoint with metadata entry {@code key} set to {@code value} (arrays shared). */
  public Checkpoint withMeta(String key, String value) {
    Map<String, String> m = new LinkedHashMap<>(meta);
    m.put(key, value);
    return new Checkpoint(modelSpec, epoch, step, params, state, optimizer, optimizerState,
        optimizerSteps, m);
  }

  /** Rejects a file of {@code length} bytes that cannot be a checkpoint, before reading it. */
  public static void checkLength(long length, String source) throws CheckpointFormatException {
    if (length > MAX_BYTES) {
      throw new CheckpointFormatException(String.format("%s: %.1f GB is larger than any "
          + "convspark checkpoint can be (at most 2 GB); not a checkpoint", source,
          length / 1e9));
    }
  }

  /** Serialises this checkpoint. */
  public byte[] toBytes() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(16 + 4 * params.length * 3);
      DataOutputStream out = new DataOutputStream(bytes);
      out.write(MAGIC);
      out.writeInt(VERSION);
      writeString(out, modelSpec);
      out.writeInt(epoch);
      out.writeLong(step);
      writeFloats(out, params);
      writeFloats(out, state);
      writeString(out, optimizer);
      out.writeInt(optimizerState.length);
      for (float[] a : optimizerState) {
        writeFloats(out, a);
      }
      out.writeLong(optimizerSteps);
      out.writeInt(meta.size());
      for (Map.Entry<String, String> e : meta.entrySet()) {
        writeString(out, e.getKey());
        writeString(out, e.getValue());
      }
      out.flush();
      CRC32 crc = new CRC32();
      crc.update(bytes.toByteArray());
      out.writeLong(crc.getValue());
      out.writeLong(bytes.size() + 8L);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  public void write(OutputStream out) throws IOException {
    out.write(toBytes());
  }

  /** Reads a whole checkpoint from {@code in}; {@code source} names it in errors. */
  public static Checkpoint read(InputStream in, String source) throws IOException {
    return fromBytes(in.readAllBytes(), source);
  }

  public static Checkpoint fromBytes(byte[] b, String source) throws CheckpointFormatException {
    if (b.length < MAGIC.length + 4 + 16) {
      throw new CheckpointFormatException(source + ": not a convspark checkpoint (only "
          + b.length + " bytes)");
    }
    for (int i = 0; i < MAGIC.length; i++) {
      if (b[i] != MAGIC[i]) {
        throw new CheckpointFormatException(source + ": not a convspark checkpoint (bad magic)");
      }
    }
    long length = readLong(b, b.length - 8);
    if (length < MAGIC.length + 4 + 16 || length > b.length) {
      // no checkpoint of this file's bytes could say that: the trailer is other bytes (a file
      // cut short, or another kind of file); its value would only mislead
      throw new CheckpointFormatException(source + ": truncated or not a convspark checkpoint "
          + "(its last 8 bytes are not the length of a checkpoint of its " + b.length
          + " bytes)");
    }
    if (length != b.length) {
      throw new CheckpointFormatException(source + ": truncated or torn checkpoint: trailer says "
          + length + " bytes, file has " + b.length);
    }
    CRC32 crc = new CRC32();
    crc.update(b, 0, b.length - 16);
    if (crc.getValue() != readLong(b, b.length - 16)) {
      throw new CheckpointFormatException(source + ": corrupted checkpoint (CRC mismatch)");
    }
    try {
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(b, 0, b.length - 16));
      in.skipNBytes(MAGIC.length);
      int version = in.readInt();
      if (version < 1 || version > VERSION) {
        throw new CheckpointFormatException(source + ": checkpoint format version " + version
            + " is not supported (this build reads 1.." + VERSION + ")");
      }
      String spec = readString(in);
      int epoch = in.readInt();
      long step = in.readLong();
      float[] params = readFloats(in);
      float[] state = readFloats(in);
      String opt = readString(in);
      // a count is checked against the bytes left before anything is allocated for it: every
      // array takes at least its 4-byte length (a crafted count ran the reader out of memory)
      float[][] optState = new float[count(in, 4)][];
      for (int i = 0; i < optState.length; i++) {
        optState[i] = readFloats(in);
      }
      long optSteps = in.readLong();
      int n = count(in, 8);
      Map<String, String> meta = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        meta.put(readString(in), readString(in));
      }
      return new Checkpoint(spec, epoch, step, params, state, opt, optState, optSteps, meta);
    } catch (EOFException e) {
      throw new CheckpointFormatException(source + ": checkpoint ends early");
    } catch (CheckpointFormatException e) {
      throw e;
    } catch (IOException e) {
      throw new CheckpointFormatException(source + ": unreadable checkpoint: " + e.getMessage());
    }
  }

  /**
   * Reads a count of items of at least {@code minBytes} bytes each; a negative count, or one that
   * the bytes left cannot hold, is a checkpoint that ends early.
   */
  private static int count(DataInputStream in, int minBytes) throws IOException {
    int n = in.readInt();
    if (n < 0 || (long) n * minBytes > in.available()) {
      throw new EOFException();
    }
    return n;
  }

  private static long readLong(byte[] b, int off) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[off + i] & 0xff);
    }
    return v;
  }

  private static void writeString(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  private static String readString(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > in.available()) {
      throw new EOFException();
    }
    return new String(in.readNBytes(n), StandardCharsets.UTF_8);
  }

  private static void writeFloats(DataOutputStream out, float[] a) throws IOException {
    out.writeInt(a.length);
    byte[] buf = new byte[a.length * 4];
    for (int i = 0, j = 0; i < a.length; i++, j += 4) {
      int v = Float.floatToRawIntBits(a[i]);
      buf[j] = (byte) (v >>> 24);
      buf[j + 1] = (byte) (v >>> 16);
      buf[j + 2] = (byte) (v >>> 8);
      buf[j + 3] = (byte) v;
    }
    out.write(buf);
  }

  private static float[] readFloats(DataInputStream in) throws IOException {
    int n = in.readInt();
    if (n < 0 || (long) n * 4 > in.available()) {
      throw new EOFException();
    }
    byte[] buf = in.readNBytes(n * 4);
    float[] a = new float[n];
    for (int i = 0, j = 0; i < n; i++, j += 4) {
      a[i] = Float.intBitsToFloat(((buf[j] & 0xff) << 24) | ((buf[j + 1] & 0xff) << 16)
          | ((buf[j + 2] & 0xff) << 8) | (buf[j + 3] & 0xff));
    }
    return a;
  }
}
