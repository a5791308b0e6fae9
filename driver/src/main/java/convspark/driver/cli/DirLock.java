package convspark.driver.cli;

import convspark.common.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
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

  /** The option that named the directory, for messages ("--out", "--checkpoint-dir"). */
  private final String option;

  private DirLock(FileChannel channel, FileLock lock, Path dir, String option, Path created,
      boolean madeDir) {
    this.option = option;
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
    return acquire(dir, option, madeDir, () -> { });
  }

  /**
   * {@link #acquire(Path, String, boolean)}, running {@code betweenOpenAndLock} after the lock
   * file is opened and before it is locked: a test's way into the window where another run may
   * delete the file it is about to lock.
   */
  static DirLock acquire(Path dir, String option, boolean madeDir, Runnable betweenOpenAndLock)
      throws IOException {
    Path file = dir.resolve(NAME);
    // A run that ends deletes the lock file while it holds the lock (close, and a refused run's
    // closeAndForget). Another run that opened the file just before may then lock that deleted
    // file, while a third makes a new one and locks it: two holders. So a lock counts only when
    // the path still names the locked file, which holds our pid once we wrote it; otherwise the
    // file at the path is tried again (a deleted file cannot be locked by anyone else later).
    for (int attempt = 1; ; attempt++) {
      DirLock l = tryAcquire(dir, file, option, madeDir, betweenOpenAndLock);
      if (l.namedByPath()) {
        return l;
      }
      l.release();
      if (attempt == MAX_ATTEMPTS) {
        throw new BadInputException(option + " " + dir + ": another convspark run is writing "
            + "it (its " + file + " was replaced " + MAX_ATTEMPTS + " times while this run "
            + "locked it); wait for it to end or choose another " + option);
      }
    }
  }

  private static final int MAX_ATTEMPTS = 5;

  private static DirLock tryAcquire(Path dir, Path file, String option, boolean madeDir,
      Runnable betweenOpenAndLock) throws IOException {
    boolean existed = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
    if (existed && !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      // a link made ahead of the run (an --out in /tmp, say): locking through it would
      // truncate and overwrite the file it names
      throw new BadInputException(option + " " + dir + ": its " + NAME + " is "
          + (Files.isSymbolicLink(file) ? "a symbolic link" : "not a regular file")
          + ", which a run never makes; remove it or choose another " + option);
    }
    FileChannel ch;
    try {
      // no link followed, even one made between the check above and here
      ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          LinkOption.NOFOLLOW_LINKS);
    } catch (FileSystemException e) {
      throw new BadInputException(option + " " + dir + ": not writable (" + reason(e) + ")");
    }
    FileLock l = null;
    try {
      betweenOpenAndLock.run();
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
      ch.write(ByteBuffer.wrap(pidLine().getBytes(StandardCharsets.UTF_8)));
      ch.force(false);
      return new DirLock(ch, l, dir, option, existed ? null : file, madeDir);
    } catch (IOException | RuntimeException e) {
      // a lock file this call made goes again (unless another run holds it)
      if (l != null) {
        if (!existed) {
          Files.deleteIfExists(file);
        }
        l.release();
      }
      ch.close();
      if (e instanceof IOException io) {
        throw new BadInputException(option + " " + dir + ": not writable (" + (io
            instanceof FileSystemException f ? reason(f) : io.getMessage()) + ")", io);
      }
      throw e;
    }
  }

  private static String pidLine() {
    return ProcessHandle.current().pid() + "\n";
  }

  /**
   * Whether {@code DIR/.lock} is the file this lock holds: the path's (device, inode) against
   * those of the file the lock's channel has open. Never by opening the path: the OS's record
   * locks are the process's, and closing any descriptor of the file drops them all (reading the
   * file here once let every second run in, across processes). Without {@code /proc} a regular
   * file at the path is taken to be it.
   */
  private boolean namedByPath() throws IOException {
    Path file = dir.resolve(NAME);
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class,
          LinkOption.NOFOLLOW_LINKS);
      Object mine = lockedFileKey();
      return a.isRegularFile() && (mine == null || mine.equals(a.fileKey()));
    } catch (NoSuchFileException e) {
      return false;
    }
  }

  /**
   * The file key of the file the channel has open (Linux): the channel's offset is set to a
   * random mark (below 1 TiB: an offset past the file system's largest file is refused), which finds its descriptor in {@code /proc/self/fdinfo}, and the descriptor's
   * entry in {@code /proc/self/fd} is stat'ed (following it reaches the open file, deleted or
   * not, without opening it). Null where that cannot be read.
   */
  private Object lockedFileKey() {
    try {
      long mark = ThreadLocalRandom.current().nextLong(1L << 32, 1L << 40);
      channel.position(mark);
      String want = "pos:\t" + mark;
      try (DirectoryStream<Path> infos = Files.newDirectoryStream(Path.of("/proc/self/fdinfo"))) {
        for (Path info : infos) {
          List<String> lines;
          try {
            lines = Files.readAllLines(info, StandardCharsets.UTF_8);
          } catch (IOException closedMeanwhile) {
            continue;
          }
          if (!lines.isEmpty() && lines.get(0).equals(want)) {
            return Files.readAttributes(Path.of("/proc/self/fd").resolve(info.getFileName()),
                BasicFileAttributes.class).fileKey();
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      // no /proc here
    }
    return null;
  }

  /** Unlocks a lock that did not count, leaving the file at the path alone. */
  private void release() throws IOException {
    try {
      if (lock.isValid()) {
        lock.release();
      }
    } finally {
      channel.close();
    }
  }

  /**
   * A warning when every user may write the directory, or when it belongs to another user: they
   * could replace what the run reads back (checkpoints before a {@code --resume}). Not refused:
   * a shared scratch directory may be what the user means. Empty where the file system has no
   * POSIX permissions.
   */
  Optional<String> writableByAll() {
    try {
      Set<PosixFilePermission> p = Files.getPosixFilePermissions(dir);
      if (p.contains(PosixFilePermission.OTHERS_WRITE)) {
        return Optional.of(option + " " + dir + " may be written by every user (permissions "
            + PosixFilePermissions.toString(p) + "): any of them can replace its checkpoints "
            + "before a --resume; a directory only you can write is safer");
      }
      // a directory of another user, who may replace what the run reads back; compared by uid
      // (a container's user may have no name): /proc/self belongs to this process's
      Object ownerUid = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
      Object myUid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
      if (!ownerUid.equals(myUid)) {
        String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
        String me = System.getProperty("user.name", "uid " + myUid);
        return Optional.of(option + " " + dir + " belongs to user " + owner + ", not to " + me
            + ", who runs this: user " + owner + " can replace its checkpoints before a "
            + "--resume; a directory of your own is safer");
      }
    } catch (UnsupportedOperationException | IllegalArgumentException | IOException e) {
      // no POSIX permissions or owner to read: nothing to say
    }
    return Optional.empty();
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
            try {
              Files.deleteIfExists(dir);
            } catch (DirectoryNotEmptyException e) {
              // another run made its lock file there meanwhile: the directory is its now
            }
          }
        }
      }
    } finally {
      release();
    }
  }
}
