package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.TestData;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Paths named on the command line of evaluate, predict and export: a run directory without
 * final.bin names the checkpoint to use instead; a file whose length trailer is garbage is called
 * truncated, without the garbage.
 */
class CliPathsTest {
  @TempDir static Path dir;
  static Path config;
  /** An interrupted run: checkpoints/ckpt-*.bin but no final.bin (killed before the end). */
  static Path run;
  /** Its newest checkpoint. */
  static Path ckpt;

  @BeforeAll
  static void data() throws Exception {
    Path[] train = TestData.writeIdx(dir, "train", 240, 1);
    Path[] test = TestData.writeIdx(dir, "test", 60, 2);
    config = dir.resolve("ok.conf");
    Files.writeString(config, TestData.config(train[0], train[1], test[0], test[1]));
    run = dir.resolve("run-interrupted");
    CliTrainTest.Run r = CliTrainTest.train(config, run, "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    Files.delete(run.resolve("checkpoints/final.bin"));
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      ckpt = s.filter(p -> p.getFileName().toString().matches("ckpt-\\d+\\.bin")).sorted()
          .reduce((a, b) -> b).orElseThrow();
    }
  }

  static String oneLine(CliTrainTest.Run r, int code) {
    return CliRobustnessTest.oneLine(r, code);
  }

  // ---- 2. a run directory without final.bin -----------------------------------------------------

  @Test
  void anInterruptedRunNamesItsNewestUsableCheckpoint() throws Exception {
    Path copy = CliRobustnessTest.copyTree(run, dir.resolve("run-copy"));
    Path ck = copy.resolve("checkpoints");
    Path newest = ck.resolve(ckpt.getFileName().toString());
    // an older checkpoint, and a newer one that is torn: neither is the one to use
    Files.copy(newest, ck.resolve("ckpt-000000000001.bin"));
    byte[] b = Files.readAllBytes(newest);
    Files.write(ck.resolve("ckpt-999999999999.bin"), Arrays.copyOf(b, b.length / 2));
    String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", copy.toString()), 2);
    assertTrue(e.contains("--checkpoint " + copy) && e.contains("no final.bin")
        && e.contains("did not finish") && e.contains(newest.toString()), e);
    assertFalse(e.contains("no such checkpoint"), e);
    e = oneLine(CliTrainTest.run("export", "--checkpoint", copy.toString(), "--out",
        dir.resolve("interrupted.safetensors").toString()), 2);
    assertTrue(e.contains("no final.bin") && e.contains(newest.toString()), e);

    // nothing to offer instead
    Path empty = Files.createDirectories(dir.resolve("run-empty/checkpoints"));
    e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(), "--checkpoint",
        empty.getParent().toString()), 2);
    assertTrue(e.contains("no final.bin") && e.contains("no checkpoints/ckpt-*.bin"), e);
  }

  // ---- 3. a checkpoint whose length trailer is garbage ------------------------------------------

  @Test
  void aTornCheckpointIsCalledTruncatedWithoutAGarbageLength() throws Exception {
    byte[] b = Arrays.copyOf(Files.readAllBytes(ckpt), 3000);
    ByteBuffer.wrap(b).putLong(b.length - 8, -4733131721682043617L);
    Path torn = Files.write(dir.resolve("torn.bin"), b);
    String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", torn.toString()), 2);
    assertTrue(e.contains("torn.bin") && e.contains("truncated"), e);
    assertFalse(e.contains("-4733131721682043617"), e);
  }
}
