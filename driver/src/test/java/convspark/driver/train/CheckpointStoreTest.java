package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.io.Checkpoint;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointStoreTest {
  @TempDir Path dir;

  static Checkpoint at(long step) {
    return new Checkpoint("{}", (int) step, step, new float[] {step, 1, 2}, new float[0], "sgd",
        new float[][] {{0, 0, 0}}, step, Map.of());
  }

  @Test
  void keepsTheNewestNAndSkipsATornNewestCheckpoint() throws Exception {
    CheckpointStore store = new CheckpointStore(dir.toUri().toString(), 2, new Configuration());
    for (long s = 1; s <= 4; s++) {
      store.write(at(s * 10));
    }
    assertEquals(2, store.list().size(), "keep-last 2");
    assertEquals(40, store.latest().orElseThrow().step());
    // tear the newest file mid-write
    Path newest = Path.of(store.list().get(1).toUri());
    try (RandomAccessFile f = new RandomAccessFile(newest.toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    assertEquals(30, store.latest().orElseThrow().step(), "falls back to the previous one");
    assertTrue(Files.exists(newest), "the torn file is kept as evidence");
  }

  @Test
  void writesAreAtomicAndLeaveNoTempFiles() throws Exception {
    CheckpointStore store = new CheckpointStore(dir.toUri().toString(), 3, new Configuration());
    store.write(at(5));
    store.writeNamed(at(6), "best.bin");
    try (var files = Files.list(dir)) {
      assertTrue(files.noneMatch(p -> p.getFileName().toString().contains("tmp")));
    }
    assertEquals(6, store.readNamed("best.bin").orElseThrow().step());
  }

  @Test
  void aRunWhoseDirectoryAnotherRunClaimedStopsAtItsNextWrite() throws Exception {
    CheckpointStore a = new CheckpointStore(dir.toUri().toString(), 3, new Configuration());
    a.claim("run-a");
    a.write(at(5));
    assertEquals("run-a", CheckpointStore.runOf(a.latest().orElseThrow()).orElseThrow());
    // run b claims the directory (on a file system without locks, or a race before the lock)
    new CheckpointStore(dir.toUri().toString(), 3, new Configuration()).claim("run-b");
    java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(
        java.io.IOException.class, () -> a.write(at(6)));
    assertTrue(e.getMessage().contains("claimed by another run (run-b") && e.getMessage()
        .contains("after this run (run-a)"), e.getMessage());
    assertEquals(5, a.latest().orElseThrow().step(), "nothing written over b's claim");
    // a store told its run's id stamps that id, not whatever the directory names
    CheckpointStore b = new CheckpointStore(dir.toUri().toString(), 3, new Configuration());
    b.expectRun("run-b");
    b.write(at(7));
    assertEquals("run-b", CheckpointStore.runOf(b.latest().orElseThrow()).orElseThrow());
  }
}
