package convspark.common.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
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
 * time writes a given file. A temporary file left by a killed process is overwritten by the next
 * write from a process of the same id. (Checkpoints, on any Hadoop file system, are written the
 * same way by the driver's {@code CheckpointStore}.)
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Replaces {@code target}'s content with {@code bytes}, atomically. */
  public static void write(Path target, byte[] bytes) throws IOException {
    Path tmp = temporary(target);
    boolean created = false;
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE,
          LinkOption.NOFOLLOW_LINKS)) {
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
