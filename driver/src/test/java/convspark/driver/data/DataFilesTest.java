package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import convspark.common.BadInputException;
import java.io.FileNotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataFilesTest {
  @TempDir Path dir;

  @Test
  void aFileThatCannotBeOpenedIsNamedForWhatItIs() throws Exception {
    // Hadoop's local file system raises FileNotFoundException for all of these: each was
    // "no such file"
    Path loop1 = dir.resolve("loop1");
    Path loop2 = dir.resolve("loop2");
    Files.createSymbolicLink(loop1, loop2);
    Files.createSymbolicLink(loop2, loop1);
    BadInputException e = assertThrows(BadInputException.class,
        () -> DataFiles.open(loop1.toString(), new Configuration()));
    assertEquals(loop1 + ": a symbolic link to nothing (its target is missing, or the links "
        + "form a loop)", e.getMessage());
    e = assertThrows(BadInputException.class,
        () -> DataFiles.open(dir.resolve("absent").toString(), new Configuration()));
    assertEquals(dir.resolve("absent") + ": no such file", e.getMessage());
    // what RawLocalFileSystem says of a file this user may not read (root reads any file, so
    // a chmod 000 file cannot show it in a test run as root)
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path("/data/x.idx");
    assertEquals("/data/x.idx: permission denied (the file is there, but this user may not "
        + "read it)", DataFiles.missing("/data/x.idx", p, new FileNotFoundException(
            "/data/x.idx (Permission denied)")).getMessage());
  }
}
