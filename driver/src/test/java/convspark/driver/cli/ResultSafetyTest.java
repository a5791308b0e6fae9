package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.io.AtomicFiles;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.TestData;
import convspark.driver.data.Normalization;
import convspark.driver.interop.SafeTensors;
import convspark.driver.interop.TorchModel;
import convspark.driver.metrics.Json;
import convspark.driver.train.CheckpointStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What convspark writes never costs an earlier result: summary.json, metrics.jsonl and evaluate's
 * --out are replaced atomically (a failed write leaves the old bytes), export replaces a file
 * only with --overwrite, evaluate and predict refuse a config whose model or normalisation is
 * not the checkpoint's, and a train --overwrite that fails while it starts puts the old run back.
 */
class ResultSafetyTest {
  @TempDir static Path dir;
  static Path config;
  /** A finished one-epoch run. */
  static Path runA;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "ok.conf", 240, 60);
    runA = dir.resolve("runA");
    CliTrainTest.Run r = train(runA, "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
  }

  static CliTrainTest.Run train(Path out, String... extra) {
    return CliTrainTest.train(config, out, extra);
  }

  static String oneLine(CliTrainTest.Run r, int code) {
    return CliRobustnessTest.oneLine(r, code);
  }

  static Path copy(Path from, String name) throws Exception {
    return CliRobustnessTest.copyTree(from, dir.resolve(name));
  }

  /** Every file under {@code root} (but the lock) with a digest of its bytes, by path. */
  static Map<String, String> tree(Path root) throws Exception {
    Map<String, String> m = new TreeMap<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.filter(Files::isRegularFile).toList()) {
        String rel = root.relativize(p).toString();
        if (!rel.equals(RunDirectory.LOCK)) {
          m.put(rel, HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
              .digest(Files.readAllBytes(p))));
        }
      }
    }
    return m;
  }

  static String withLayer(String from, String to) throws Exception {
    Path p = dir.resolve("model-" + to.replaceAll("\\W", "") + ".conf");
    String text = Files.readString(config);
    assertTrue(text.contains(from), from);
    Files.writeString(p, text.replace(from, to));
    return p.toString();
  }

  // ---- result files are replaced atomically -----------------------------------------------------

  @Test
  void aFailedSummaryWriteLeavesTheOldSummary() throws Exception {
    Path out = copy(runA, "run-summary");
    byte[] old = Files.readAllBytes(out.resolve("summary.json"));
    // the write cannot finish: a directory stands where its temporary file would go
    Files.createDirectory(AtomicFiles.temporary(out.resolve("summary.json")));
    CliTrainTest.Run r = train(out, "--resume", "--set", "train.epochs=2");
    assertNotEquals(0, r.code(), r.out());
    assertArrayEquals(old, Files.readAllBytes(out.resolve("summary.json")),
        "the earlier run's summary.json is intact");
  }

  @Test
  void aFailedMetricsRewriteOnResumeLeavesTheOldLog() throws Exception {
    Path out = copy(runA, "run-metrics");
    Path log = out.resolve("metrics.jsonl");
    // a line of an epoch after the newest checkpoint: --resume drops it, rewriting the file
    String first = Files.readAllLines(log).get(0);
    assertTrue(first.contains("\"epoch\":1,"), first);
    Files.writeString(log, first.replace("\"epoch\":1,", "\"epoch\":2,") + "\n",
        java.nio.file.StandardOpenOption.APPEND);
    byte[] old = Files.readAllBytes(log);
    Path blocker = Files.createDirectory(AtomicFiles.temporary(log));
    CliTrainTest.Run r = train(out, "--resume", "--set", "train.epochs=2");
    assertNotEquals(0, r.code(), r.out());
    assertArrayEquals(old, Files.readAllBytes(log), "metrics.jsonl is intact");
    // without the obstacle the resume rewrites the log and leaves no temporary file
    Files.delete(blocker);
    r = train(out, "--resume", "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err());
    List<String> lines = Files.readAllLines(log);
    assertEquals(2, lines.size(), lines.toString());
    assertEquals(first, lines.get(0));
    try (Stream<Path> s = Files.list(out)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")));
    }
  }

  @Test
  void evaluateOutIsReplacedAtomically() throws Exception {
    Path json = dir.resolve("eval.json");
    String earlier = "{\"count\": 1, \"accuracy\": 0.5, \"confusion\": [1]}\n";
    Files.writeString(json, earlier);
    Path blocker = Files.createDirectory(AtomicFiles.temporary(json));
    CliTrainTest.Run r = CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", runA.toString(), "--out", json.toString());
    assertNotEquals(0, r.code(), r.out());
    assertEquals(earlier, Files.readString(json));
    Files.delete(blocker);
    r = CliTrainTest.run("evaluate", "--config", config.toString(), "--checkpoint",
        runA.toString(), "--out", json.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals(60, Json.MAPPER.readTree(json.toFile()).get("count").asInt());
    // a directory as --out is refused before anything runs
    String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", runA.toString(), "--out", dir.toString()), 2);
    assertTrue(e.contains("--out") && e.contains("directory"), e);
  }

  @Test
  void overwriteReplacesARunWhoseCheckpointsAreInsideItUnderAnotherName() throws Exception {
    Path out = dir.resolve("run-ck-inside");
    Path ck = out.resolve("ck");
    assertEquals(0, train(out, "--checkpoint-dir", ck.toString(), "--set", "train.epochs=2",
        "--stop-after", "1").code());
    CliTrainTest.Run r = train(out, "--checkpoint-dir", ck.toString(), "--overwrite", "--set",
        "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    assertEquals("completed", CliTrainTest.summary(out).get("ended").asText());
    // another name than the run's own stays a file no run writes
    Files.createDirectories(out.resolve("notes"));
    String e = oneLine(train(out, "--checkpoint-dir", ck.toString(), "--overwrite"), 2);
    assertTrue(e.contains("holds notes, which no run writes"), e);
  }

  @Test
  void aResumeWithoutTheRunsCheckpointDirNamesIt() throws Exception {
    // the run wrote its checkpoints outside --out; the retry forgot --checkpoint-dir
    Path out = dir.resolve("run-ckpt-elsewhere");
    Path ck = dir.resolve("ckpt-elsewhere");
    assertEquals(0, train(out, "--checkpoint-dir", ck.toString(), "--set", "train.epochs=2",
        "--stop-after", "1").code());
    String recorded = CliTrainTest.summary(out).get("checkpoint_dir").asText();
    assertTrue(new org.apache.hadoop.fs.Path(recorded).toUri().getPath().equals(
        ck.toAbsolutePath().toString()), recorded);
    Map<String, String> before = tree(out);
    String e = oneLine(train(out, "--resume"), 2);
    assertTrue(e.contains("wrote its checkpoints to " + recorded + " (its summary.json's "
        + "checkpoint_dir): give --checkpoint-dir " + recorded + " again"), e);
    assertEquals(before, tree(out), "--out is untouched");
    assertEquals(0, train(out, "--resume", "--checkpoint-dir", recorded).code());
    assertEquals("completed", CliTrainTest.summary(out).get("ended").asText());
  }

  @Test
  void evaluateAndPredictNeverReplaceWhatIsNotTheirOwnOutput() throws Exception {
    // a checkpoint named as evaluate's --out: refused, not overwritten with JSON
    Path fin = runA.resolve("checkpoints/final.bin");
    byte[] before = Files.readAllBytes(fin);
    String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", runA.toString(), "--out", fin.toString()), 2);
    assertTrue(e.contains("--out " + fin + ": exists and is not an earlier evaluate result"),
        e);
    assertArrayEquals(before, Files.readAllBytes(fin));
    Map<String, String> run = tree(runA);
    // predict --overwrite onto the run it scores, another run, a data file, its own input
    Path other = dir.resolve("other-run");
    Files.createDirectories(other);
    Files.writeString(other.resolve("summary.json"), "{}\n");
    Path data = dir.resolve("some-data.csv");
    Files.writeString(data, "0,1\n");
    String[][] cases = {{runA.toString(), "is the input --checkpoint"},
        {dir.toString(), "holds the input --checkpoint"},
        {other.toString(), "holds summary.json, which a prediction does not write"},
        {data.toString(), "is a file, not an earlier prediction"},
        {config.toString(), "is a file, not an earlier prediction"}};
    for (String[] c : cases) {
      e = oneLine(CliTrainTest.run("predict", "--config", config.toString(), "--checkpoint",
          runA.toString(), "--output", c[0], "--overwrite"), 2);
      assertTrue(e.contains("error: --output " + c[0] + ": " + c[1]), e);
    }
    // export --overwrite onto a checkpoint or a config file
    for (Path f : List.of(fin, config)) {
      e = oneLine(CliTrainTest.run("export", "--checkpoint", runA.toString(), "--out",
          f.toString(), "--overwrite"), 2);
      assertTrue(e.contains("--out " + f + ": exists and is not a safetensors file"), e);
    }
    assertEquals(run, tree(runA), "the run is as it was");
    assertEquals("{}\n", Files.readString(other.resolve("summary.json")));
    assertEquals("0,1\n", Files.readString(data));
    // an earlier prediction is replaced
    Path pred = dir.resolve("replaced-pred");
    for (int i = 0; i < 2; i++) {
      CliTrainTest.Run r = CliTrainTest.run("predict", "--config", config.toString(),
          "--checkpoint", runA.toString(), "--output", pred.toString(), "--overwrite");
      assertEquals(0, r.code(), r.err());
    }
  }

  // ---- the config's model must be the checkpoint's ----------------------------------------------

  @Test
  void evaluateAndPredictRefuseACheckpointOfAnotherModel() throws Exception {
    String avg = withLayer("{ type = maxpool, kernel = 2 }", "{ type = avgpool, kernel = 2 }");
    String e = oneLine(CliTrainTest.run("evaluate", "--config", avg, "--checkpoint",
        runA.toString()), 2);
    assertTrue(e.contains("model") && e.contains("final.bin") && e.contains("avgpool")
        && e.contains("maxpool"), e);
    String tanh = withLayer("{ type = relu }", "{ type = tanh }");
    e = oneLine(CliTrainTest.run("predict", "--config", tanh, "--checkpoint", runA.toString(),
        "--output", dir.resolve("pred-tanh.csv").toString()), 2);
    assertTrue(e.contains("model") && e.contains("final.bin") && e.contains("tanh"), e);
    assertFalse(Files.exists(dir.resolve("pred-tanh.csv")));

    // an exported file carries its spec: checked the same way
    Path st = dir.resolve("a.safetensors");
    assertEquals(0, CliTrainTest.run("export", "--checkpoint", runA.toString(), "--out",
        st.toString()).code());
    e = oneLine(CliTrainTest.run("evaluate", "--config", avg, "--init-from", st.toString()), 2);
    assertTrue(e.contains("model") && e.contains("a.safetensors"), e);

    // a file saved by PyTorch has no spec: read as the config's model, checked by its tensors
    Checkpoint c = CliTrainTest.ckpt(runA.resolve("checkpoints/final.bin"));
    Network net = new Network(ModelSpec.parse(c.modelSpec()));
    Path pt = dir.resolve("torch.safetensors");
    SafeTensors.write(pt, TorchModel.tensors(net, c.params(), c.state(), 1),
        Map.of("format", "pt"));
    CliTrainTest.Run r = CliTrainTest.run("evaluate", "--config", avg, "--set",
        "data.normalize.mode=none", "--init-from", pt.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("samples 60"), r.out());
  }

  // ---- and its normalisation, where the config sets one -----------------------------------------

  @Test
  void evaluateAndPredictRefuseANormalisationOtherThanTheCheckpoints() throws Exception {
    Checkpoint c = CliTrainTest.ckpt(runA.resolve("checkpoints/final.bin"));
    Normalization held = Normalization.fromMeta(c.meta(), 1);
    String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(), "--set",
        "data.normalize.mode=none", "--checkpoint", runA.toString()), 2);
    assertTrue(e.contains("config keys data.normalize.* and data.scale: mode none gives scale ")
        && e.contains("final.bin was trained on inputs normalised with " + held.describe()), e);
    Path pred = dir.resolve("pred-norm.csv");
    e = oneLine(CliTrainTest.run("predict", "--config", config.toString(), "--set",
        "data.normalize.mode=given", "--set", "data.normalize.mean=[0.5]", "--set",
        "data.normalize.std=[0.25]", "--checkpoint", runA.toString(), "--output",
        pred.toString()), 2);
    assertTrue(e.contains("mode given gives scale") && e.contains("mean [0.5], std [0.25]"), e);
    assertFalse(Files.exists(pred));
    // mode auto reads the checkpoint's statistics; a data.scale set to another value is refused
    e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(), "--set",
        "data.scale=0.5", "--checkpoint", runA.toString()), 2);
    assertTrue(e.startsWith("convspark: error: config key data.scale: set to 0.5, but ")
        && e.contains("inputs scaled by " + held.scale()), e);
    // the checkpoint's own values, given: the same inputs, accepted
    CliTrainTest.Run r = CliTrainTest.run("evaluate", "--config", config.toString(), "--set",
        "data.normalize.mode=given", "--set", "data.normalize.mean=" + Arrays.toString(
        held.mean()), "--set", "data.normalize.std=" + Arrays.toString(held.std()),
        "--checkpoint", runA.toString());
    assertEquals(0, r.code(), r.err());
    CliTrainTest.Run plain = CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", runA.toString());
    assertEquals(plain.out(), r.out());
  }

  // ---- export never replaces a file unasked ------------------------------------------------------

  @Test
  void exportRefusesAnExistingFileWithoutOverwriteAndADirectory() throws Exception {
    Path run = copy(runA, "run-export");
    Path best = run.resolve("checkpoints/best.bin");
    byte[] old = Files.readAllBytes(best);
    String e = oneLine(CliTrainTest.run("export", "--checkpoint", run.toString(), "--out",
        best.toString()), 2);
    assertTrue(e.contains("best.bin") && e.contains("--overwrite"), e);
    assertArrayEquals(old, Files.readAllBytes(best), "best.bin is intact");

    Path st = dir.resolve("export-twice.safetensors");
    // an earlier export (of the run's best weights)
    assertEquals(0, CliTrainTest.run("export", "--checkpoint", best.toString(), "--out",
        st.toString()).code());
    byte[] earlier = Files.readAllBytes(st);
    oneLine(CliTrainTest.run("export", "--checkpoint", run.toString(), "--out", st.toString()),
        2);
    assertArrayEquals(earlier, Files.readAllBytes(st));
    CliTrainTest.Run r = CliTrainTest.run("export", "--checkpoint", run.toString(), "--out",
        st.toString(), "--overwrite");
    assertEquals(0, r.code(), r.err());
    Checkpoint c = CliTrainTest.ckpt(run.resolve("checkpoints/final.bin"));
    assertArrayEquals(c.params(), TorchModel.load(new Network(ModelSpec.parse(c.modelSpec())),
        st).params());

    for (String[] extra : new String[][] {{}, {"--overwrite"}}) {
      List<String> a = new ArrayList<>(List.of("export", "--checkpoint", run.toString(),
          "--out", run.resolve("checkpoints").toString()));
      a.addAll(List.of(extra));
      e = oneLine(CliTrainTest.run(a.toArray(new String[0])), 2);
      assertTrue(e.contains("--out") && e.contains("directory"), e);
    }
    assertTrue(Files.isRegularFile(best));
  }

  // ---- train --overwrite: a failure while starting puts the old run back --------------------------

  @Test
  void overwriteThatFailsWhileStartingRestoresTheOldRun() throws Exception {
    Path out = dir.resolve("run-faulty");
    Path ck = dir.resolve("faulty-ckpt");
    assertEquals(0, train(out, "--checkpoint-dir", ck.toUri().toString(), "--set",
        "train.epochs=1").code());
    Map<String, String> outBefore = tree(out);
    Map<String, String> ckBefore = tree(ck);
    assertTrue(outBefore.containsKey("summary.json") && ckBefore.containsKey("final.bin"));
    String faulty = "faulty://" + ck.toAbsolutePath();
    try {
      // 1. everything is set aside, then claiming the checkpoint directory fails
      FaultyFileSystem.failCreate = "." + convspark.driver.train.CheckpointStore.RUN_FILE
          + ".tmp";
      String e = oneLine(overwriteFaulty(out, faulty), 3);
      assertTrue(e.contains("injected fault") && e.contains("restored"), e);
      assertEquals(outBefore, tree(out), "--out is as it was");
      assertEquals(ckBefore, tree(ck), "the checkpoint directory is as it was");
      // 2. setting the old checkpoints aside fails after one file was moved
      FaultyFileSystem.reset();
      FaultyFileSystem.renamesBeforeFailure = 1;
      e = oneLine(overwriteFaulty(out, faulty), 3);
      assertTrue(e.contains("injected fault") && e.contains("restored"), e);
      assertEquals(outBefore, tree(out), "--out is as it was");
      assertEquals(ckBefore, tree(ck), "the checkpoint directory is as it was");
    } finally {
      FaultyFileSystem.reset();
    }
  }

  /**
   * A resume reads the checkpoint it continues from once (the identity check hands it to the
   * trainer), and --auto-resume once more for its choice: on S3 a large checkpoint was read
   * three and four times. A torn newer file is still reported, once.
   */
  @Test
  void aResumeReadsItsCheckpointOnceAndStillReportsATornNewerOne() throws Exception {
    Path out = dir.resolve("run-read-once");
    Path ck = dir.resolve("read-once-ckpt");
    String[] fs = {"--checkpoint-dir", "faulty://" + ck.toAbsolutePath(), "--set",
        "spark.conf.\"spark.hadoop.fs.faulty.impl\"=" + FaultyFileSystem.class.getName()};
    try {
      CliTrainTest.Run r = train(out, CliTrainTest.concat(fs, "--set", "train.epochs=1"));
      assertEquals(0, r.code(), r.err());
      String newest;
      try (Stream<Path> s = Files.list(ck)) {
        newest = s.map(p -> p.getFileName().toString()).filter(n -> n.matches("ckpt-\\d+\\.bin"))
            .max(String::compareTo).orElseThrow();
      }
      // a torn file newer than it, as a kill during a write leaves (renamed, but short)
      Files.write(ck.resolve("ckpt-999999999999.bin"), new byte[] {1, 2, 3});
      FaultyFileSystem.opens.clear();
      r = train(out, CliTrainTest.concat(fs, "--set", "train.epochs=2", "--resume"));
      assertEquals(0, r.code(), r.err());
      assertEquals(1, FaultyFileSystem.opens.getOrDefault(newest, 0), "--resume's reads of "
          + newest + ": " + FaultyFileSystem.opens);
      assertEquals(1, r.out().split("skipping unusable checkpoint ", -1).length - 1, r.out());
      Files.delete(ck.resolve("ckpt-999999999999.bin"));
      try (Stream<Path> s = Files.list(ck)) {
        newest = s.map(p -> p.getFileName().toString()).filter(n -> n.matches("ckpt-\\d+\\.bin"))
            .max(String::compareTo).orElseThrow();
      }
      FaultyFileSystem.opens.clear();
      r = train(out, CliTrainTest.concat(fs, "--set", "train.epochs=3", "--auto-resume"));
      assertEquals(0, r.code(), r.err());
      assertEquals(2, FaultyFileSystem.opens.getOrDefault(newest, 0), "--auto-resume's reads "
          + "of " + newest + ": " + FaultyFileSystem.opens);
      assertEquals(3, CliTrainTest.summary(out).get("epochs_run").asInt());
    } finally {
      FaultyFileSystem.reset();
    }
  }

  @Test
  void aCheckpointDirectoryOnAnotherFileSystemThatALiveRunHoldsIsRefused() throws Exception {
    // what a scheduler's retry meets while the first attempt still writes hdfs://...: the
    // other run's lease, renewed just now
    Path out = dir.resolve("run-leased");
    Path ck = Files.createDirectories(dir.resolve("leased-ckpt"));
    Files.writeString(ck.resolve(LeaseLock.NAME), "convspark-lock host=elsewhere pid=1 token=t\n");
    String e = oneLine(train(out, "--checkpoint-dir", "faulty://" + ck.toAbsolutePath(), "--set",
        "spark.conf.\"spark.hadoop.fs.faulty.impl\"=" + FaultyFileSystem.class.getName(),
        "--set", "train.epochs=1"), 2);
    assertTrue(e.contains("--checkpoint-dir faulty:" + ck.toAbsolutePath()
        + ": another convspark run is writing it") && e.contains("host elsewhere, pid 1"), e);
    assertEquals("convspark-lock host=elsewhere pid=1 token=t\n",
        Files.readString(ck.resolve(LeaseLock.NAME)), "the other run's lock is untouched");
    try (Stream<Path> s = Files.list(ck)) {
      assertEquals(List.of(ck.resolve(LeaseLock.NAME)), s.toList(), "nothing else was written");
    }
    assertFalse(Files.exists(out.resolve("summary.json")));
  }

  @Test
  void aRunWhoseLeaseAnotherRunTookOverStopsBeforeItsNextWrite() throws Exception {
    // the run was paused past the lease's age, and another took the directory over: the
    // other's lease appears while this run writes its first best.bin
    Path out = dir.resolve("run-lost-lease");
    Path ck = dir.resolve("lost-lease-ckpt");
    String other = "convspark-lock host=elsewhere pid=1 token=t\n";
    FaultyFileSystem.beforeCreate = f -> {
      if (f.getName().equals(".best.bin.tmp")) {
        try {
          Files.writeString(ck.resolve(LeaseLock.NAME), other);
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    };
    try {
      String e = oneLine(train(out, "--checkpoint-dir", "faulty://" + ck.toAbsolutePath(),
          "--set", "spark.conf.\"spark.hadoop.fs.faulty.impl\"="
              + FaultyFileSystem.class.getName(), "--set", "train.epochs=2"), 3);
      assertTrue(e.contains("this run lost its lock") && e.contains("names host elsewhere, pid 1"),
          e);
    } finally {
      FaultyFileSystem.reset();
    }
    assertEquals(other, Files.readString(ck.resolve(LeaseLock.NAME)), "the other's lease stays");
    try (Stream<Path> s = Files.list(ck)) {
      assertFalse(s.anyMatch(p -> p.getFileName().toString().startsWith("ckpt-")),
          "no periodic checkpoint was written after the lease was lost");
    }
  }

  @Test
  void aNewRunThatFailsAfterLosingItsLeaseLeavesTheOtherRunsFiles() throws Exception {
    // another run took the directory over (its lease, its run id, a checkpoint of its own)
    // since this run's last renewal, and this run's first checkpoint write then fails: the
    // run's undoing must not take the other run's files for its own
    Path out = dir.resolve("run-lost-then-failed");
    Path ck = dir.resolve("lost-then-failed-ckpt");
    String other = "convspark-lock host=elsewhere pid=1 token=t\n";
    FaultyFileSystem.beforeCreate = f -> {
      if (f.getName().equals(".best.bin.tmp")) {
        try {
          Files.writeString(ck.resolve(LeaseLock.NAME), other);
          Files.writeString(ck.resolve(CheckpointStore.RUN_FILE), "the-other-run\n");
          Files.writeString(ck.resolve("ckpt-000000000007.bin"), "the other run's checkpoint");
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    };
    FaultyFileSystem.failCreate = ".best.bin.tmp";
    try {
      String e = oneLine(train(out, "--checkpoint-dir", "faulty://" + ck.toAbsolutePath(),
          "--set", "spark.conf.\"spark.hadoop.fs.faulty.impl\"="
              + FaultyFileSystem.class.getName(), "--set", "train.epochs=1"), 3);
      assertTrue(e.contains("injected fault"), e);
    } finally {
      FaultyFileSystem.reset();
    }
    assertEquals(other, Files.readString(ck.resolve(LeaseLock.NAME)), "the other's lease stays");
    assertEquals("the-other-run\n", Files.readString(ck.resolve(CheckpointStore.RUN_FILE)),
        "the other's run id stays");
    assertTrue(Files.exists(ck.resolve("ckpt-000000000007.bin")), "the other's checkpoint stays");
  }

  @Test
  void predictFindsAnExistingOutputOnAFileSystemTheConfigSetsUp() throws Exception {
    // faulty: exists only through spark.hadoop.* of the config, as s3a credentials would
    Path old = Files.createDirectories(dir.resolve("pred-faulty"));
    Files.writeString(old.resolve("part-0"), "old");
    String e = oneLine(CliTrainTest.run("predict", "--config", config.toString(),
        "--checkpoint", runA.toString(), "--output", "faulty://" + old.toAbsolutePath(),
        "--set", "spark.conf.\"spark.hadoop.fs.faulty.impl\"="
            + FaultyFileSystem.class.getName()), 2);
    assertTrue(e.contains("exists; pass --overwrite"), e);
    assertEquals("old", Files.readString(old.resolve("part-0")));
  }

  private static CliTrainTest.Run overwriteFaulty(Path out, String ckpt) {
    return train(out, "--overwrite", "--checkpoint-dir", ckpt, "--set",
        "spark.conf.\"spark.hadoop.fs.faulty.impl\"=" + FaultyFileSystem.class.getName(),
        "--set", "train.epochs=1");
  }

  @Test
  void aRunDeletesOnlyWhatItSetAside() throws Exception {
    // what an --overwrite killed while starting leaves: the old run set aside, --out empty
    Path out = dir.resolve("run-stranded");
    Path ck = dir.resolve("stranded-ckpt");
    Path oldSummary = out.resolve(RunDirectory.REPLACED + "17/summary.json");
    Path oldFinal = ck.resolve(RunDirectory.REPLACED + "17/final.bin");
    for (Path p : List.of(oldSummary, oldFinal)) {
      Files.createDirectories(p.getParent());
      Files.writeString(p, "the old run");
    }
    CliTrainTest.Run r = train(out, "--checkpoint-dir", ck.toUri().toString(), "--set",
        "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.exists(out.resolve("summary.json")));
    assertEquals("the old run", Files.readString(oldSummary));
    assertEquals("the old run", Files.readString(oldFinal));
  }
}
