package convspark.common.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FloatArraysTest {

  private static float[][] roundTrip(float[]... arrays) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      for (float[] a : arrays) {
        FloatArrays.write(out, a);
      }
      out.writeInt(12345); // what follows must still be readable
    }
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      float[][] r = new float[arrays.length][];
      for (int i = 0; i < arrays.length; i++) {
        r[i] = FloatArrays.read(in);
      }
      assertEquals(12345, in.readInt());
      return r;
    }
  }

  @Test
  void roundTripsBitExactlyAcrossChunkBoundaries() throws Exception {
    SplittableRandom rng = new SplittableRandom(3);
    // lengths around the 16K-float chunk, plus special values
    float[] big = new float[3 * 16 * 1024 + 7];
    for (int i = 0; i < big.length; i++) {
      big[i] = (float) rng.nextGaussian();
    }
    big[0] = Float.NaN;
    big[1] = Float.NEGATIVE_INFINITY;
    big[2] = -0f;
    big[3] = Float.MIN_VALUE;
    float[] exact = new float[16 * 1024];
    exact[16 * 1024 - 1] = 42f;
    float[][] r = roundTrip(big, new float[0], null, exact, new float[] {1.5f});
    for (int i = 0; i < big.length; i++) {
      assertEquals(Float.floatToRawIntBits(big[i]), Float.floatToRawIntBits(r[0][i]), "at " + i);
    }
    assertEquals(0, r[1].length);
    assertNull(r[2]);
    assertArrayEquals(exact, r[3]);
    assertArrayEquals(new float[] {1.5f}, r[4]);
  }

  @Test
  void valuesAreWrittenLittleEndian() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      FloatArrays.write(out, new float[] {1f, Float.intBitsToFloat(0x01020304)});
    }
    byte[] b = bytes.toByteArray();
    // the stream ends with the block's data: the length (big-endian, as writeInt), then the
    // values, least significant byte first: 1.0f is 0x3F800000
    byte[] tail = java.util.Arrays.copyOfRange(b, b.length - 12, b.length);
    assertArrayEquals(new byte[] {0, 0, 0, 2, 0, 0, (byte) 0x80, 0x3F, 4, 3, 2, 1}, tail);
  }
}
