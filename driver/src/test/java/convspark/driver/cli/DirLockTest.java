package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The window a lock file's deletion opens: a run that ends deletes {@code .lock} while it holds
 * it, so a run that opened the file just before can lock the deleted file while a third run makes
 * and locks a new one. The test runs the deletion (and the third run) inside that window.
 */
class DirLockTest {

  @TempDir Path tmp;

  private static Runnable io(IoAction a) {
    return () -> {
      try {
        a.run();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
  }

  private interface IoAction {
    void run() throws IOException;
  }

  @Test
  void aRunThatMadeANewLockFileInTheWindowKeepsTheDirectory() throws IOException {
    Path file = tmp.resolve(DirLock.NAME);
    Files.writeString(file, "1\n");
    AtomicReference<FileChannel> third = new AtomicReference<>();
    AtomicReference<FileLock> thirdLock = new AtomicReference<>();
    Runnable window = io(() -> {
      if (third.get() == null) {
        // the first run ends (deletes its lock file), a third run locks a new one
        Files.delete(file);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE);
        third.set(ch);
        thirdLock.set(ch.lock());
      }
    });
    try {
      BadInputException e = assertThrows(BadInputException.class,
          () -> DirLock.acquire(tmp, "--out", false, window));
      assertTrue(e.getMessage().startsWith("--out " + tmp + ": another convspark run is writing"),
          e.getMessage());
      assertTrue(thirdLock.get().isValid());
      assertTrue(Files.exists(file), "the third run's lock file stays");
    } finally {
      third.get().close();
    }
  }

  /**
   * The lock holds against another process, the case it is for: a second JVM is refused while
   * this one holds the lock, and gets it once it is released. Checking which file the path names
   * once read the lock file, and closing that descriptor dropped the process's lock: every
   * second run got in (tests within one JVM, whose own lock table refuses overlaps, never saw
   * it).
   */
  @Test
  void anotherProcessIsRefusedWhileTheLockIsHeld() throws Exception {
    Path dir = Files.createDirectory(tmp.resolve("held"));
    try (DirLock l = DirLock.acquire(dir, "--out", false)) {
      Process p = probe(dir);
      String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe did not end");
      assertEquals(2, p.exitValue(), err);
      assertTrue(err.contains("another convspark run is writing it"), err);
    }
    Process p = probe(dir);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the probe did not end");
    assertEquals(0, p.exitValue(), err);
  }

  private static Process probe(Path dir) throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    return new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        DirLockProbe.class.getName(), dir.toString()).redirectOutput(
            ProcessBuilder.Redirect.DISCARD).start();
  }

  @Test
  void aLockFileDeletedInTheWindowIsMadeAgainAndLocked() throws IOException {
    Path file = tmp.resolve(DirLock.NAME);
    Files.writeString(file, "1\n");
    int[] calls = {0};
    Runnable window = io(() -> {
      if (calls[0]++ == 0) {
        Files.delete(file); // the run that held it ended
      }
    });
    try (DirLock l = DirLock.acquire(tmp, "--out", false, window)) {
      assertEquals(2, calls[0], "tried the file at the path again");
      assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(file));
      try (FileChannel other = FileChannel.open(file, StandardOpenOption.WRITE)) {
        // this JVM holds the lock of the file the path names (another JVM would get null)
        assertThrows(OverlappingFileLockException.class, other::tryLock);
      }
    }
    assertTrue(Files.exists(file), "a lock file the run did not make stays");
  }

  @Test
  void aRunThatMadeItsDirectoryRemovesItWhenItHoldsOnlyTheLock() throws IOException {
    Path dir = Files.createDirectory(tmp.resolve("out"));
    DirLock.acquire(dir, "--out", true).close();
    assertFalse(Files.exists(dir));
    Path kept = Files.createDirectory(tmp.resolve("kept"));
    try (DirLock l = DirLock.acquire(kept, "--out", true)) {
      Files.writeString(kept.resolve("summary.json"), "{}");
    }
    assertTrue(Files.exists(kept.resolve("summary.json")));
  }

  @Test
  void aDirectoryEveryUserMayWriteIsSaidButNotRefused() throws IOException {
    Path shared = Files.createDirectory(tmp.resolve("shared"));
    Files.setPosixFilePermissions(shared,
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    try (DirLock l = DirLock.acquire(shared, "--out", false)) {
      String w = l.writableByAll().orElseThrow();
      assertEquals("--out " + shared + " may be written by every user (permissions rwxrwxrwx): "
          + "any of them can replace its checkpoints before a --resume; a directory only you "
          + "can write is safer", w);
    }
    Path own = Files.createDirectory(tmp.resolve("own"));
    Files.setPosixFilePermissions(own,
        java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
    try (DirLock l = DirLock.acquire(own, "--out", false)) {
      assertTrue(l.writableByAll().isEmpty());
    }
  }

  @Test
  void aDirectoryOfAnotherUserIsSaidButNotRefused() throws IOException {
    var users = tmp.getFileSystem().getUserPrincipalLookupService();
    Path theirs = Files.createDirectory(tmp.resolve("theirs"));
    try {
      Files.setOwner(theirs, users.lookupPrincipalByName("nobody"));
    } catch (IOException e) {
      org.junit.jupiter.api.Assumptions.abort("cannot give a directory to user nobody here ("
          + e + "): only root can");
    }
    String me = System.getProperty("user.name");
    org.junit.jupiter.api.Assumptions.assumeFalse("nobody".equals(me));
    try (DirLock l = DirLock.acquire(theirs, "--out", false)) {
      assertEquals("--out " + theirs + " belongs to user nobody, not to " + me + ", who runs "
          + "this: user nobody can replace its checkpoints before a --resume; a directory of "
          + "your own is safer", l.writableByAll().orElseThrow());
    }
  }
}
