package convspark.driver.data;

import convspark.common.BadInputException;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;

/**
 * Reads labelled images from CSV, plain or gzip (detected by the magic bytes), from any Hadoop file
 * system. Each data row is {@code label,p0,p1,...} with channels*height*width pixel columns in NCHW
 * order; the label is a non-negative integer ({@code 3} or {@code 3.0}), pixels are numbers, kept
 * unscaled; numbers are decimal, as every CSV writer writes them (not Java's {@code 1f}, {@code 3d}
 * or hexadecimal {@code 0x1p3}). Blank lines are skipped; with {@code header} the first non-blank line is skipped,
 * unless it looks like a data row (then it is an error: the flag would drop a sample); without
 * it, a first line of column numbers ({@code 0,1,2,...}, images of 8 pixels or more) is an error
 * (it would be a sample). In
 * messages lines and columns are 1-based and the label is column 1; with a class count, a label
 * outside it is reported at its line too (not as a sample index, which blank lines and a header
 * shift away from the file's line numbers). Text is UTF-8: a line with NUL bytes (UTF-16, or a
 * binary file) is an error.
 */
public final class CsvReader {
  private static final int MAX_SHOWN = 40;
  /** Characters a column may take in a line: a number, or a header's name, is far shorter. */
  private static final long MAX_CHARS_PER_COLUMN = 64;
  /**
   * Pixels from which a first row of column numbers is taken for a header without {@code
   * data.csv.header}: a real image of this many pixels never counts 1, 2, 3, ... (a tiny test
   * image of one or two pixels might).
   */
  private static final int MIN_COLUMN_NUMBERS = 8;

  private CsvReader() {}

  /** Reads {@code path} without checking the labels against a class count. */
  public static ImageSet read(
      String path, int channels, int height, int width, boolean header, Configuration conf) {
    return read(path, channels, height, width, header, 0, conf);
  }

  /**
   * Reads {@code path}; with {@code classes > 0} every label must be below it.
   *
   * @throws BadInputException (one line, naming path:line[:column]) for a wrong column count, a
   *     non-numeric or non-finite pixel, a label that is not a non-negative integer (or not below
   *     {@code classes}), no data rows, a header line that looks like data, a line with NUL
   *     bytes (not UTF-8 text), or a missing or corrupted file
   */
  public static ImageSet read(String path, int channels, int height, int width, boolean header,
      int classes, Configuration conf) {
    if (channels <= 0 || height <= 0 || width <= 0) {
      throw new IllegalArgumentException(
          "image shape must be positive, found " + channels + "x" + height + "x" + width);
    }
    long sampleLong = (long) channels * height * width;
    if (sampleLong > DataFiles.MAX_ARRAY - 1) {
      throw new IllegalArgumentException(
          "image shape " + channels + "x" + height + "x" + width + " is too large");
    }
    int sample = (int) sampleLong;
    int expectedCols = sample + 1;
    DataFiles.Opened f = DataFiles.open(path, conf);
    float[] pixels = new float[(int) Math.min(DataFiles.MAX_ARRAY, sampleLong * 16)];
    int[] labels = new int[16];
    int rows = 0;
    // a data row holds 1+sample numbers: far fewer characters than this, header or not
    long maxChars = Math.min(Integer.MAX_VALUE - 64, 1024 + MAX_CHARS_PER_COLUMN * expectedCols);
    try (f;
        Reader in = new InputStreamReader(f.in(), StandardCharsets.UTF_8)) {
      Lines r = new Lines(in, (int) maxChars);
      String line;
      int lineNo = 0;
      boolean skipHeader = header;
      while ((line = r.next(path, lineNo + 1, expectedCols)) != null) {
        lineNo++;
        if (lineNo == 1 && line.startsWith("\uFEFF")) {
          line = line.substring(1); // UTF-8 byte order mark
        }
        if (line.isBlank()) {
          continue;
        }
        if (line.indexOf('\0') >= 0) {
          // UTF-16 read as UTF-8: a NUL beside each character, which number parsing would trim
          // away as whitespace, and lone "\0" lines at the line ends
          throw new BadInputException(
              path + ":" + lineNo + ": NUL bytes in the line; expected UTF-8 (or ASCII) text: "
                  + "is the file UTF-16, as Windows PowerShell's > and Out-File write (convert "
                  + "it to UTF-8), or binary (an IDX file is data.format = idx)?");
        }
        if (skipHeader) {
          if (looksLikeData(line, expectedCols)) {
            throw new BadInputException(
                path + ":" + lineNo + ": data.csv.header = true, but the first line looks like "
                    + "data (a label and " + sample + " numbers), not a header; set "
                    + "data.csv.header = false, or add a header line");
          }
          skipHeader = false;
          continue;
        }
        int cols = 1;
        for (int i = 0, n = line.length(); i < n; i++) {
          if (line.charAt(i) == ',') {
            cols++;
          }
        }
        if (cols != expectedCols) {
          // one column of a line with semicolons or tabs: another separator
          String sep = cols > 1 ? null : line.indexOf(';') >= 0 ? "';'"
              : line.indexOf('\t') >= 0 ? "a tab" : null;
          throw new BadInputException(
              path + ":" + lineNo + ": expected 1+" + sample + " columns, found " + cols
                  + (sep == null ? "" : " (the line holds " + sep + ": values must be "
                  + "separated by commas)"));
        }
        long need = (long) (rows + 1) * sample;
        if (need > DataFiles.MAX_ARRAY) {
          throw new BadInputException(
              path + ":" + lineNo + ": too many pixel values for one array (more than "
                  + DataFiles.MAX_ARRAY + "); expected a smaller file");
        }
        if (need > pixels.length) {
          pixels = Arrays.copyOf(pixels, (int) Math.min(DataFiles.MAX_ARRAY, 2 * need));
        }
        if (rows == labels.length) {
          labels = Arrays.copyOf(labels, 2 * labels.length);
        }
        int comma = line.indexOf(',');
        labels[rows] = parseLabel(line, 0, comma, path, lineNo);
        if (classes > 0 && labels[rows] >= classes) {
          throw new BadInputException(
              path + ":" + lineNo + ": label " + labels[rows] + " is outside [0, " + classes
                  + ") (the model has " + classes + " classes)");
        }
        int base = rows * sample;
        int start = comma + 1;
        for (int c = 0; c < sample; c++) {
          int end = line.indexOf(',', start);
          if (end < 0) {
            end = line.length();
          }
          pixels[base + c] = parsePixel(line, start, end, path, lineNo, c + 2);
          start = end + 1;
        }
        if (rows == 0 && !header && sample >= MIN_COLUMN_NUMBERS
            && columnNumbers(labels[0], pixels, sample)) {
          throw new BadInputException(path + ":" + lineNo + ": the first line holds the column "
              + "numbers " + labels[0] + "," + (labels[0] + 1) + ",...," + (labels[0] + sample)
              + ", a header (pandas writes one for unnamed columns), not an image; set "
              + "data.csv.header = true");
        }
        rows++;
      }
    } catch (IOException e) {
      throw f.error(e);
    }
    if (rows == 0) {
      throw new BadInputException(path + ": no data rows");
    }
    return new ImageSet(
        rows,
        channels,
        height,
        width,
        pixels.length == rows * sample ? pixels : Arrays.copyOf(pixels, rows * sample),
        Arrays.copyOf(labels, rows));
  }

  /**
   * Whether a line to be skipped as a header is a data row instead: {@code cols} fields, the first
   * a non-negative integer label and the rest finite numbers, and not a header of column numbers
   * ({@code 0,1,2,...} or {@code 1,2,3,...}, as pandas writes for unnamed columns).
   */
  static boolean looksLikeData(String line, int cols) {
    String[] f = line.split(",", -1);
    if (f.length != cols) {
      return false;
    }
    double[] v = new double[cols];
    for (int i = 0; i < cols; i++) {
      try {
        v[i] = parseDecimal(f[i].trim());
      } catch (NumberFormatException e) {
        return false;
      }
      if (!Double.isFinite(v[i])) {
        return false;
      }
    }
    if (v[0] < 0 || v[0] != Math.rint(v[0])) {
      return false;
    }
    float[] pixels = new float[cols - 1];
    for (int i = 1; i < cols; i++) {
      pixels[i - 1] = (float) v[i];
    }
    return !columnNumbers((int) v[0], pixels, cols - 1);
  }

  /**
   * Whether a row (label, then the first {@code sample} pixels) counts its columns: {@code
   * 0,1,2,...} or {@code 1,2,3,...}, a header of column numbers rather than an image.
   */
  private static boolean columnNumbers(int label, float[] pixels, int sample) {
    if (label != 0 && label != 1) {
      return false;
    }
    for (int i = 0; i < sample; i++) {
      if (pixels[i] != label + i + 1) {
        return false;
      }
    }
    return true;
  }

  private static int parseLabel(String line, int start, int end, String path, int lineNo) {
    int v = parseDigits(line, start, end);
    if (v >= 0) {
      return v;
    }
    String s = line.substring(start, end).trim();
    try {
      double d = parseDecimal(s);
      if (d >= 0 && d <= Integer.MAX_VALUE && d == Math.rint(d)) {
        return (int) d;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    // a word where the first line's label should be: most likely a column name
    boolean word = !s.isEmpty() && Character.isLetter(s.charAt(0))
        && !s.equalsIgnoreCase("nan") && !s.toLowerCase().startsWith("inf");
    throw new BadInputException(
        path + ":" + lineNo + ": label '" + shown(s) + "' is not a non-negative integer"
            + (lineNo == 1 && word ? " (a header line? set data.csv.header = true to skip it)"
                : ""));
  }

  private static float parsePixel(
      String line, int start, int end, String path, int lineNo, int col) {
    int v = parseDigits(line, start, end);
    if (v >= 0) {
      return v;
    }
    String s = line.substring(start, end).trim();
    float x;
    try {
      if (javaOnly(s)) {
        throw new NumberFormatException(s);
      }
      x = Float.parseFloat(s);
    } catch (NumberFormatException e) {
      throw new BadInputException(
          path + ":" + lineNo + ":" + col + ": pixel value '" + shown(s) + "' is not a number");
    }
    if (Float.isInfinite(x) && Double.isFinite(Double.parseDouble(s))) {
      throw new BadInputException(
          path + ":" + lineNo + ":" + col + ": pixel value '" + shown(s) + "' is beyond the "
              + "range of a float (+-" + Float.MAX_VALUE + "), not an image value");
    }
    if (!Float.isFinite(x)) {
      throw new BadInputException(
          path + ":" + lineNo + ":" + col + ": pixel value '" + shown(s)
              + "' is not a finite number");
    }
    return x;
  }

  /** {@link Double#parseDouble} of a trimmed field, but for the forms {@link #javaOnly} names. */
  private static double parseDecimal(String s) {
    if (javaOnly(s)) {
      throw new NumberFormatException(s);
    }
    return Double.parseDouble(s);
  }

  /**
   * Whether a trimmed field is a number only to Java's parser: a float or double suffix ({@code
   * 1f}, {@code 3d}: a hex dump's {@code 1f} is 31, not 1) or a hexadecimal float ({@code 0x1p3}).
   * CSV writers and readers elsewhere (Python, R, NumPy, pandas, Spark's CSV source) write and
   * accept neither.
   */
  private static boolean javaOnly(String s) {
    if (s.isEmpty()) {
      return false;
    }
    char last = s.charAt(s.length() - 1);
    return last == 'f' || last == 'F' || last == 'd' || last == 'D' || s.indexOf('x') >= 0
        || s.indexOf('X') >= 0;
  }

  /** Fast path: 1 to 9 ASCII digits and nothing else; -1 if the field is anything else. */
  private static int parseDigits(String line, int start, int end) {
    int n = end - start;
    if (n < 1 || n > 9) {
      return -1;
    }
    int v = 0;
    for (int i = start; i < end; i++) {
      int d = line.charAt(i) - '0';
      if (d < 0 || d > 9) {
        return -1;
      }
      v = v * 10 + d;
    }
    return v;
  }

  /**
   * Lines as {@link java.io.BufferedReader#readLine} splits them (at {@code \\n}, {@code \\r} or
   * {@code \\r\\n}), but a line longer than a bound is an error instead of a string that grows
   * until the heap runs out (a file without line breaks, or not a CSV file at all).
   */
  static final class Lines {
    private final Reader in;
    private final int max;
    private final char[] buf = new char[DataFiles.BUFFER];
    private int pos;
    private int end;
    private boolean skipLf;

    Lines(Reader in, int max) {
      this.in = in;
      this.max = max;
    }

    /** The next line without its terminator, or null at the end; {@code lineNo} is its number. */
    String next(String path, int lineNo, int cols) throws IOException {
      StringBuilder sb = null;
      while (true) {
        if (pos == end) {
          int n = in.read(buf, 0, buf.length);
          if (n <= 0) {
            return sb == null ? null : sb.toString();
          }
          pos = 0;
          end = n;
        }
        if (skipLf) {
          skipLf = false;
          if (buf[pos] == '\n') {
            pos++;
            continue;
          }
        }
        int i = pos;
        while (i < end && buf[i] != '\n' && buf[i] != '\r') {
          i++;
        }
        int len = i - pos;
        if ((sb == null ? 0 : sb.length()) + (long) len > max) {
          throw new BadInputException(path + ":" + lineNo + ": a line longer than " + max
              + " characters; expected lines of 1+" + (cols - 1) + " comma-separated numbers "
              + "(a file without line breaks, or not a CSV file?)");
        }
        if (i < end) {
          String line = sb == null ? new String(buf, pos, len) : sb.append(buf, pos, len)
              .toString();
          skipLf = buf[i] == '\r';
          pos = i + 1;
          return line;
        }
        if (sb == null) {
          sb = new StringBuilder(2 * len + 16);
        }
        sb.append(buf, pos, len);
        pos = end;
      }
    }
  }

  private static String shown(String s) {
    String t = s.replaceAll("\\p{Cntrl}", "?");
    return t.length() <= MAX_SHOWN ? t : t.substring(0, MAX_SHOWN) + "...";
  }
}
