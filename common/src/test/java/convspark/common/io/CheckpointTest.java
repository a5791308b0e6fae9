package convspark.common.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CheckpointTest {
  static Checkpoint sample() {
    float[] params = {1.5f, -0f, Float.MIN_VALUE, 3.14159265f, Float.NaN};
    return new Checkpoint("{input:{channels:1}}", 3, 1234L, params, new float[] {0.25f, 4f},
        "adam", new float[][] {{1f, 2f}, {3f, 4f}}, 99L, Map.of("norm.mean", "0.286"));
  }

  @Test
  void roundTripIsBitExact() throws Exception {
    Checkpoint c = sample();
    Checkpoint r = Checkpoint.fromBytes(c.toBytes(), "x");
    assertEquals(c.modelSpec(), r.modelSpec());
    assertEquals(3, r.epoch());
    assertEquals(1234L, r.step());
    for (int i = 0; i < c.params().length; i++) {
      assertEquals(Float.floatToRawIntBits(c.params()[i]),
          Float.floatToRawIntBits(r.params()[i]));
    }
    assertArrayEquals(c.state(), r.state());
    assertEquals("adam", r.optimizer());
    assertArrayEquals(c.optimizerState()[1], r.optimizerState()[1]);
    assertEquals(99L, r.optimizerSteps());
    assertEquals("0.286", r.meta().get("norm.mean"));
  }

  @Test
  void truncatedFileIsDetected() {
    byte[] b = sample().toBytes();
    for (int cut : new int[] {b.length - 1, b.length / 2, 20}) {
      CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
          () -> Checkpoint.fromBytes(Arrays.copyOf(b, cut), "ck-7"));
      assertTrue(e.getMessage().startsWith("ck-7: "), e.getMessage());
    }
  }

  @Test
  void anImpossibleLengthTrailerIsCalledTruncatedWithoutItsValue() {
    byte[] b = sample().toBytes();
    for (long bad : new long[] {-4733131721682043617L, -1, 0, 12, b.length + 1L,
        Long.MAX_VALUE}) {
      byte[] c = b.clone();
      ByteBuffer.wrap(c).putLong(c.length - 8, bad);
      String m = assertThrows(CheckpointFormatException.class,
          () -> Checkpoint.fromBytes(c, "ck-9")).getMessage();
      assertTrue(m.startsWith("ck-9: ") && m.contains("truncated or not a convspark checkpoint")
          && m.contains(b.length + " bytes"), m);
      assertTrue(!m.contains("trailer says") && !m.contains(" " + bad + " "), m);
    }
    // a plausible length (a longer file torn by a shorter write over it) is still given
    byte[] longer = Arrays.copyOf(b, b.length + 100);
    System.arraycopy(b, b.length - 16, longer, longer.length - 16, 16);
    String m = assertThrows(CheckpointFormatException.class,
        () -> Checkpoint.fromBytes(longer, "ck")).getMessage();
    assertTrue(m.contains("trailer says " + b.length + " bytes, file has " + longer.length), m);
  }

  @Test
  void flippedByteIsDetected() {
    byte[] b = sample().toBytes();
    b[b.length / 2] ^= 0x10;
    CheckpointFormatException e = assertThrows(CheckpointFormatException.class,
        () -> Checkpoint.fromBytes(b, "ck"));
    assertTrue(e.getMessage().contains("CRC"), e.getMessage());
  }

  @Test
  void wrongMagic() {
    byte[] b = sample().toBytes();
    b[0] = 'X';
    assertTrue(assertThrows(CheckpointFormatException.class, () -> Checkpoint.fromBytes(b, "ck"))
        .getMessage().contains("not a convspark checkpoint"));
  }
}
