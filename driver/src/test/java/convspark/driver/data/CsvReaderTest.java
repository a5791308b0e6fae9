package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvReaderTest {
  private static Configuration conf;

  @TempDir Path dir;

  @BeforeAll
  static void setUp() {
    conf = new Configuration();
  }

  private String write(String name, String text) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, text, StandardCharsets.UTF_8);
    return p.toString();
  }

  private String writeGzip(String name, String text) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) {
      gz.write(text.getBytes(StandardCharsets.UTF_8));
    }
    Path p = dir.resolve(name);
    Files.write(p, bytes.toByteArray());
    return p.toString();
  }

  private BadInputException bad(String path, int c, int h, int w, boolean header) {
    return assertThrows(BadInputException.class, () -> CsvReader.read(path, c, h, w, header, conf));
  }

  private static void assertOneLine(BadInputException e, String... parts) {
    String m = e.getMessage();
    assertFalse(m.contains("\n") || m.contains("\r"), "message must be one line: " + m);
    for (String p : parts) {
      assertTrue(m.contains(p), "message should contain '" + p + "': " + m);
    }
  }

  // 2 channels x 1 x 2: columns label, c0p0, c0p1, c1p0, c1p1
  private static final String DATA =
      "label,a,b,c,d\n"
          + "3,0,255,1.5,-2\n"
          + "\n"
          + "0, 7 ,1e2,0.25,12345678\n"
          + "9.0,1,2,3,4\r\n";

  private static void assertData(ImageSet s) {
    assertEquals(3, s.count());
    assertEquals(2, s.channels());
    assertEquals(1, s.height());
    assertEquals(2, s.width());
    assertArrayEquals(new int[] {3, 0, 9}, s.labels());
    assertArrayEquals(
        new float[] {0, 255, 1.5f, -2, 7, 100, 0.25f, 12345678, 1, 2, 3, 4}, s.pixels());
  }

  @Test
  void readsWithHeaderBlankLinesAndCrlf() throws IOException {
    assertData(CsvReader.read(write("d.csv", DATA), 2, 1, 2, true, conf));
  }

  @Test
  void readsGzipDetectedByMagic() throws IOException {
    assertData(CsvReader.read(writeGzip("d.csv", DATA), 2, 1, 2, true, conf));
  }

  @Test
  void readsWithoutHeaderAndWithByteOrderMark() throws IOException {
    ImageSet s = CsvReader.read(write("bom.csv", "\uFEFF1,2\n4,5\n"), 1, 1, 1, false, conf);
    assertArrayEquals(new int[] {1, 4}, s.labels());
    assertArrayEquals(new float[] {2, 5}, s.pixels());
  }

  @Test
  void readsManyRows() throws IOException {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 1000; i++) {
      sb.append(i % 10);
      for (int j = 0; j < 16; j++) {
        sb.append(',').append((i + j) % 256);
      }
      sb.append('\n');
    }
    ImageSet s = CsvReader.read(write("many.csv", sb.toString()), 1, 4, 4, false, conf);
    assertEquals(1000, s.count());
    assertEquals(16000, s.pixels().length);
    assertEquals(7, s.labels()[997]);
    assertEquals((997 + 5) % 256, s.pixels()[997 * 16 + 5]);
  }

  @Test
  void linesSplitAsReadLineDoesAcrossReadBoundaries() throws IOException {
    java.util.Random rnd = new java.util.Random(5);
    char[] alphabet = {'a', '1', ',', '\r', '\n'};
    for (int t = 0; t < 200; t++) {
      StringBuilder sb = new StringBuilder();
      for (int i = rnd.nextInt(40); i > 0; i--) {
        sb.append(alphabet[rnd.nextInt(alphabet.length)]);
      }
      String text = sb.toString();
      java.util.List<String> expected = new java.io.BufferedReader(
          new java.io.StringReader(text)).lines().toList();
      // a reader that returns one to three characters a call: terminators straddle the reads
      java.io.Reader dribble = new java.io.FilterReader(new java.io.StringReader(text)) {
        @Override
        public int read(char[] cbuf, int off, int len) throws IOException {
          return super.read(cbuf, off, Math.min(len, 1 + rnd.nextInt(3)));
        }
      };
      CsvReader.Lines lines = new CsvReader.Lines(dribble, 100);
      java.util.List<String> got = new java.util.ArrayList<>();
      for (String l; (l = lines.next("x", got.size() + 1, 2)) != null; ) {
        got.add(l);
      }
      assertEquals(expected, got, "text " + text.replace("\r", "\\r").replace("\n", "\\n"));
    }
  }

  @Test
  void aLineWithoutEndIsAnErrorBeforeTheHeapRunsOut() throws IOException {
    StringBuilder sb = new StringBuilder("1,2,3,4,5\n");
    for (int i = 0; i < 2000; i++) {
      sb.append("1,2,3,4,5,"); // 20,000 characters and no line break: not 1+4 columns
    }
    String p = write("long.csv", sb.toString());
    assertEquals(p + ":2: a line longer than 1344 characters; expected lines of 1+4 "
        + "comma-separated numbers (a file without line breaks, or not a CSV file?)",
        bad(p, 1, 2, 2, false).getMessage());
    // a long but legal line: 1+4 columns of long numbers
    String ok = write("ok.csv", "1," + "0.1234567890123456789012345678901234567890,".repeat(3)
        + "1e-45\n");
    assertEquals(1, CsvReader.read(ok, 1, 2, 2, false, conf).count());
  }

  @Test
  void wrongColumnCount() throws IOException {
    String p = write("cols.csv", "1,2,3,4,5\n1,2,3\n");
    assertOneLine(bad(p, 1, 2, 2, false), p + ":2: expected 1+4 columns, found 3");
  }

  @Test
  void anotherSeparatorIsNamed() throws IOException {
    String semi = write("semi.csv", "1;2;3;4;5\n");
    assertEquals(semi + ":1: expected 1+4 columns, found 1 (the line holds ';': values must be "
        + "separated by commas)", bad(semi, 1, 2, 2, false).getMessage());
    String tab = write("tab.csv", "1\t2\t3\t4\t5\n");
    assertEquals(tab + ":1: expected 1+4 columns, found 1 (the line holds a tab: values must be "
        + "separated by commas)", bad(tab, 1, 2, 2, false).getMessage());
  }

  @Test
  void aZipArchiveIsNamedAsOne() throws IOException {
    Path p = dir.resolve("train.csv.zip");
    try (java.util.zip.ZipOutputStream z = new java.util.zip.ZipOutputStream(
        Files.newOutputStream(p))) {
      z.putNextEntry(new java.util.zip.ZipEntry("train.csv"));
      z.write("1,2,3,4,5\n".getBytes(StandardCharsets.UTF_8));
      z.closeEntry();
    }
    assertEquals(p + ": is a zip archive; unzip it and name the file inside (gzip files are "
        + "read as they are)", bad(p.toString(), 1, 2, 2, false).getMessage());
  }

  @Test
  void wrongColumnCountMnistShape() throws IOException {
    StringBuilder sb = new StringBuilder("5");
    for (int i = 0; i < 699; i++) {
      sb.append(",0");
    }
    String p = write("mnist.csv", "label\n" + sb + "\n");
    assertOneLine(bad(p, 1, 28, 28, true), p + ":2: expected 1+784 columns, found 700");
  }

  @Test
  void nonNumericPixel() throws IOException {
    String p = write("nan.csv", "1,2,3,4,5\n2,0,abc,0,0\n");
    assertOneLine(bad(p, 1, 2, 2, false), p + ":2:3: pixel value 'abc' is not a number");
  }

  @Test
  void emptyPixel() throws IOException {
    String p = write("empty-cell.csv", "2,0,0,,0\n");
    assertOneLine(bad(p, 1, 2, 2, false), p + ":1:4: pixel value '' is not a number");
  }

  @Test
  void numbersOnlyJavaReadsAreNotNumbers() throws IOException {
    // Float.parseFloat reads "1f" as 1 (a hex dump's 31), "2d" as 2 and "0x1p3" as 8
    for (String v : new String[] {"1f", "2d", "0x1p3", "1e2F", "3.5D", "0X10P0"}) {
      String p = write("java.csv", "2,0," + v + ",0,0\n");
      assertOneLine(bad(p, 1, 2, 2, false), p + ":1:3: pixel value '" + v + "' is not a number");
      String l = write("java-label.csv", v + ",0,1,0,0\n");
      assertOneLine(bad(l, 1, 2, 2, false),
          l + ":1: label '" + v + "' is not a non-negative integer");
    }
    // decimal forms stay numbers
    ImageSet s = CsvReader.read(write("dec.csv", "2.,+.5,1E+2,-3e-1,7.25\n"), 1, 2, 2, false,
        conf);
    assertArrayEquals(new int[] {2}, s.labels());
    assertArrayEquals(new float[] {0.5f, 100, -0.3f, 7.25f}, s.pixels());
  }

  @Test
  void nonFinitePixel() throws IOException {
    String p = write("inf.csv", "2,0,0,0,NaN\n");
    assertOneLine(bad(p, 1, 2, 2, false), p + ":1:5: pixel value 'NaN' is not a finite number");
  }

  @Test
  void pixelBeyondTheFloatRangeIsNotCalledNonFinite() throws IOException {
    String p = write("big.csv", "2,0,0,1e39,0\n");
    assertOneLine(bad(p, 1, 2, 2, false), p + ":1:4: pixel value '1e39' is beyond the range of a "
        + "float (+-3.4028235E38), not an image value");
    String inf = write("inf2.csv", "2,0,0,-Infinity,0\n");
    assertOneLine(bad(inf, 1, 2, 2, false),
        inf + ":1:4: pixel value '-Infinity' is not a finite number");
  }

  @Test
  void negativeLabel() throws IOException {
    String p = write("neg.csv", "h\n1,2\n-1,3\n");
    assertOneLine(bad(p, 1, 1, 1, true), p + ":3: label '-1' is not a non-negative integer");
  }

  @Test
  void fractionalAndTextLabels() throws IOException {
    String frac = write("frac.csv", "2.5,3\n");
    assertOneLine(bad(frac, 1, 1, 1, false), frac + ":1: label '2.5' is not a non-negative integer");
    String text = write("text.csv", "cat,3\n");
    assertOneLine(bad(text, 1, 1, 1, false), text + ":1: label 'cat' is not a non-negative integer"
        + " (a header line? set data.csv.header = true to skip it)");
    String later = write("text2.csv", "1,3\ncat,3\n");
    assertOneLine(bad(later, 1, 1, 1, false), later + ":2: label 'cat' is not a non-negative "
        + "integer");
  }

  @Test
  void labelAtOrAboveTheClassCountIsNamedByItsLine() throws IOException {
    String p = write("classes.csv", "label,p\n1,2\n\n\n0,5\n3,4\n");
    // sample 2 is on line 6, after the header and two blank lines
    assertOneLine(
        assertThrows(BadInputException.class, () -> CsvReader.read(p, 1, 1, 1, true, 3, conf)),
        p + ":6: label 3 is outside [0, 3) (the model has 3 classes)");
    assertArrayEquals(new int[] {1, 0, 3}, CsvReader.read(p, 1, 1, 1, true, 4, conf).labels());
    assertArrayEquals(new int[] {1, 0, 3}, CsvReader.read(p, 1, 1, 1, true, conf).labels());
  }

  @Test
  void utf16AndBinaryFilesAreNotReadAsText() throws IOException {
    // Windows PowerShell's > writes UTF-16LE with a byte order mark and CRLF
    String text = "\uFEFFlabel,a,b\r\n3,1,2\r\n4,5,6";
    for (java.nio.charset.Charset cs : new java.nio.charset.Charset[] {
        StandardCharsets.UTF_16LE, StandardCharsets.UTF_16BE}) {
      for (String end : new String[] {"", "\r\n"}) {
        Path p = dir.resolve("u16.csv");
        Files.write(p, (text + end).getBytes(cs));
        for (boolean header : new boolean[] {true, false}) {
          // the header too: a NUL beside each character
          assertOneLine(bad(p.toString(), 1, 1, 2, header),
              p + ":1: NUL bytes in the line; expected UTF-8", "UTF-16");
        }
      }
    }
    Path idx = dir.resolve("images.idx");
    Files.write(idx, new byte[] {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 10, 44});
    assertOneLine(bad(idx.toString(), 1, 1, 2, false), idx + ":1: NUL bytes", "binary");
  }

  @Test
  void headerWithoutHeaderFlagIsAnError() throws IOException {
    String p = write("h.csv", "label,p0\n1,2\n");
    assertOneLine(bad(p, 1, 1, 1, false), p + ":1: label 'label' is not a non-negative integer"
        + " (a header line? set data.csv.header = true to skip it)");
  }

  @Test
  void aHeaderOfColumnNumbersWithoutTheHeaderFlagIsAnError() throws IOException {
    String p = write("numbers.csv", "\n0,1,2,3,4,5,6,7,8\n3,9,9,9,9,9,9,9,9\n");
    assertEquals(p + ":2: the first line holds the column numbers 0,1,...,8, a header (pandas "
        + "writes one for unnamed columns), not an image; set data.csv.header = true",
        bad(p, 2, 2, 2, false).getMessage());
    String q = write("numbers1.csv", "1,2,3,4,5,6,7,8,9\n3,9,9,9,9,9,9,9,9\n");
    assertOneLine(bad(q, 2, 2, 2, false), q + ":1: the first line holds the column numbers "
        + "1,2,...,9");
    // with the flag it is skipped; the same values later in the file are a row like any other
    assertEquals(1, CsvReader.read(p, 2, 2, 2, true, conf).count());
    String r = write("later.csv", "3,9,9,9,9,9,9,9,9\n0,1,2,3,4,5,6,7,8\n");
    assertEquals(2, CsvReader.read(r, 2, 2, 2, false, conf).count());
  }

  @Test
  void headerFlagOnAFileWithoutAHeaderIsAnError() throws IOException {
    String p = write("nh.csv", "3,0,255,1.5,-2\n0, 7 ,1e2,0.25,1\n");
    assertOneLine(bad(p, 2, 1, 2, true), p + ":1: data.csv.header = true, but the first line "
        + "looks like data (a label and 4 numbers), not a header; set data.csv.header = false");
    String blank = write("nh-blank.csv", "\uFEFF\n\n2.0,1,2\n4,5,6\n");
    assertOneLine(bad(blank, 1, 1, 2, true), blank + ":3: data.csv.header = true");
    assertOneLine(bad(writeGzip("nh.csv.gz", "1,5\n"), 1, 1, 1, true), "nh.csv.gz:1: ",
        "looks like data");
  }

  @Test
  void headerFlagSkipsHeadersThatAreNotDataRows() throws IOException {
    // column numbers as pandas writes them, a short header, text
    for (String h : new String[] {"0,1,2,3,4", "1,2,3,4,5", "label,pixels", "y,1,2,3,4",
        "-1,2,3,4,5", "2.5,1,2,3,4"}) {
      ImageSet s = CsvReader.read(write("h.csv", h + "\n3,0,255,1.5,-2\n"), 2, 1, 2, true, conf);
      assertEquals(1, s.count(), h);
      assertArrayEquals(new float[] {0, 255, 1.5f, -2}, s.pixels(), h);
    }
  }

  @Test
  void noDataRows() throws IOException {
    String empty = write("empty.csv", "");
    assertOneLine(bad(empty, 1, 1, 1, false), empty + ": no data rows");
    String onlyHeader = write("header.csv", "label,p0\n\n");
    assertOneLine(bad(onlyHeader, 1, 1, 1, true), onlyHeader + ": no data rows");
  }

  @Test
  void missingFile() {
    String p = dir.resolve("absent.csv").toString();
    assertOneLine(bad(p, 1, 1, 1, false), p + ": no such file");
  }

  @Test
  void corruptedGzip() throws IOException {
    StringBuilder sb = new StringBuilder();
    java.util.Random r = new java.util.Random(7);
    for (int i = 0; i < 2000; i++) {
      sb.append(r.nextInt(10)).append(',').append(r.nextInt(256)).append('\n');
    }
    String p = writeGzip("c.csv.gz", sb.toString());
    byte[] b = Files.readAllBytes(Path.of(p));
    byte[] cut = Arrays.copyOf(b, b.length / 2);
    Files.write(Path.of(p), cut);
    assertOneLine(bad(p, 1, 1, 1, false), p, "gzip");
  }
}
