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
public final class DataFiles {
  /** Largest array length the JVM reliably allocates. */
  static final int MAX_ARRAY = Integer.MAX_VALUE - 8;

  static final int BUFFER = 1 << 16;

  private DataFiles() {}

  /**
   * An open data file.
   *
   * @param in the content, decompressed when the file is gzip
   * @param gzip whether the file starts with the gzip magic 0x1f 0x8b
   * @param length the length of the file as stored (compressed length for gzip); -1 for a pipe
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
      throw missing(path, p, e);
    } catch (UnsupportedFileSystemException e) {
      throw new BadInputException(path + ": unsupported file system (" + oneLine(e) + ")", e);
    } catch (IllegalArgumentException e) {
      // Hadoop's wrapping of an UnknownHostException: an hdfs:// or s3a:// host no one knows
      throw new BadInputException(path + ": cannot reach its file system (" + oneLine(e) + ")",
          e);
    } catch (IOException e) {
      throw new UncheckedIOException(path + ": cannot open: " + oneLine(e), e);
    }
    if (st.isDirectory()) {
      throw new BadInputException(path + ": is a directory, expected a file");
    }
    InputStream raw = null;
    try {
      raw = openLocalPipe(path, p, fs);
      // a pipe's length is unknown (its status says 0)
      long length = raw != null ? -1 : st.getLen();
      if (raw == null) {
        raw = fs.open(p, BUFFER);
      }
      BufferedInputStream buf = new BufferedInputStream(raw, BUFFER);
      buf.mark(4);
      int b0 = buf.read();
      int b1 = buf.read();
      int b2 = buf.read();
      int b3 = buf.read();
      buf.reset();
      if (b0 == 'P' && b1 == 'K' && b2 == 3 && b3 == 4) {
        // a downloaded dataset is often mnist_train.csv.zip: read as text it would be
        // "expected 1+784 columns, found 1", or a bad IDX magic number
        buf.close();
        throw new BadInputException(path + ": is a zip archive; unzip it and name the file "
            + "inside (gzip files are read as they are)");
      }
      if (b0 == 0x1f && b1 == 0x8b) {
        try {
          return new Opened(path, new GZIPInputStream(buf, BUFFER), true, length);
        } catch (ZipException | EOFException e) {
          buf.close();
          throw new BadInputException(
              path + ": corrupted or truncated gzip data (" + oneLine(e) + ")", e);
        }
      }
      return new Opened(path, buf, false, length);
    } catch (FileNotFoundException e) {
      closeQuietly(raw);
      throw missing(path, p, e);
    } catch (IOException e) {
      closeQuietly(raw);
      throw new UncheckedIOException(path + ": cannot open: " + oneLine(e), e);
    }
  }

  /** How long opening a named pipe may wait for its writer (tests shorten it). */
  static long pipeOpenMillis = 30_000;

  /**
   * Opens a local path that is not a regular file (a named pipe, or a shell's process
   * substitution {@code <(...)}) in a daemon thread, for at most {@link #pipeOpenMillis}:
   * opening a named pipe blocks until a process opens it for writing, which may never happen.
   * Returns null for anything else (regular files, other file systems), which opens as usual.
   */
  /**
   * The error of a file that could not be opened: Hadoop's local file system raises
   * FileNotFoundException for a file this user may not read, and for a symbolic link to
   * nothing, too; both were reported as "no such file".
   */
  public static BadInputException missing(String path, Path p, FileNotFoundException e) {
    if (String.valueOf(e.getMessage()).contains("Permission denied")) {
      return new BadInputException(path + ": permission denied (the file is there, but this "
          + "user may not read it)", e);
    }
    String scheme = p.toUri().getScheme();
    if (scheme == null || scheme.equals("file")) {
      java.nio.file.Path local = java.nio.file.Path.of(p.toUri().getPath());
      if (java.nio.file.Files.isSymbolicLink(local) && !java.nio.file.Files.exists(local)) {
        return new BadInputException(path + ": a symbolic link to nothing (its target is "
            + "missing, or the links form a loop)", e);
      }
    }
    return new BadInputException(path + ": no such file", e);
  }

  private static InputStream openLocalPipe(String path, Path p, FileSystem fs)
      throws IOException {
    if (!"file".equals(fs.getUri().getScheme())) {
      return null;
    }
    java.nio.file.Path local = java.nio.file.Path.of(fs.makeQualified(p).toUri());
    if (java.nio.file.Files.isRegularFile(local)) {
      return null;
    }
    java.util.concurrent.CompletableFuture<InputStream> opening =
        new java.util.concurrent.CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        opening.complete(java.nio.file.Files.newInputStream(local));
      } catch (IOException | RuntimeException e) {
        opening.completeExceptionally(e);
      }
    }, "open-" + local.getFileName());
    t.setDaemon(true);
    t.start();
    try {
      return opening.get(pipeOpenMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      // a writer that comes later gets a reader that closes at once
      opening.thenAccept(DataFiles::closeQuietly);
      throw new BadInputException(path + ": not a regular file, and opening it waited "
          + pipeOpenMillis / 1000.0 + " s (a named pipe that no process writes to?); start its "
          + "writer first, or give a regular file");
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io
          : new IOException(String.valueOf(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while opening " + path);
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
