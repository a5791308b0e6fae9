package convspark.common.io;

import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Fast Java-serialization of float arrays, for what crosses the wire every training step
 * (broadcast weights, step results). {@code ObjectOutputStream} writes a float[] element by
 * element into 1 KB blocks; this copies 64 KB chunks through a little-endian {@link FloatBuffer}
 * view of a byte array, whose bulk {@code put} and {@code get} are one memory copy inside the
 * JDK, and writes each chunk in one call. A loop over the elements (a byte-array view {@code
 * VarHandle}, as before) was as fast once compiled but ran 70 times slower in the interpreter:
 * a JVM that moves a state rarely (an executor's first round, a cluster driver at each round's
 * end) paid 22 ms for the first 3.4 MB written and 22 ms for the first read, against 7 and 5 ms
 * with the bulk copy (medians of 10 fresh JVMs, {@code convspark.bench.StateSerializationBench};
 * docs/BENCHMARKS.md, "The first state a JVM moves"). Little-endian.
 */
public final class FloatArrays {
  private static final int CHUNK_FLOATS = 16 * 1024;

  private FloatArrays() {}

  /** Writes the length, then the values. {@code a} may be null. */
  public static void write(ObjectOutput out, float[] a) throws IOException {
    if (a == null) {
      out.writeInt(-1);
      return;
    }
    out.writeInt(a.length);
    byte[] buf = new byte[4 * Math.min(a.length, CHUNK_FLOATS)];
    FloatBuffer view = littleEndian(buf);
    for (int from = 0; from < a.length; from += CHUNK_FLOATS) {
      int n = Math.min(CHUNK_FLOATS, a.length - from);
      view.clear();
      view.put(a, from, n);
      out.write(buf, 0, 4 * n);
    }
  }

  /** Reads what {@link #write} wrote. */
  public static float[] read(ObjectInput in) throws IOException {
    int len = in.readInt();
    if (len < 0) {
      return null;
    }
    float[] a = new float[len];
    byte[] buf = new byte[4 * Math.min(len, CHUNK_FLOATS)];
    FloatBuffer view = littleEndian(buf);
    for (int from = 0; from < len; from += CHUNK_FLOATS) {
      int n = Math.min(CHUNK_FLOATS, len - from);
      in.readFully(buf, 0, 4 * n);
      view.clear();
      view.get(a, from, n);
    }
    return a;
  }

  private static FloatBuffer littleEndian(byte[] buf) {
    return ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
  }
}
