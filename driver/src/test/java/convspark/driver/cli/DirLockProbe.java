package convspark.driver.cli;

import convspark.common.BadInputException;
import java.nio.file.Path;

/**
 * A second process that tries to lock a directory, as a second run would: exit 0 when it got
 * the lock, 2 with the refusal on standard error when it did not ({@link DirLockTest}).
 */
public final class DirLockProbe {
  private DirLockProbe() {}

  public static void main(String[] args) throws Exception {
    try (DirLock l = DirLock.acquire(Path.of(args[0]), "--out", false)) {
      System.exit(0);
    } catch (BadInputException e) {
      System.err.println(e.getMessage());
      System.exit(2);
    }
  }
}
