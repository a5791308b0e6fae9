package convspark.common.io;

import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Fast Java-serialization of float arrays, for what crosses the wire every training step
 * (broadcast weights, step results). {@code ObjectOutputStream} writes a float[] element by
 * element into 1 KB blocks; this converts 64 KB chunks with a byte-array view {@link VarHandle}
 * (compiled to plain loads and stores) and writes each chunk in one call. Little-endian.
 */
public final class FloatArrays {
  private static final VarHandle LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);
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
    for (int from = 0; from < a.length; from += CHUNK_FLOATS) {
      int n = Math.min(CHUNK_FLOATS, a.length - from);
      for (int i = 0; i < n; i++) {
        LE.set(buf, 4 * i, a[from + i]);
      }
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
    for (int from = 0; from < len; from += CHUNK_FLOATS) {
      int n = Math.min(CHUNK_FLOATS, len - from);
      in.readFully(buf, 0, 4 * n);
      for (int i = 0; i < n; i++) {
        a[from + i] = (float) LE.get(buf, 4 * i);
      }
    }
    return a;
  }
}
