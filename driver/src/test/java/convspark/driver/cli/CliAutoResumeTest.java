package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a scheduled job's retries run: {@code --auto-resume}, one command that starts a run and
 * continues it after a failure; and {@code --resume} into a new {@code --out} from a checkpoint
 * directory elsewhere, as a driver restarted on another node does.
 */
class CliAutoResumeTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "auto.conf", 600, 200);
  }

  private static CliTrainTest.Run train(Path out, String... extra) {
    return CliTrainTest.train(config, out, extra);
  }

  private static long lines(Path f) throws Exception {
    return Files.readAllLines(f).stream().filter(l -> !l.isBlank()).count();
  }

  @Test
  void oneCommandStartsARunAndContinuesItAfterAnInterruption() throws Exception {
    Path out = dir.resolve("auto");
    String[] cmd = {"--auto-resume", "--set", "train.epochs=3"};
    // the first attempt stops after one epoch (as a failure would after its checkpoint)
    CliTrainTest.Run first = train(out, "--auto-resume", "--set", "train.epochs=3",
        "--stop-after", "1");
    assertEquals(0, first.code(), first.err());
    assertFalse(first.out().contains("resumed from"), first.out());
    // the retry, the same command: continues
    CliTrainTest.Run retry = train(out, cmd);
    assertEquals(0, retry.code(), retry.err());
    assertTrue(retry.out().contains("convspark: resumed from") && retry.out().contains(
        "at epoch 1"), retry.out());
    assertEquals(3, lines(out.resolve("metrics.jsonl")));
    // the same as a run without interruption
    Path whole = dir.resolve("whole");
    assertEquals(0, train(whole, "--set", "train.epochs=3").code());
    assertArrayEquals(CliTrainTest.ckpt(whole.resolve("checkpoints/final.bin")).params(),
        CliTrainTest.ckpt(out.resolve("checkpoints/final.bin")).params());
    // once the run is complete, another retry only tests its weights again
    CliTrainTest.Run again = train(out, cmd);
    assertEquals(0, again.code(), again.err());
    assertTrue(again.err().contains("no epoch left to train")
        || again.out().contains("no epoch left to train"), again.out() + again.err());
    assertEquals(3, lines(out.resolve("metrics.jsonl")));
  }

  @Test
  void aRunThatWroteNoCheckpointIsStartedAnew() throws Exception {
    // what a first attempt killed before its first checkpoint leaves: its run id, the
    // metrics of its epochs, no checkpoint (made here from a finished run by deleting them)
    Path out = dir.resolve("no-ckpt");
    CliTrainTest.Run first = train(out, "--set", "train.epochs=2");
    assertEquals(0, first.code(), first.err());
    try (var s = Files.list(out.resolve("checkpoints"))) {
      for (Path p : s.toList()) {
        if (p.getFileName().toString().endsWith(".bin")) {
          Files.delete(p);
        }
      }
    }
    Files.delete(out.resolve("summary.json"));
    String oldId = Files.readString(out.resolve("run-id"));
    CliTrainTest.Run r = train(out, "--auto-resume", "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("resumed from"), r.out());
    assertFalse(oldId.equals(Files.readString(out.resolve("run-id"))), "a new run");
    assertEquals(2, lines(out.resolve("metrics.jsonl")));
    // but nothing that a run does not write is ever replaced
    Path other = dir.resolve("no-ckpt-foreign");
    Files.createDirectories(other);
    Files.writeString(other.resolve("notes.txt"), "mine");
    CliTrainTest.Run refused = train(other, "--auto-resume");
    assertEquals(2, refused.code(), refused.err());
    assertTrue(refused.err().contains("--auto-resume (no usable checkpoint: a new run) " + other
        + ": replaces only a convspark run's files"), refused.err());
    assertEquals("mine", Files.readString(other.resolve("notes.txt")));
  }

  @Test
  void aRunThatWroteCheckpointsOrEndedIsNeverStartedAnewOverThem() throws Exception {
    // a complete run whose checkpoints are all torn (evidence, never deleted): --auto-resume
    // cannot continue it, and must not replace it as a run that wrote none
    Path out = dir.resolve("torn-ckpts");
    assertEquals(0, train(out, "--set", "train.epochs=1").code());
    try (var s = Files.list(out.resolve("checkpoints"))) {
      for (Path p : s.toList()) {
        if (p.getFileName().toString().endsWith(".bin")) {
          try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(f.length() / 2);
          }
        }
      }
    }
    var before = ResultSafetyTest.tree(out);
    CliTrainTest.Run r = train(out, "--auto-resume", "--set", "train.epochs=1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--auto-resume") && r.err().contains("--overwrite"), r.err());
    assertEquals(before, ResultSafetyTest.tree(out), "the run is left as it was");
    // a complete run whose checkpoints went to save space: its results stay
    Path kept = dir.resolve("results-only");
    assertEquals(0, train(kept, "--set", "train.epochs=1").code());
    RunDirectory.deleteTree(kept.resolve("checkpoints"));
    before = ResultSafetyTest.tree(kept);
    r = train(kept, "--auto-resume", "--set", "train.epochs=1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--auto-resume") && r.err().contains("summary.json"), r.err());
    assertEquals(before, ResultSafetyTest.tree(kept), "the run is left as it was");
  }

  @Test
  void aResumeGoesOnInANewOutFromACheckpointDirectoryElsewhere() throws Exception {
    Path ck = dir.resolve("shared-ckpt");
    Path out1 = dir.resolve("node-1");
    CliTrainTest.Run first = train(out1, "--checkpoint-dir", ck.toUri().toString(),
        "--set", "train.epochs=2", "--stop-after", "1");
    assertEquals(0, first.code(), first.err());
    // the driver restarts on another node: a new, empty --out, the same checkpoint directory
    Path out2 = dir.resolve("node-2");
    CliTrainTest.Run r = train(out2, "--resume", "--checkpoint-dir", ck.toUri().toString(),
        "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("resumed from") && (r.out() + r.err()).contains(
        "holds no metrics of the run's first 1 epochs"), r.out() + r.err());
    assertEquals(1, lines(out2.resolve("metrics.jsonl")));
    assertEquals(Files.readString(out1.resolve("run-id")), Files.readString(out2.resolve(
        "run-id")), "the same run goes on");
    // --auto-resume finds it too
    Path out3 = dir.resolve("node-3");
    CliTrainTest.Run auto = train(out3, "--auto-resume", "--checkpoint-dir",
        ck.toUri().toString(), "--set", "train.epochs=3");
    assertEquals(0, auto.code(), auto.err());
    assertTrue(auto.out().contains("resumed from") && auto.out().contains("at epoch 2"),
        auto.out());
    // without a checkpoint directory elsewhere, an empty --out has nothing to resume
    CliTrainTest.Run none = train(dir.resolve("node-4"), "--resume");
    assertEquals(2, none.code());
    assertTrue(none.err().contains("holds no earlier run"), none.err());
  }

  @Test
  void aCheckpointThatCountedStepsOtherwiseIsRefusedNamingTheVersion() throws Exception {
    // a checkpoint of an earlier version, whose epochs had another number of steps with the
    // same global batch and workers
    Path out = dir.resolve("old-steps");
    assertEquals(0, train(out, "--set", "train.epochs=2", "--stop-after", "1").code());
    Path ck;
    try (var s = Files.list(out.resolve("checkpoints"))) {
      ck = s.filter(p -> p.getFileName().toString().startsWith("ckpt-")).findFirst()
          .orElseThrow();
    }
    var c = CliTrainTest.ckpt(ck);
    int steps = Integer.parseInt(c.meta().get("steps-per-epoch"));
    Files.write(ck, c.withMeta("steps-per-epoch", Integer.toString(steps + 1)).toBytes());
    CliTrainTest.Run r = train(out, "--resume", "--set", "train.epochs=2");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("ran " + (steps + 1) + " steps per epoch, this config gives "
        + steps + " with the same global batch and workers: it was written by a convspark "
        + "version that counted"), r.err());
  }

  @Test
  void aRetryIntoANewOutReplacesACheckpointDirectoryThatHoldsOnlyARunId() throws Exception {
    // the first attempt, with its checkpoints on shared storage, died before its first
    // checkpoint: its directory holds its run id alone, and the retry's driver has a new --out
    Path ck = Files.createDirectories(dir.resolve("id-only-ckpt"));
    Files.writeString(ck.resolve("run-id"), "the-first-attempt\n");
    CliTrainTest.Run plain = train(dir.resolve("id-only-plain"), "--checkpoint-dir",
        ck.toUri().toString(), "--set", "train.epochs=1");
    assertEquals(2, plain.code(), plain.err());
    assertTrue(plain.err().contains("holds the checkpoints of another run"), plain.err());
    CliTrainTest.Run r = train(dir.resolve("id-only-retry"), "--auto-resume",
        "--checkpoint-dir", ck.toUri().toString(), "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("resumed from"), r.out());
    assertEquals(Files.readString(dir.resolve("id-only-retry/run-id")),
        Files.readString(ck.resolve("run-id")), "the directory is the new run's");
  }

  @Test
  void aRetryThatResumesNeedsNoLongerItsInitFromFile() throws Exception {
    Path base = dir.resolve("init-base");
    assertEquals(0, train(base, "--set", "train.epochs=1").code());
    Path st = dir.resolve("init.safetensors");
    assertEquals(0, CliTrainTest.run("export", "--checkpoint", base.toString(), "--out",
        st.toString()).code());
    Path out = dir.resolve("init-auto");
    CliTrainTest.Run first = train(out, "--auto-resume", "--init-from", st.toString(), "--set",
        "train.epochs=2", "--stop-after", "1");
    assertEquals(0, first.code(), first.err());
    Files.delete(st); // a temporary download, gone by the retry
    CliTrainTest.Run retry = train(out, "--auto-resume", "--init-from", st.toString(), "--set",
        "train.epochs=2");
    assertEquals(0, retry.code(), retry.err());
    assertTrue(retry.out().contains("served its first attempt and is not read again")
        && retry.out().contains("resumed from"), retry.out());
    // a first attempt needs it
    CliTrainTest.Run fresh = train(dir.resolve("init-fresh"), "--auto-resume", "--init-from",
        st.toString());
    assertEquals(2, fresh.code(), fresh.err());
    assertTrue(fresh.err().contains("--init-from " + st), fresh.err());
    assertFalse(Files.exists(dir.resolve("init-fresh")), "nothing left behind");
  }

  @Test
  void aCheckpointDirectoryWhoseFileSystemCannotBeMadeIsNamed() {
    CliTrainTest.Run r = train(dir.resolve("no-fs"), "--resume", "--checkpoint-dir",
        "nosuchscheme://host/ckpt");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--checkpoint-dir nosuchscheme://host/ckpt"), r.err());
  }

  @Test
  void autoResumeGoesAlone() {
    for (String other : new String[] {"--resume", "--overwrite"}) {
      CliTrainTest.Run r = train(dir.resolve("alone"), "--auto-resume", other);
      assertEquals(2, r.code(), r.err());
      assertTrue(r.err().contains("--auto-resume with " + other), r.err());
    }
  }
}
