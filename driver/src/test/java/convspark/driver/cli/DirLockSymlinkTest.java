package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An {@code --out} in a shared directory (/tmp) can be made ahead of the run by someone else,
 * holding a {@code .lock} that is a symbolic link to a file of the user's: the lock (which the
 * run's emptiness check ignores) was opened through the link, truncated and overwritten with the
 * pid, destroying that file. The run now refuses the directory and leaves the file alone.
 */
class DirLockSymlinkTest {
  @TempDir Path tmp;

  @Test
  void aLockThatIsASymlinkIsRefusedAndItsTargetKept() throws IOException {
    Path victim = tmp.resolve("precious.txt");
    Files.writeString(victim, "keep me\n");
    Path out = Files.createDirectory(tmp.resolve("shared-out"));
    Files.createSymbolicLink(out.resolve(DirLock.NAME), victim);
    String m = assertThrows(BadInputException.class,
        () -> RunDirectory.open(out, false, false).close()).getMessage();
    assertTrue(m.startsWith("--out " + out) && m.contains(DirLock.NAME), m);
    assertEquals("keep me\n", Files.readString(victim));
    assertTrue(Files.isSymbolicLink(out.resolve(DirLock.NAME)));
  }

  @Test
  void aDanglingSymlinkCreatesNothing() {
    Path out = tmp.resolve("out2");
    Path target = tmp.resolve("created-through-link");
    assertThrows(BadInputException.class, () -> {
      Files.createDirectory(out);
      Files.createSymbolicLink(out.resolve(DirLock.NAME), target);
      DirLock.acquire(out, "--checkpoint-dir", false).close();
    });
    assertTrue(Files.notExists(target));
  }
}
