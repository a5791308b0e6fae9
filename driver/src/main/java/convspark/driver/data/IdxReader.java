package convspark.driver.data;

import convspark.common.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.apache.hadoop.conf.Configuration;

/**
 * Reads an image/label pair in the IDX format of MNIST and Fashion-MNIST, plain or gzip (detected
 * by the magic bytes 0x1f 0x8b, not the extension), from any Hadoop file system (plain local paths,
 * file://, hdfs://).
 *
 * <p>Images: big-endian magic 0x00000803 (unsigned bytes; count, rows, cols; one channel) or
 * 0x00000804 (unsigned bytes; count, channels, rows, cols in NCHW order). Labels: magic 0x00000801
 * (unsigned bytes; count). Pixel values are returned unscaled (0..255 as float). Every problem with
 * the files is reported as a one-line {@link BadInputException} naming the file.
 */
public final class IdxReader {
  static final int MAGIC_LABELS = 0x00000801;
  static final int MAGIC_IMAGES = 0x00000803;
  static final int MAGIC_IMAGES_4D = 0x00000804;

  /** Smallest initial buffer for gzip files, whose content length is only known after reading. */
  private static final int GZIP_INITIAL_CAPACITY = 1 << 22;

  /**
   * For gzip, the initial buffer also grows with the compressed size (image data rarely inflates
   * more than this), so typical files are read without copying while a header that lies about the
   * size can only make us allocate in proportion to the file.
   */
  private static final long GZIP_EXPECTED_RATIO = 8;

  private IdxReader() {}

  /**
   * Reads {@code imagesPath} and {@code labelsPath}.
   *
   * @throws BadInputException for a missing file, wrong magic, bad header, truncated or corrupted
   *     data, or different image and label counts
   */
  public static ImageSet read(String imagesPath, String labelsPath, Configuration conf) {
    DataFiles.Opened f = DataFiles.open(imagesPath, conf);
    try (f) {
      InputStream in = f.in();
      int magic = readHeaderInt(in, imagesPath, 0, 16);
      if (magic != MAGIC_IMAGES && magic != MAGIC_IMAGES_4D) {
        String hint =
            magic == MAGIC_LABELS
                ? " (this is an IDX label file; are the image and label paths swapped?)"
                : "";
        throw new BadInputException(
            String.format(
                "%s: not an IDX image file: magic 0x%08x, expected 0x%08x (or 0x%08x for"
                    + " count x channels x rows x cols)%s",
                imagesPath, magic, MAGIC_IMAGES, MAGIC_IMAGES_4D, hint));
      }
      boolean fourD = magic == MAGIC_IMAGES_4D;
      String[] names =
          fourD
              ? new String[] {"count", "channels", "rows", "cols"}
              : new String[] {"count", "rows", "cols"};
      int headerBytes = 4 + 4 * names.length;
      int[] dims = new int[names.length];
      for (int d = 0; d < dims.length; d++) {
        dims[d] = readHeaderInt(in, imagesPath, 4 + 4 * d, headerBytes);
        if (dims[d] <= 0) {
          throw new BadInputException(
              imagesPath + ": IDX header field '" + names[d] + "' is " + dims[d]
                  + ", expected a positive number");
        }
      }
      int count = dims[0];
      int channels = fourD ? dims[1] : 1;
      int rows = dims[dims.length - 2];
      int cols = dims[dims.length - 1];
      long sample = mulSat(mulSat(channels, rows), cols);
      long total = mulSat(count, sample);
      String what = count + " images of " + channels + "x" + rows + "x" + cols;
      checkDataLength(f, imagesPath, headerBytes, what, total, "pixel", "dimensions");
      if (total > DataFiles.MAX_ARRAY) {
        throw new BadInputException(
            imagesPath + ": IDX header declares " + what + " = " + total
                + " pixel values, more than the " + DataFiles.MAX_ARRAY
                + " one array can hold; expected a smaller file");
      }
      // The image header is sound: now the (small) label file, then the counts must agree
      // before the pixel data is read.
      int[] labels = readLabels(labelsPath, conf);
      if (count != labels.length) {
        throw new BadInputException(
            imagesPath + " has " + count + " images but " + labelsPath + " has " + labels.length
                + " labels; expected the same count");
      }
      float[] pixels = readPixels(f, (int) total);
      return new ImageSet(count, channels, rows, cols, pixels, labels);
    } catch (IOException e) {
      throw f.error(e);
    }
  }

  /**
   * Unless {@code f} is compressed or a pipe (its length unknown), checks that it holds exactly
   * {@code total} bytes after its {@code headerBytes}-byte header, which declares {@code what}.
   */
  private static void checkDataLength(DataFiles.Opened f, String path, int headerBytes,
      String what, long total, String kind, String wrongField) {
    if (f.gzip() || f.length() < 0) {
      return; // read to its end instead (readPixels, checkEnd)
    }
    long available = f.length() - headerBytes;
    if (available < total) {
      throw new BadInputException(path + ": truncated IDX file: header declares " + what
          + ", expected " + total + " bytes of " + kind + " data, file ends after " + available);
    }
    if (available > total) {
      throw new BadInputException(path + ": IDX header declares " + what + ", expected " + total
          + " bytes of " + kind + " data, found " + available + " (wrong " + wrongField
          + " in the header?)");
    }
  }

  private static int[] readLabels(String path, Configuration conf) {
    DataFiles.Opened f = DataFiles.open(path, conf);
    try (f) {
      InputStream in = f.in();
      int magic = readHeaderInt(in, path, 0, 8);
      if (magic != MAGIC_LABELS) {
        String hint =
            magic == MAGIC_IMAGES || magic == MAGIC_IMAGES_4D
                ? " (this is an IDX image file; are the image and label paths swapped?)"
                : "";
        throw new BadInputException(
            String.format(
                "%s: not an IDX label file: magic 0x%08x, expected 0x%08x%s",
                path, magic, MAGIC_LABELS, hint));
      }
      int count = readHeaderInt(in, path, 4, 8);
      if (count <= 0) {
        throw new BadInputException(
            path + ": IDX header field 'count' is " + count + ", expected a positive number");
      }
      checkDataLength(f, path, 8, count + " labels", count, "label", "count");
      if (count > DataFiles.MAX_ARRAY) {
        throw new BadInputException(
            path + ": IDX header declares " + count + " labels, more than one array can hold");
      }
      byte[] buf = new byte[initialCapacity(f, count)];
      int pos = 0;
      while (pos < count) {
        if (pos == buf.length) {
          buf = Arrays.copyOf(buf, (int) Math.min(count, 2L * buf.length));
        }
        int r = in.read(buf, pos, buf.length - pos);
        if (r < 0) {
          break;
        }
        pos += r;
      }
      if (pos < count) {
        throw new BadInputException(
            path + ": truncated IDX file: header declares " + count + " labels, expected "
                + count + " bytes of label data, " + (f.gzip() ? "decompressed data" : "file")
                + " ends after " + pos);
      }
      checkEnd(f, count, "label");
      int[] labels = new int[count];
      for (int i = 0; i < count; i++) {
        labels[i] = buf[i] & 0xff;
      }
      return labels;
    } catch (IOException e) {
      throw f.error(e);
    }
  }

  /**
   * Reads {@code total} unsigned bytes as floats, in bulk chunks. Plain files were length-checked,
   * so the array is allocated at once; gzip content grows by doubling, so a header that lies about
   * the size fails with a truncation message instead of a huge allocation.
   */
  private static float[] readPixels(DataFiles.Opened f, int total) throws IOException {
    InputStream in = f.in();
    float[] out = new float[initialCapacity(f, total)];
    byte[] chunk = new byte[DataFiles.BUFFER];
    int pos = 0;
    while (pos < total) {
      int r = in.read(chunk, 0, Math.min(chunk.length, total - pos));
      if (r < 0) {
        break;
      }
      if (pos + r > out.length) {
        out = Arrays.copyOf(out, (int) Math.min(total, Math.max(pos + r, 2L * out.length)));
      }
      for (int i = 0; i < r; i++) {
        out[pos + i] = chunk[i] & 0xff;
      }
      pos += r;
    }
    if (pos < total) {
      throw new BadInputException(
          f.path() + ": truncated IDX file: expected " + total + " bytes of pixel data, "
              + (f.gzip() ? "decompressed data" : "file") + " ends after " + pos);
    }
    checkEnd(f, total, "pixel");
    return out;
  }

  private static int initialCapacity(DataFiles.Opened f, int total) {
    if (!f.gzip() && f.length() >= 0) {
      return total; // length already checked against the file
    }
    long guess = Math.max(GZIP_INITIAL_CAPACITY, f.length() * GZIP_EXPECTED_RATIO);
    return (int) Math.min(total, guess);
  }

  /** Requires end of stream; for gzip this also makes GZIPInputStream verify the CRC trailer. */
  private static void checkEnd(DataFiles.Opened f, long expected, String kind) throws IOException {
    if (f.in().read() >= 0) {
      throw new BadInputException(
          f.path() + ": IDX file has more data than its header declares: expected " + expected
              + " bytes of " + kind + " data (wrong dimensions in the header?)");
    }
  }

  /** Reads one big-endian header int at byte {@code at} of a {@code headerBytes} header. */
  private static int readHeaderInt(InputStream in, String path, int at, int headerBytes)
      throws IOException {
    byte[] b = new byte[4];
    int n = DataFiles.readUpTo(in, b, 0, 4);
    if (n < 4) {
      throw new BadInputException(
          path + ": not an IDX file: it ends inside the header after " + (at + n)
              + " bytes, expected at least " + headerBytes);
    }
    return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
  }

  /** a*b for non-negative values, saturating at Long.MAX_VALUE. */
  private static long mulSat(long a, long b) {
    long hi = Math.multiplyHigh(a, b);
    long lo = a * b;
    return (hi != 0 || lo < 0) ? Long.MAX_VALUE : lo;
  }
}
