package convspark.common.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
  @TempDir Path dir;

  private List<String> names() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void createsAndReplacesAFileAndLeavesNothingElse() throws Exception {
    Path f = dir.resolve("summary.json");
    AtomicFiles.writeString(f, "one\n");
    assertEquals("one\n", Files.readString(f));
    AtomicFiles.write(f, "two, longer\n".getBytes(StandardCharsets.UTF_8));
    assertEquals("two, longer\n", Files.readString(f));
    assertEquals(List.of("summary.json"), names());
  }

  @Test
  void aFailedWriteLeavesTheOldFileAsItWas() throws Exception {
    Path f = dir.resolve("summary.json");
    byte[] old = "the old run's results\n".getBytes(StandardCharsets.UTF_8);
    Files.write(f, old);
    // the temporary file cannot be written: a directory stands where it would go
    Path blocker = AtomicFiles.temporary(f);
    Files.createDirectory(blocker);
    assertThrows(IOException.class, () -> AtomicFiles.writeString(f, "new\n"));
    assertArrayEquals(old, Files.readAllBytes(f));
    assertTrue(Files.isDirectory(blocker), "what it did not create, it does not delete");
  }

  @Test
  void aTemporaryFileLeftByAKilledWriteIsOverwrittenAndGone() throws Exception {
    Path f = dir.resolve("metrics.jsonl");
    Path tmp = AtomicFiles.temporary(f);
    assertEquals(dir.toAbsolutePath(), tmp.getParent(), "beside the target");
    assertTrue(tmp.getFileName().toString().startsWith("."), "hidden");
    Files.writeString(tmp, "a much longer torn line from an earlier, killed write");
    AtomicFiles.writeString(f, "{}\n");
    assertEquals("{}\n", Files.readString(f));
    assertFalse(Files.exists(tmp));
    assertEquals(List.of("metrics.jsonl"), names());
  }

  @Test
  void aHardLinkPlantedAtTheTemporaryNameIsNotWrittenThrough() throws Exception {
    // the temporary name is predictable (pid); in a shared directory someone may plant a hard
    // link there to another file, which the write used to open in place, truncate and overwrite
    Path other = dir.resolve("authorized_keys");
    Files.writeString(other, "someone's key\n");
    Path f = dir.resolve("predictions.json");
    Files.createLink(AtomicFiles.temporary(f), other);
    AtomicFiles.writeString(f, "{}\n");
    assertEquals("{}\n", Files.readString(f));
    assertEquals("someone's key\n", Files.readString(other));
    assertFalse(Files.exists(AtomicFiles.temporary(f)));
  }

  @Test
  void aSymbolicLinkPlantedAtTheTemporaryNameIsNotFollowed() throws Exception {
    Path other = dir.resolve("elsewhere.txt");
    Files.writeString(other, "keep\n");
    Path f = dir.resolve("summary.json");
    Files.createSymbolicLink(AtomicFiles.temporary(f), other);
    AtomicFiles.writeString(f, "{}\n");
    assertEquals("{}\n", Files.readString(f));
    assertEquals("keep\n", Files.readString(other));
    assertFalse(Files.isSymbolicLink(f));
  }
}
