package convspark.driver.cli;

import convspark.common.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

/**
 * An OS file lock on {@code DIR/.lock}, held while a run writes the directory (its {@code --out},
 * and a local {@code --checkpoint-dir} outside it): a second run on the same directory exits 2
 * instead of mixing its files with the first's. The lock file holds the owner's pid; the OS
 * releases the lock when the process dies, however it dies.
 */
final class DirLock implements AutoCloseable {
  static final String NAME = ".lock";
  private final FileChannel channel;
  private final FileLock lock;
  private final Path dir;
  /** The lock file, when this lock made it (the directory held none). */
  private final Path created;
  /** The run made the directory: it goes again when it holds nothing but the lock. */
  private final boolean madeDir;

  private DirLock(FileChannel channel, FileLock lock, Path dir, Path created, boolean madeDir) {
    this.channel = channel;
    this.lock = lock;
    this.dir = dir;
    this.created = created;
    this.madeDir = madeDir;
  }

  /**
   * Locks {@code dir} (which must exist); {@code option} names the option that gave it, as
   * errors say ("--out", "--checkpoint-dir"); {@code madeDir}: the run created the directory,
   * which {@link #close} then removes again if it holds nothing but the lock.
   *
   * @throws BadInputException when another process holds the lock or the file cannot be made
   */
  static DirLock acquire(Path dir, String option, boolean madeDir) throws IOException {
    Path file = dir.resolve(NAME);
    boolean existed = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
    FileChannel ch;
    try {
      ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    } catch (FileSystemException e) {
      throw new BadInputException(option + " " + dir + ": not writable (" + reason(e) + ")");
    }
    FileLock l = null;
    try {
      try {
        l = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        l = null;
      }
      if (l == null) {
        throw new BadInputException(option + " " + dir + ": another convspark run is writing "
            + "it (it holds " + file + "); wait for it to end or choose another " + option);
      }
      ch.truncate(0);
      ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n")
          .getBytes(StandardCharsets.UTF_8)));
      return new DirLock(ch, l, dir, existed ? null : file, madeDir);
    } catch (IOException | RuntimeException e) {
      // a lock file this call made goes again (unless another run holds it)
      if (l != null) {
        l.release();
        if (!existed) {
          Files.deleteIfExists(file);
        }
      }
      ch.close();
      if (e instanceof IOException io) {
        throw new BadInputException(option + " " + dir + ": not writable (" + (io
            instanceof FileSystemException f ? reason(f) : io.getMessage()) + ")", io);
      }
      throw e;
    }
  }

  /** An I/O error's reason and file, for a one-line message. */
  static String reason(FileSystemException e) {
    String r = e.getReason();
    if (r == null) {
      r = e.getClass().getSimpleName().replace("Exception", "");
    }
    return r + (e.getFile() != null ? ": " + e.getFile() : "");
  }

  /**
   * Unlocks and deletes the lock file if this lock made it: for a run refused before it wrote
   * anything, which leaves the directory as it found it.
   */
  void closeAndForget() throws IOException {
    try {
      if (created != null) {
        Files.deleteIfExists(created);
      }
    } finally {
      close();
    }
  }

  /** Unlocks; a directory the run made that holds nothing but the lock goes again. */
  @Override
  public void close() throws IOException {
    try {
      if (madeDir && Files.isDirectory(dir)) {
        try (Stream<Path> s = Files.list(dir)) {
          if (s.allMatch(p -> p.getFileName().toString().equals(NAME))) {
            Files.deleteIfExists(dir.resolve(NAME));
            Files.deleteIfExists(dir);
          }
        }
      }
    } finally {
      try {
        if (lock.isValid()) {
          lock.release();
        }
      } finally {
        channel.close();
      }
    }
  }
}
