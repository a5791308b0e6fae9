package convspark.common.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;

/**
 * A checkpoint's counts come from the file: one with a valid CRC and length but a crafted count
 * of optimizer arrays (68 bytes in all) ran the reader out of memory (a count near 2^31
 * allocated an array of that many references before reading one) or threw a bare
 * NegativeArraySizeException. Each is now a one-line CheckpointFormatException naming the file.
 */
class CheckpointCountsTest {
  /** A well-formed checkpoint but for the optimizer-array and metadata counts. */
  static byte[] crafted(int optArrays, int metaEntries) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(b);
    o.write("CSPKCKPT".getBytes(StandardCharsets.US_ASCII));
    o.writeInt(1);
    o.writeInt(0); // spec ""
    o.writeInt(0); // epoch
    o.writeLong(0); // step
    o.writeInt(0); // params
    o.writeInt(0); // state
    o.writeInt(0); // optimizer ""
    o.writeInt(optArrays);
    o.writeLong(0); // optimizer steps
    o.writeInt(metaEntries);
    o.flush();
    CRC32 crc = new CRC32();
    crc.update(b.toByteArray());
    o.writeLong(crc.getValue());
    o.writeLong(b.size() + 8L);
    o.flush();
    return b.toByteArray();
  }

  @Test
  void craftedCountsAreFormatErrorsNotOutOfMemory() throws IOException {
    for (int n : new int[] {-1, Integer.MIN_VALUE, Integer.MAX_VALUE - 8, 400_000_000, 3}) {
      byte[] b = crafted(n, 0);
      String m = assertThrows(CheckpointFormatException.class,
          () -> Checkpoint.fromBytes(b, "evil.bin"), "optimizer arrays " + n).getMessage();
      assertTrue(m.startsWith("evil.bin: "), m);
    }
    for (int n : new int[] {-1, Integer.MAX_VALUE}) {
      byte[] b = crafted(0, n);
      assertThrows(CheckpointFormatException.class, () -> Checkpoint.fromBytes(b, "evil.bin"),
          "metadata entries " + n);
    }
  }

  @Test
  void theCraftedFileIsOtherwiseReadable() throws IOException {
    Checkpoint c = Checkpoint.fromBytes(crafted(0, 0), "ok.bin");
    assertTrue(c.optimizerState().length == 0 && c.meta().isEmpty());
  }
}
