package convspark.common.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Whole-file writes on the local file system that leave the old content or the new, never a mix
 * and never nothing: the bytes go to a temporary file beside the target ({@link #temporary}),
 * are forced to the disk, and the temporary file is renamed over the target (rename(2), atomic
 * within a directory). A kill, a full disk or any other failure before the rename leaves the
 * target as it was, and the temporary file is removed where the JVM lives to do so.
 *
 * <p>The temporary file is named for the target and the process, so two processes writing the
 * same file never write into each other's temporary file; within one process, one thread at a
 * time writes a given file. A temporary file left by a killed process is removed by the next
 * write from a process of the same id, which then creates its own (never writing into a file or
 * link that stood at the name: see {@link #createNew}). (Checkpoints, on any Hadoop file
 * system, are written the same way by the driver's {@code CheckpointStore}.)
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Replaces {@code target}'s content with {@code bytes}, atomically. */
  public static void write(Path target, byte[] bytes) throws IOException {
    Path tmp = temporary(target);
    boolean created = false;
    try {
      try (FileChannel ch = createNew(tmp)) {
        created = true;
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
      created = false;
    } finally {
      if (created) {
        Files.deleteIfExists(tmp);
      }
    }
  }

  /**
   * Opens a new, empty {@code tmp} for writing (O_CREAT | O_EXCL: never a file or link that was
   * there already). Whatever stands at the name is unlinked first if it is a file or a link (a
   * killed write's leftover, or something planted where the name is predictable, in a shared
   * directory: a hard link to another file, which opening it in place would have truncated and
   * overwritten, or a file of another user, who could then read what is written); the unlink
   * never touches the file a link names, and in a sticky directory fails for another user's
   * entry, which fails the write. Anything else (a directory) is left and fails the write.
   */
  private static FileChannel createNew(Path tmp) throws IOException {
    for (int attempt = 0; ; attempt++) {
      try {
        return FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (FileAlreadyExistsException e) {
        if (attempt > 0 || !(Files.isRegularFile(tmp, LinkOption.NOFOLLOW_LINKS)
            || Files.isSymbolicLink(tmp))) {
          throw e;
        }
        Files.delete(tmp);
      }
    }
  }

  /** {@link #write} of {@code text} in UTF-8. */
  public static void writeString(Path target, String text) throws IOException {
    write(target, text.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Where {@link #write} puts the bytes before the rename: {@code .<name>.<pid>.tmp} in the
   * target's directory (hidden; the same file system, so the rename never copies).
   */
  public static Path temporary(Path target) {
    Path abs = target.toAbsolutePath();
    return abs.resolveSibling("." + abs.getFileName() + "." + ProcessHandle.current().pid()
        + ".tmp");
  }
}
