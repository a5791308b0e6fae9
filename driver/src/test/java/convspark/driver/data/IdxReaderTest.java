package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxReaderTest {
  private static Configuration conf;

  @TempDir Path dir;

  @BeforeAll
  static void setUp() {
    conf = new Configuration();
  }

  // ---- writing IDX files ----

  static byte[] idx(int magic, int[] dims, byte[] data) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(magic);
    for (int d : dims) {
      out.writeInt(d);
    }
    out.write(data);
    out.flush();
    return bytes.toByteArray();
  }

  static byte[] gzip(byte[] plain) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
      gz.write(plain);
    }
    return bytes.toByteArray();
  }

  /** Pixel bytes 0, 1, ..., wrapping at 256; includes values above 127 (unsigned check). */
  static byte[] ramp(int n, int start) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) ((start + i) % 256);
    }
    return b;
  }

  private String write(String name, byte[] content) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, content);
    return p.toString();
  }

  private String images3d(String name, int count, int rows, int cols, boolean gz)
      throws IOException {
    byte[] f = idx(IdxReader.MAGIC_IMAGES, new int[] {count, rows, cols}, ramp(count * rows * cols, 200));
    return write(name, gz ? gzip(f) : f);
  }

  private String labels(String name, int count, boolean gz) throws IOException {
    byte[] f = idx(IdxReader.MAGIC_LABELS, new int[] {count}, ramp(count, 3));
    return write(name, gz ? gzip(f) : f);
  }

  private static void assertImages3d(ImageSet s, int count, int rows, int cols) {
    assertEquals(count, s.count());
    assertEquals(1, s.channels());
    assertEquals(rows, s.height());
    assertEquals(cols, s.width());
    assertEquals(rows * cols, s.sampleSize());
    float[] expected = new float[count * rows * cols];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = (200 + i) % 256;
    }
    assertArrayEquals(expected, s.pixels());
    int[] labels = new int[count];
    for (int i = 0; i < count; i++) {
      labels[i] = (3 + i) % 256;
    }
    assertArrayEquals(labels, s.labels());
  }

  private BadInputException bad(String images, String labels) {
    return assertThrows(BadInputException.class, () -> IdxReader.read(images, labels, conf));
  }

  private static void assertOneLine(BadInputException e, String... parts) {
    String m = e.getMessage();
    assertFalse(m.contains("\n") || m.contains("\r"), "message must be one line: " + m);
    for (String p : parts) {
      assertTrue(m.contains(p), "message should contain '" + p + "': " + m);
    }
  }

  // ---- happy paths ----

  @Test
  void readsPlainIdx() throws IOException {
    String img = images3d("img", 5, 3, 4, false);
    String lab = labels("lab", 5, false);
    assertImages3d(IdxReader.read(img, lab, conf), 5, 3, 4);
  }

  @Test
  void aNamedPipeIsReadWhenWrittenAndRefusedAfterAWaitWhenNot() throws Exception {
    Path fifo = dir.resolve("images.fifo");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assertEquals(0, mk.waitFor());
    String lab = labels("lab", 5, false);
    byte[] img = idx(IdxReader.MAGIC_IMAGES, new int[] {5, 3, 4}, ramp(5 * 3 * 4, 200));
    long before = DataFiles.pipeOpenMillis;
    DataFiles.pipeOpenMillis = 500;
    try {
      // a writer that comes: read as a file would be (a shell's <(...) is such a pipe)
      Thread writer = new Thread(() -> {
        try {
          Files.write(fifo, img);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      writer.start();
      assertImages3d(IdxReader.read(fifo.toString(), lab, conf), 5, 3, 4);
      writer.join(5000);
      // none: no endless wait, one line naming the path
      long t0 = System.nanoTime();
      BadInputException e = assertThrows(BadInputException.class,
          () -> IdxReader.read(fifo.toString(), lab, conf));
      assertTrue((System.nanoTime() - t0) / 1e9 < 10, "bounded wait");
      assertTrue(e.getMessage().startsWith(fifo + ": not a regular file, and opening it waited "
          + "0.5 s"), e.getMessage());
    } finally {
      DataFiles.pipeOpenMillis = before;
      // release the reader thread still waiting on the pipe
      new Thread(() -> {
        try (var w = Files.newOutputStream(fifo)) {
          w.flush();
        } catch (IOException ignored) {
          // the reader has gone
        }
      }).start();
    }
  }

  @Test
  void anUnknownHostOfADataUriIsBadInput() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> IdxReader.read("hdfs://no-such-host.invalid:8020/data/images.gz",
            "hdfs://no-such-host.invalid:8020/data/labels.gz", conf));
    assertTrue(e.getMessage().startsWith("hdfs://no-such-host.invalid:8020/data/images.gz: "),
        e.getMessage());
  }

  @Test
  void readsGzipIdxDetectedByMagicNotExtension() throws IOException {
    // Gzipped content without .gz, plain content with .gz: both must be detected by content.
    String img = images3d("images.idx", 7, 2, 3, true);
    String lab = labels("labels.gz", 7, false);
    assertImages3d(IdxReader.read(img, lab, conf), 7, 2, 3);
  }

  @Test
  void readsFileUriPaths() throws IOException {
    String img = images3d("img", 2, 2, 2, true);
    String lab = labels("lab", 2, true);
    ImageSet s = IdxReader.read(Path.of(img).toUri().toString(), "file://" + lab, conf);
    assertImages3d(s, 2, 2, 2);
  }

  @Test
  void readsGzipLargerThanOneChunk() throws IOException {
    // 300 x 30 x 30 = 270000 bytes: several read chunks, exercises the growth path for gzip.
    String img = images3d("big.gz", 300, 30, 30, true);
    String lab = labels("big-lab.gz", 300, true);
    assertImages3d(IdxReader.read(img, lab, conf), 300, 30, 30);
  }

  @Test
  void reads4dNchw() throws IOException {
    byte[] data = ramp(2 * 3 * 2 * 2, 250);
    String img = write("img4", idx(IdxReader.MAGIC_IMAGES_4D, new int[] {2, 3, 2, 2}, data));
    String lab = labels("lab", 2, false);
    ImageSet s = IdxReader.read(img, lab, conf);
    assertEquals(2, s.count());
    assertEquals(3, s.channels());
    assertEquals(2, s.height());
    assertEquals(2, s.width());
    for (int i = 0; i < data.length; i++) {
      assertEquals(data[i] & 0xff, s.pixels()[i], 0f, "pixel " + i);
    }
    assertEquals(255f, s.pixels()[5]);
    assertEquals(0f, s.pixels()[6]);
  }

  // ---- errors ----

  @Test
  void missingFile() throws IOException {
    String lab = labels("lab", 2, false);
    String missing = dir.resolve("nope-images").toString();
    assertOneLine(bad(missing, lab), missing, "no such file");
    String img = images3d("img", 2, 2, 2, false);
    String missingLabels = dir.resolve("nope-labels").toString();
    assertOneLine(bad(img, missingLabels), missingLabels, "no such file");
  }

  @Test
  void wrongImageMagic() throws IOException {
    String img = write("img", idx(0x00000802, new int[] {1, 2, 2}, new byte[4]));
    String lab = labels("lab", 1, false);
    assertOneLine(bad(img, lab), img, "not an IDX image file", "magic 0x00000802", "expected 0x00000803");
  }

  @Test
  void swappedImagesAndLabels() throws IOException {
    String img = images3d("img", 2, 2, 2, false);
    String lab = labels("lab", 2, false);
    BadInputException e = bad(lab, img);
    assertOneLine(e, lab, "magic 0x00000801", "expected 0x00000803", "swapped");
  }

  @Test
  void wrongLabelMagic() throws IOException {
    String img = images3d("img", 2, 2, 2, false);
    String lab = write("lab", idx(0x00000803, new int[] {2}, new byte[2]));
    assertOneLine(bad(img, lab), lab, "not an IDX label file", "expected 0x00000801");
  }

  @Test
  void nonPositiveDimension() throws IOException {
    String lab = labels("lab", 2, false);
    String zeroRows = write("img0", idx(IdxReader.MAGIC_IMAGES, new int[] {2, 0, 2}, new byte[0]));
    assertOneLine(bad(zeroRows, lab), zeroRows, "'rows' is 0", "positive");
    String negCount = write("imgneg", idx(IdxReader.MAGIC_IMAGES, new int[] {-3, 2, 2}, new byte[0]));
    assertOneLine(bad(negCount, lab), negCount, "'count' is -3", "positive");
  }

  @Test
  void headerCutShort() throws IOException {
    String lab = labels("lab", 2, false);
    byte[] full = idx(IdxReader.MAGIC_IMAGES, new int[] {2, 2, 2}, new byte[8]);
    String img = write("short", Arrays.copyOf(full, 10));
    assertOneLine(bad(img, lab), img, "header", "10 bytes", "16");
    String empty = write("empty", new byte[0]);
    assertOneLine(bad(empty, lab), empty, "header");
  }

  @Test
  void billionImageHeaderRejectedWithoutAllocating() throws IOException {
    String lab = labels("lab", 2, false);
    byte[] header = idx(IdxReader.MAGIC_IMAGES, new int[] {1_000_000_000, 28, 28}, ramp(784, 0));
    String plain = write("huge", header);
    String gz = write("huge.gz", gzip(header));
    long t0 = System.nanoTime();
    assertOneLine(bad(plain, lab), plain, "1000000000 images", "expected 784000000000 bytes of pixel data", "file ends after 784");
    assertOneLine(bad(gz, lab), gz, "1000000000 images", "784000000000 pixel values", "more than");
    // reading or allocating 784 GB would take minutes or fail; 10 s leaves a loaded machine room
    assertTrue(System.nanoTime() - t0 < 10_000_000_000L, "must be rejected without reading");
  }

  @Test
  void hugeDimensionsDoNotOverflow() throws IOException {
    String lab = labels("lab", 2, false);
    int m = Integer.MAX_VALUE;
    byte[] f = idx(IdxReader.MAGIC_IMAGES_4D, new int[] {m, m, m, m}, new byte[4]);
    String gz = write("overflow.gz", gzip(f));
    assertOneLine(bad(gz, lab), gz, "more than");
    String plain = write("overflow", f);
    assertOneLine(bad(plain, lab), plain, "truncated", "file ends after 4");
  }

  @Test
  void truncatedPlainFile() throws IOException {
    String lab = labels("lab", 4, false);
    byte[] full = idx(IdxReader.MAGIC_IMAGES, new int[] {4, 5, 5}, ramp(100, 0));
    String img = write("trunc", Arrays.copyOf(full, full.length - 30));
    assertOneLine(bad(img, lab), img, "truncated", "expected 100 bytes of pixel data", "file ends after 70");
  }

  @Test
  void truncatedGzipContent() throws IOException {
    // A valid gzip stream whose IDX content is shorter than its header declares.
    String lab = labels("lab", 4, false);
    byte[] full = idx(IdxReader.MAGIC_IMAGES, new int[] {4, 5, 5}, ramp(100, 0));
    String img = write("trunc.gz", gzip(Arrays.copyOf(full, full.length - 30)));
    assertOneLine(bad(img, lab), img, "truncated", "expected 100 bytes of pixel data", "ends after 70");
  }

  @Test
  void extraDataAfterDeclaredPixels() throws IOException {
    String lab = labels("lab", 2, false);
    byte[] f = idx(IdxReader.MAGIC_IMAGES, new int[] {2, 2, 2}, ramp(9, 0));
    String plain = write("extra", f);
    assertOneLine(bad(plain, lab), plain, "expected 8 bytes of pixel data", "found 9");
    String gz = write("extra.gz", gzip(f));
    assertOneLine(bad(gz, lab), gz, "more data than its header declares", "8 bytes");
  }

  @Test
  void truncatedLabels() throws IOException {
    String img = images3d("img", 5, 2, 2, false);
    byte[] f = idx(IdxReader.MAGIC_LABELS, new int[] {5}, ramp(3, 0));
    String lab = write("lab", f);
    assertOneLine(bad(img, lab), lab, "truncated", "expected 5 bytes of label data", "ends after 3");
    String labGz = write("lab.gz", gzip(f));
    assertOneLine(bad(img, labGz), labGz, "truncated", "expected 5 bytes of label data", "ends after 3");
  }

  @Test
  void corruptedGzip() throws IOException {
    // Small-alphabet random content: Huffman-coded, so the deflate stream is long; flip bytes in
    // its middle.
    java.util.Random r = new java.util.Random(42);
    byte[] data = new byte[20 * 20 * 20];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) r.nextInt(16);
    }
    byte[] gz = gzip(idx(IdxReader.MAGIC_IMAGES, new int[] {20, 20, 20}, data));
    for (int i = gz.length / 2 - 8; i < gz.length / 2 + 8; i++) {
      gz[i] = (byte) ~gz[i];
    }
    String img = write("corrupt.gz", gz);
    String lab = labels("lab", 20, false);
    assertOneLine(bad(img, lab), img, "gzip");
  }

  @Test
  void gzipCutInTheMiddle() throws IOException {
    byte[] gz = gzip(idx(IdxReader.MAGIC_IMAGES, new int[] {20, 20, 20}, ramp(8000, 0)));
    String img = write("cut.gz", Arrays.copyOf(gz, gz.length / 2));
    String lab = labels("lab", 20, false);
    assertOneLine(bad(img, lab), img, "gzip");
  }

  @Test
  void gzipWithBadCrcTrailer() throws IOException {
    byte[] gz = gzip(idx(IdxReader.MAGIC_IMAGES, new int[] {2, 2, 2}, ramp(8, 0)));
    gz[gz.length - 6] ^= 0x55; // inside the CRC32 of the 8-byte trailer
    String img = write("crc.gz", gz);
    String lab = labels("lab", 2, false);
    assertOneLine(bad(img, lab), img, "gzip");
  }

  @Test
  void countMismatchNamesBothFiles() throws IOException {
    String img = images3d("img", 6, 2, 2, false);
    String lab = labels("lab", 5, true);
    assertOneLine(bad(img, lab), img, lab, "6 images", "5 labels");
  }

  @Test
  void directoryIsRejected() throws IOException {
    String lab = labels("lab", 2, false);
    String d = Files.createDirectory(dir.resolve("sub")).toString();
    assertOneLine(bad(d, lab), d, "directory");
  }
}
