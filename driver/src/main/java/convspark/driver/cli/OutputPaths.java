package convspark.driver.cli;

import convspark.common.BadInputException;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks, before any work, that a local output path named on the command line can be written:
 * its parent directory exists and takes a new file, or, when it is missing (it is created when
 * the output is written), the nearest existing ancestor is a directory that does. Nothing is
 * created: a probe file is written and deleted at once.
 */
final class OutputPaths {
  private OutputPaths() {}

  /**
   * Throws a one-line {@link BadInputException}, starting with {@code named} (the option and
   * the path as given, e.g. {@code --out x.json}), when {@code target}'s directory cannot be
   * created or written.
   */
  static void checkParent(String named, Path target) {
    Path parent = target.toAbsolutePath().normalize().getParent();
    if (parent == null) {
      return; // the root itself: refused as a directory by the callers
    }
    Path existing = parent;
    while (existing != null && !Files.exists(existing)) {
      existing = existing.getParent();
    }
    if (existing == null) {
      throw new BadInputException(named + ": its directory " + parent
          + " cannot be created");
    }
    if (!Files.isDirectory(existing)) {
      throw new BadInputException(named + ": its directory " + parent
          + " cannot be created: " + existing + " is not a directory");
    }
    try {
      Files.delete(Files.createTempFile(existing, ".convspark-", ".probe"));
    } catch (IOException | SecurityException e) {
      String what = existing.equals(parent) ? "its directory " + parent + " is not writable"
          : "its directory " + parent + " cannot be created: " + existing + " is not writable";
      throw new BadInputException(named + ": " + what + reason(e));
    }
  }

  private static String reason(Exception e) {
    String r = e instanceof FileSystemException f ? f.getReason() : null;
    return r == null ? "" : " (" + r + ")";
  }
}
