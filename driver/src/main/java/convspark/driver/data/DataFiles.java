package convspark.driver.data;

import convspark.common.BadInputException;
import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.UnsupportedFileSystemException;

/** Opening data files through Hadoop's FileSystem, with gzip detected by its magic bytes. */
final class DataFiles {
  /** Largest array length the JVM reliably allocates. */
  static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

  static final int BUFFER = 1 << 16;

  private DataFiles() {}

  /**
   * An open data file.
   *
   * @param in the content, decompressed when the file is gzip
   * @param gzip whether the file starts with the gzip magic 0x1f 0x8b
   * @param length the length of the file as stored (compressed length for gzip)
   */
  record Opened(String path, InputStream in, boolean gzip, long length) implements Closeable {
    @Override
    public void close() throws IOException {
      in.close();
    }

    /** Maps an I/O failure while reading to a one-line exception naming the file. */
    RuntimeException error(IOException e) {
      if (gzip && (e instanceof ZipException || e instanceof EOFException)) {
        return new BadInputException(
            path + ": corrupted or truncated gzip data (" + oneLine(e) + ")", e);
      }
      if (e instanceof ChecksumException) {
        return new BadInputException(path + ": checksum error (" + oneLine(e) + ")", e);
      }
      return new UncheckedIOException(path + ": read failed: " + oneLine(e), e);
    }
  }

  /** Opens {@code path} (plain local path, file://, hdfs://, ...), unwrapping gzip. */
  static Opened open(String path, Configuration conf) {
    if (path == null || path.isBlank()) {
      throw new BadInputException("data file path is empty; expected a file path");
    }
    Path p;
    try {
      p = new Path(path);
    } catch (IllegalArgumentException e) {
      throw new BadInputException(path + ": not a valid path (" + oneLine(e) + ")", e);
    }
    FileSystem fs;
    FileStatus st;
    try {
      fs = p.getFileSystem(conf == null ? new Configuration() : conf);
      st = fs.getFileStatus(p);
    } catch (FileNotFoundException e) {
      throw new BadInputException(path + ": no such file", e);
    } catch (UnsupportedFileSystemException e) {
      throw new BadInputException(path + ": unsupported file system (" + oneLine(e) + ")", e);
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot open: " + oneLine(e), e);
    }
    if (st.isDirectory()) {
      throw new BadInputException(path + ": is a directory, expected a file");
    }
    InputStream raw = null;
    try {
      raw = fs.open(p, BUFFER);
      BufferedInputStream buf = new BufferedInputStream(raw, BUFFER);
      buf.mark(2);
      int b0 = buf.read();
      int b1 = buf.read();
      buf.reset();
      if (b0 == 0x1f && b1 == 0x8b) {
        try {
          return new Opened(path, new GZIPInputStream(buf, BUFFER), true, st.getLen());
        } catch (ZipException | EOFException e) {
          buf.close();
          throw new BadInputException(
              path + ": corrupted or truncated gzip data (" + oneLine(e) + ")", e);
        }
      }
      return new Opened(path, buf, false, st.getLen());
    } catch (FileNotFoundException e) {
      closeQuietly(raw);
      throw new BadInputException(path + ": no such file", e);
    } catch (IOException e) {
      closeQuietly(raw);
      throw new UncheckedIOException(path + ": cannot open: " + oneLine(e), e);
    }
  }

  /** Reads until {@code len} bytes or end of stream; returns the number read. */
  static int readUpTo(InputStream in, byte[] b, int off, int len) throws IOException {
    int n = 0;
    while (n < len) {
      int r = in.read(b, off + n, len - n);
      if (r < 0) {
        break;
      }
      n += r;
    }
    return n;
  }

  static String oneLine(Throwable e) {
    String m = e.getMessage();
    if (m == null || m.isBlank()) {
      return e.getClass().getSimpleName();
    }
    return m.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
  }

  private static void closeQuietly(Closeable c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException ignored) {
        // already failing
      }
    }
  }
}
