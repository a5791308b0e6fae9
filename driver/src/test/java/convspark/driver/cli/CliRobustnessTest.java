package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.SparkTestSession;
import convspark.driver.TestData;
import convspark.driver.interop.TorchModel;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Property;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a faulty or hostile situation does to a run (issue 13): nothing of an earlier run is lost,
 * no run is left that cannot be resumed, nothing trains silently on garbage, every failure is one
 * line with exit code 2 (bad input) or 3 (training failed, naming the last good checkpoint), and
 * what can be checked is checked before the first epoch.
 */
class CliRobustnessTest {
  @TempDir static Path dir;
  static Path config;
  /** A finished one-epoch run: the "earlier run" the cases below must not lose. */
  static Path runA;
  static Path nullLabel;
  static Path nullFeatures;
  static Path goodParquet;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "ok.conf", 240, 60);
    SparkSession spark = SparkTestSession.start();
    try {
      StructType schema = new StructType().add("label", DataTypes.DoubleType)
          .add("features", DataTypes.createArrayType(DataTypes.FloatType));
      int[] labels = new int[60];
      byte[][] images = TestData.generate(60, 3, labels);
      for (String kind : new String[] {"good", "null-label", "null-features"}) {
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
          List<Float> px = new ArrayList<>();
          for (byte b : images[i]) {
            px.add((float) (b & 0xff));
          }
          Double label = kind.equals("null-label") && i == 17 ? null : (double) labels[i];
          rows.add(RowFactory.create(label,
              kind.equals("null-features") && i == 23 ? null : px));
        }
        spark.createDataFrame(rows, schema).repartition(2).write()
            .parquet(dir.resolve(kind + ".parquet").toString());
      }
    } finally {
      spark.stop();
    }
    goodParquet = dir.resolve("good.parquet");
    nullLabel = dir.resolve("null-label.parquet");
    nullFeatures = dir.resolve("null-features.parquet");
    runA = dir.resolve("runA");
    CliTrainTest.Run r = train(runA, "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
  }

  static CliTrainTest.Run train(Path out, String... extra) {
    return CliTrainTest.train(config, out, extra);
  }

  /** Asserts exit code {@code code} and exactly one line on stderr; returns it. */
  static String oneLine(CliTrainTest.Run r, int code) {
    assertEquals(code, r.code(), "exit code; stderr: " + r.err() + " stdout: " + r.out());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), "one line: " + err);
    assertFalse(err.contains("\tat "), "no stack trace: " + err);
    return err;
  }

  static byte[] bytes(Path p) throws Exception {
    return Files.readAllBytes(p);
  }

  static Path copyRun(Path from, String name) throws Exception {
    return copyTree(from, dir.resolve(name));
  }

  /** Copies the tree {@code from} to {@code to}; returns {@code to}. */
  static Path copyTree(Path from, Path to) throws Exception {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path q = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(q);
        } else {
          Files.copy(p, q);
        }
      }
    }
    return to;
  }

  // ---- 2. --overwrite replaces an old run only once the new one can start ---------------------

  @Test
  void overwriteKeepsTheOldRunWhenTheNewOneCannotStart() throws Exception {
    Path out = copyRun(runA, "run-overwrite");
    byte[] fin = bytes(out.resolve("checkpoints/final.bin"));
    byte[] summary = bytes(out.resolve("summary.json"));
    String e = oneLine(train(out, "--overwrite", "--set", "train.workers=3"), 2);
    assertTrue(e.contains("train.global-batch"), e);
    e = oneLine(train(out, "--overwrite", "--init-from", dir.resolve("nope.safetensors")
        .toString()), 2);
    assertTrue(e.contains("nope.safetensors"), e);
    e = oneLine(train(out, TestData.noIdxArgs("--overwrite", "--set", "data.format=dataframe",
        "--set", "data.train.path=" + nullLabel, "--set", "data.test.path=" + goodParquet)), 2);
    assertTrue(e.contains("label is null"), e);
    assertArrayEquals(fin, bytes(out.resolve("checkpoints/final.bin")));
    assertArrayEquals(summary, bytes(out.resolve("summary.json")));
    // and a new run that starts does replace it
    CliTrainTest.Run r = train(out, "--overwrite", "--set", "train.epochs=1", "--set",
        "train.seed=99");
    assertEquals(0, r.code(), r.err());
    assertEquals(99, CliTrainTest.summary(out).get("seed").asInt());
    try (Stream<Path> s = Files.list(out)) {
      assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".replaced")),
          "the replaced run is removed once the new one finished");
    }
  }

  @Test
  void predictOverwriteKeepsTheOldOutputWhenScoringFails() throws Exception {
    Path pred = dir.resolve("pred.parquet");
    CliTrainTest.Run r = CliTrainTest.run("predict", "--config", config.toString(),
        "--checkpoint", runA.toString(), "--output", pred.toString());
    assertEquals(0, r.code(), r.err());
    List<String> before;
    try (Stream<Path> s = Files.list(pred)) {
      before = s.map(p -> p.getFileName().toString()).sorted().toList();
    }
    r = CliTrainTest.run(TestData.noIdxArgs("predict", "--config", config.toString(),
        "--checkpoint", runA.toString(), "--output", pred.toString(), "--overwrite", "--set",
        "data.format=dataframe", "--set", "data.test.path=" + nullFeatures));
    String e = oneLine(r, 2);
    assertTrue(e.contains("null"), e);
    try (Stream<Path> s = Files.list(pred)) {
      assertEquals(before, s.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void anInferenceBatchNoArrayCanHoldIsNamedBeforeScoring() throws Exception {
    String e = oneLine(CliTrainTest.run("predict", "--config", config.toString(), "--checkpoint",
        runA.toString(), "--output", dir.resolve("pred-huge-batch").toString(), "--set",
        "predict.inference-batch=300000000"), 2);
    assertTrue(e.contains("predict.inference-batch") && e.contains("300000000"), e);
    assertTrue(!Files.exists(dir.resolve("pred-huge-batch")), "no output");
    e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(), "--checkpoint",
        runA.toString(), "--set", "train.eval-batch=300000000"), 2);
    assertTrue(e.contains("train.eval-batch"), e);
  }

  // ---- 3. resume continues from the newest good checkpoint whatever else is torn --------------

  @Test
  void resumeSkipsATornBestFileAFinalFileWithAStaleChecksumAndATornMetricsLine()
      throws Exception {
    Path out = dir.resolve("run-torn");
    CliTrainTest.Run r = train(out, "--set", "train.epochs=3", "--stop-after", "1");
    assertEquals(0, r.code(), r.err());
    Path ck = out.resolve("checkpoints");
    // killed between the two renames of a write: best.bin replaced, its .crc still the old one
    Path ckpt;
    try (Stream<Path> s = Files.list(ck)) {
      ckpt = s.filter(p -> p.getFileName().toString().matches("ckpt-\\d+\\.bin")).findFirst()
          .orElseThrow();
    }
    Checkpoint c = Checkpoint.fromBytes(bytes(ckpt), ckpt.toString());
    Checkpoint other = new Checkpoint(c.modelSpec(), c.epoch(), c.step(), c.params(),
        c.state(), c.optimizer(), c.optimizerState(), c.optimizerSteps() + 1, c.meta());
    Files.write(ck.resolve("final.bin"), other.toBytes());
    // a torn best.bin
    try (RandomAccessFile f = new RandomAccessFile(ck.resolve("best.bin").toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    // a torn last metrics line (killed mid-append)
    Files.writeString(out.resolve("metrics.jsonl"), "{\"epoch\":2,\"st",
        StandardOpenOption.APPEND);
    r = train(out, "--resume", "--set", "train.epochs=3");
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue((r.out() + r.err()).contains("best.bin"), "says what it skipped: " + r.err());
    assertEquals(3, CliTrainTest.summary(out).get("epochs_run").asInt());
    assertEquals(3, Files.readAllLines(out.resolve("metrics.jsonl")).size(),
        Files.readString(out.resolve("metrics.jsonl")));
  }

  @Test
  void aTornNewestCheckpointIsSkippedAndSaidOnce() throws Exception {
    Path out = dir.resolve("run-torn-newest");
    CliTrainTest.Run r = train(out, "--set", "train.epochs=3", "--stop-after", "2");
    assertEquals(0, r.code(), r.err());
    List<Path> ckpts;
    try (Stream<Path> s = Files.list(out.resolve("checkpoints"))) {
      ckpts = s.filter(p -> p.getFileName().toString().matches("ckpt-\\d+\\.bin")).sorted()
          .toList();
    }
    Path newest = ckpts.get(ckpts.size() - 1);
    try (RandomAccessFile f = new RandomAccessFile(newest.toFile(), "rw")) {
      f.setLength(f.length() - 7);
    }
    r = train(out, "--resume", "--set", "train.epochs=3");
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("at epoch 1,"), "from the one before: " + r.out());
    // the run's checks and the trainer both look for the newest: one warning, not two
    assertEquals(1, (r.out() + r.err()).lines()
        .filter(l -> l.contains("skipping unusable checkpoint " )).count(), r.out());
  }

  // ---- 4. checkpoints belong to their run; --out is locked while a run writes it --------------

  @Test
  void aNewRunRefusesAnotherRunsCheckpointDirectory() throws Exception {
    Path other = copyRun(runA, "run-identity");
    Path ck = other.resolve("checkpoints");
    byte[] fin = bytes(ck.resolve("final.bin"));
    String e = oneLine(train(dir.resolve("run-intruder"), "--checkpoint-dir",
        ck.toUri().toString(), "--set", "train.epochs=1"), 2);
    assertTrue(e.contains("--checkpoint-dir") && e.contains("another run"), e);
    assertArrayEquals(fin, bytes(ck.resolve("final.bin")));
  }

  @Test
  void overwriteWithAnOutsideCheckpointDirectoryNeverResumesTheOldRun() throws Exception {
    Path out = dir.resolve("run-outside");
    String ck = dir.resolve("outside-ckpt").toUri().toString();
    assertEquals(0, train(out, "--checkpoint-dir", ck, "--set", "train.epochs=2").code());
    CliTrainTest.Run r = train(out, "--overwrite", "--checkpoint-dir", ck, "--set",
        "train.epochs=3", "--stop-after", "1");
    assertEquals(0, r.code(), r.err());
    r = train(out, "--resume", "--checkpoint-dir", ck, "--set", "train.epochs=3");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("at epoch 1,"), "continues the new run, not the old: " + r.out());
  }

  @Test
  void aRunStoppedBetweenANewBestAndItsCheckpointResumesWithTheBestWeightsItNamed()
      throws Exception {
    Path out = dir.resolve("run-best-window");
    CliTrainTest.Run r = train(out, "--set", "train.epochs=3", "--stop-after", "1");
    assertEquals(0, r.code(), r.err());
    Path ck = out.resolve("checkpoints");
    org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
    Checkpoint best = convspark.driver.train.CheckpointStore.readFile(
        new org.apache.hadoop.fs.Path(ck.resolve("best.bin").toUri()), conf);
    assertEquals(1, best.epoch());
    // what a kill leaves between epoch 2's new best.bin and epoch 2's checkpoint: the best
    // weights of the checkpoint (epoch 1) set aside, a best.bin that no checkpoint names
    Files.move(ck.resolve("best.bin"), ck.resolve("best-previous.bin"));
    float[] other = best.params().clone();
    other[0] += 1;
    new convspark.driver.train.CheckpointStore(ck.toUri().toString(), 3, conf).writeNamed(
        new Checkpoint(best.modelSpec(), 2, best.step() * 2, other, best.state(),
            best.optimizer(), best.optimizerState(), best.optimizerSteps(), best.meta()),
        "best.bin");
    r = train(out, "--resume", "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("not used") || r.out().contains("not available"), r.out());
    assertFalse(Files.exists(ck.resolve("best-previous.bin")));
    Checkpoint restored = convspark.driver.train.CheckpointStore.readFile(
        new org.apache.hadoop.fs.Path(ck.resolve("best.bin").toUri()), conf);
    assertEquals(1, restored.epoch());
    assertArrayEquals(best.params(), restored.params());
  }

  @Test
  void aTornBestBinIsReplacedByTheBestEpochsCheckpointOnResume() throws Exception {
    Path out = dir.resolve("run-best-torn");
    CliTrainTest.Run r = train(out, "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err());
    Path ck = out.resolve("checkpoints");
    org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
    var store = new convspark.driver.train.CheckpointStore(ck.toUri().toString(), 3, conf);
    List<Path> ckpts;
    try (Stream<Path> s = Files.list(ck)) {
      ckpts = s.filter(p -> p.getFileName().toString().matches("ckpt-\\d+\\.bin")).sorted()
          .toList();
    }
    assertEquals(2, ckpts.size(), ckpts.toString());
    Checkpoint first = Checkpoint.fromBytes(bytes(ckpts.get(0)), "epoch 1");
    Checkpoint last = Checkpoint.fromBytes(bytes(ckpts.get(1)), "epoch 2");
    assertEquals(1, first.epoch());
    // epoch 2's checkpoint names epoch 1 the best (whatever validation said), and best.bin is
    // torn: epoch 1's weights are still in its own checkpoint
    Map<String, String> meta = new java.util.LinkedHashMap<>(last.meta());
    meta.put("early.best-epoch", "1");
    meta.put("early.bad-epochs", "1");
    store.writeNamed(new Checkpoint(last.modelSpec(), last.epoch(), last.step(), last.params(),
        last.state(), last.optimizer(), last.optimizerState(), last.optimizerSteps(), meta),
        ckpts.get(1).getFileName().toString());
    try (RandomAccessFile f = new RandomAccessFile(ck.resolve("best.bin").toFile(), "rw")) {
      f.setLength(f.length() / 2);
    }
    r = train(out, "--resume", "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("the best weights (epoch 1) are taken from the checkpoint of "
        + "that epoch (step " + first.step() + ")"), r.out());
    assertFalse(r.out().contains("not available"), r.out());
    Checkpoint fin = Checkpoint.fromBytes(bytes(ck.resolve("final.bin")), "final.bin");
    assertEquals(1, fin.epoch());
    assertArrayEquals(first.params(), fin.params());
    assertArrayEquals(first.state(), fin.state());

    // once that checkpoint is gone too, the last weights are kept and it says so
    Files.delete(ckpts.get(0));
    r = train(out, "--resume", "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err() + r.out());
    assertTrue(r.out().contains("the best weights (epoch 1) are not available"), r.out());
    fin = Checkpoint.fromBytes(bytes(ck.resolve("final.bin")), "final.bin");
    assertEquals(2, fin.epoch());
    assertArrayEquals(last.params(), fin.params());
  }

  @Test
  void aSecondRunOnALockedOutputIsRefused() throws Exception {
    Path out = dir.resolve("run-locked");
    Files.createDirectories(out);
    try (FileChannel ch = FileChannel.open(out.resolve(".lock"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE); FileLock lock = ch.lock()) {
      String e = oneLine(train(out, "--set", "train.epochs=1"), 2);
      assertTrue(e.contains("--out") && e.contains("another convspark run"), e);
    }
    assertFalse(Files.exists(out.resolve("metrics.jsonl")));
    // a --checkpoint-dir outside --out is locked too: two runs with their own --out and one
    // checkpoint directory both finished, each pruning and stamping the other's checkpoints
    Path ck = dir.resolve("ckpt-locked");
    Files.createDirectories(ck);
    try (FileChannel ch = FileChannel.open(ck.resolve(".lock"), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE); FileLock lock = ch.lock()) {
      String e = oneLine(train(dir.resolve("run-ck-locked"), "--checkpoint-dir", ck.toString(),
          "--set", "train.epochs=1"), 2);
      assertTrue(e.contains("--checkpoint-dir " + ck) && e.contains("another convspark run"), e);
    }
    assertFalse(Files.exists(dir.resolve("run-ck-locked")), "nothing written");
    try (var files = Files.list(ck)) {
      assertEquals(List.of(".lock"), files.map(p -> p.getFileName().toString()).toList());
    }
  }

  // ---- 5. no silent garbage ---------------------------------------------------------------------

  @Test
  void anAbsurdPixelValueIsRejected() throws Exception {
    StringBuilder csv = new StringBuilder();
    for (int i = 0; i < 40; i++) {
      csv.append(i % 4);
      for (int p = 0; p < 144; p++) {
        csv.append(',').append(i == 31 && p == 70 ? "1e30" : "12");
      }
      csv.append('\n');
    }
    Path p = dir.resolve("huge.csv");
    Files.writeString(p, csv);
    String e = oneLine(train(dir.resolve("run-huge"), TestData.noIdxArgs("--set",
        "data.format=csv", "--set", "data.train.path=" + p, "--set", "data.test.path=" + p)), 2);
    assertTrue(e.contains("huge.csv") && e.contains("sample 31") && e.contains("1.0E30"), e);
  }

  @Test
  void nonFiniteWeightsAndNegativeVariancesAreRejected() throws Exception {
    Checkpoint c = Checkpoint.fromBytes(bytes(runA.resolve("checkpoints/final.bin")), "final");
    float[] params = c.params().clone();
    params[5] = Float.NaN;
    Path nan = dir.resolve("nan.bin");
    Files.write(nan, new Checkpoint(c.modelSpec(), c.epoch(), c.step(), params, c.state(),
        c.optimizer(), c.optimizerState(), c.optimizerSteps(), c.meta()).toBytes());
    String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", nan.toString()), 2);
    assertTrue(e.contains("nan.bin") && e.contains("NaN"), e);

    Network net = new Network(ModelSpec.parse(c.modelSpec()));
    float[] state = c.state().clone();
    state[state.length - 1] = -0.5f; // the last running variance
    Path st = dir.resolve("negvar.safetensors");
    TorchModel.export(net, c.params(), state, 1, st);
    e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(), "--set",
        "data.normalize.mode=none", "--init-from", st.toString()), 2);
    assertTrue(e.contains("negvar.safetensors") && e.contains("variance"), e);
  }

  @Test
  void stopAfterMustBePositive() {
    for (String n : new String[] {"0", "-3"}) {
      String e = oneLine(train(dir.resolve("run-stop" + n), "--stop-after", n), 2);
      assertTrue(e.contains("--stop-after"), e);
    }
  }

  // ---- 6. exit codes and one-line messages ------------------------------------------------------

  @Test
  void aCorruptCheckpointIsBadInputForEveryCommand() throws Exception {
    Path bad = copyRun(runA, "run-corrupt");
    Path fin = bad.resolve("checkpoints/final.bin");
    byte[] b = bytes(fin);
    b[b.length / 2] ^= 0x55;
    Files.write(fin, b); // its .crc (Hadoop's local checksum) no longer matches either
    oneLine(CliTrainTest.run("evaluate", "--config", config.toString(), "--checkpoint",
        bad.toString()), 2);
    oneLine(CliTrainTest.run("predict", "--config", config.toString(), "--checkpoint",
        bad.toString(), "--output", dir.resolve("pred-corrupt").toString()), 2);
    String e = oneLine(CliTrainTest.run("export", "--checkpoint", bad.toString(), "--out",
        dir.resolve("corrupt.safetensors").toString()), 2);
    assertTrue(e.contains("final.bin"), e);
  }

  @Test
  void configAndEnvironmentMistakesAreBadInput() throws Exception {
    Path conf = dir.resolve("typed.conf");
    Files.writeString(conf, Files.readString(config).replace(
        "input { channels = 1, height = 12, width = 12 }", "input = [1, 12, \"abc\"]"));
    String e = oneLine(CliTrainTest.run("train", "--config", conf.toString(), "--out",
        dir.resolve("run-typed").toString()), 2);
    assertTrue(e.contains("input"), e);
    Path file = Files.writeString(dir.resolve("a-file"), "x");
    e = oneLine(train(file.resolve("run")), 2);
    assertTrue(e.contains("--out"), e);
    e = oneLine(train(dir.resolve("run-scale"), "--set", "data.scale=1e-50"), 2);
    assertTrue(e.contains("data.scale"), e);
    // and Spark's own account of the failed start (a stack trace) is not logged without --verbose
    java.util.List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    org.apache.logging.log4j.core.Logger root = (org.apache.logging.log4j.core.Logger)
        org.apache.logging.log4j.LogManager.getRootLogger();
    org.apache.logging.log4j.core.appender.AbstractAppender probe =
        new org.apache.logging.log4j.core.appender.AbstractAppender("probe", null, null, true,
            org.apache.logging.log4j.core.config.Property.EMPTY_ARRAY) {
          @Override
          public void append(org.apache.logging.log4j.core.LogEvent event) {
            logged.add(event.getLevel() + " " + event.getLoggerName());
          }
        };
    probe.start();
    root.addAppender(probe);
    try {
      e = oneLine(train(dir.resolve("run-master"), "--master", "bogus"), 2);
    } finally {
      root.removeAppender(probe);
    }
    assertTrue(e.contains("bogus"), e);
    assertTrue(logged.stream().noneMatch(l -> l.startsWith("ERROR")), logged.toString());
  }

  @Test
  void aRunStoppedByASignalSaysSoRatherThanQuotingSpark() {
    Exception spark = new IllegalStateException(
        "Cannot call methods on a stopped SparkContext.");
    assertFalse(TrainCommand.shuttingDown(), "this JVM is not shutting down");
    assertEquals(Main.describe(spark), TrainCommand.cause(spark, false));
    String m = TrainCommand.cause(spark, true);
    assertTrue(m.contains("SIGINT or SIGTERM") && !m.contains("SparkContext"), m);
  }

  @Test
  void aDataFileSparkCannotParseIsBadInputAndAJobFailureNamesItsInnermostCause() {
    // found on the executors, in a Spark job's failure: it was exit 3, "Exception thrown in
    // awaitResult:", which named neither the file nor what was wrong with it
    Exception job = new RuntimeException("Job aborted due to stage failure: Lost task 0.0: "
        + "org.apache.spark.SparkException: Exception thrown in awaitResult:",
        new RuntimeException("Exception thrown in awaitResult:", new RuntimeException(
            "file:/d/part-0.parquet is not a Parquet file. Expected magic number at tail")));
    Throwable bad = Main.badInput(job);
    assertTrue(bad != null && bad.getMessage().equals("a data file Spark cannot read: "
        + "file:/d/part-0.parquet is not a Parquet file. Expected magic number at tail"),
        String.valueOf(bad));
    // a read error of the file system itself stays a failure, its cause named
    Exception io = new RuntimeException("Job aborted due to stage failure: Exception thrown in "
        + "awaitResult:", new java.io.IOException("Connection reset by peer"));
    assertEquals(null, Main.badInput(io));
    assertTrue(Main.describe(io).endsWith("(cause: java.io.IOException: Connection reset by "
        + "peer)"), Main.describe(io));
  }

  /**
   * Out of memory in Spark's own task code (not convspark's, which fails the task instead):
   * Spark's executor logs the error and ends the JVM (exit 52); the run's line says that, not
   * a signal, and the console shows nothing of it without --verbose.
   */
  @Test
  void aRunEndedBySparkForOutOfMemorySaysSo() {
    Cli.quietTaskFailures(false);
    List<String> printed = new ArrayList<>();
    try {
      consoleLines(printed, () -> {
        LogManager.getLogger("org.apache.spark.util.SparkUncaughtExceptionHandler").error(
            "Uncaught exception in thread Thread[Executor task launch worker for task 0.0]",
            new OutOfMemoryError("Java heap space"));
        return null;
      });
      assertEquals(List.of(), printed);
      Exception spark = new IllegalStateException("SparkContext was shut down");
      String m = TrainCommand.cause(spark, true);
      assertTrue(m.startsWith("stopped: Spark ended the JVM (exit 52) after an out-of-memory "
          + "error in a task (heap "), m);
      assertTrue(m.contains("Java heap space): raise the heap (CONVSPARK_MEMORY"), m);
      assertFalse(m.contains("SIGINT"), m);
      assertEquals(Main.describe(spark), TrainCommand.cause(spark, false));
    } finally {
      Cli.forgetFatal();
    }
    assertTrue(TrainCommand.cause(new IllegalStateException("x"), true).contains("SIGINT"));
  }

  @Test
  void aHugeFileIsNotReadAsACheckpoint() throws Exception {
    Path big = dir.resolve("big.bin");
    try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
      f.setLength(3L << 30); // sparse: 3 GiB without using the disk
    }
    try {
      String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
          "--checkpoint", big.toString()), 2);
      assertTrue(e.contains("big.bin"), e);
    } finally {
      Files.delete(big);
    }
  }

  @Test
  void aModelTooBigForTheHeapIsRejectedBeforeTraining() throws Exception {
    // 216 inputs x 2,000,000 outputs: 432M parameters, 1.7 GB each for the weights, the
    // gradient and the momentum: more than the test JVM's 3 GB heap
    Path conf = dir.resolve("big.conf");
    Files.writeString(conf, Files.readString(config).replace("units = 4", "units = 2000000"));
    String e = oneLine(CliTrainTest.run("train", "--config", conf.toString(), "--out",
        dir.resolve("run-big").toString()), 2);
    assertTrue(e.contains("heap"), e);
  }

  @Test
  void evaluateReadsDataFrameSources() throws Exception {
    CliTrainTest.Run r = CliTrainTest.run(TestData.noIdxArgs("evaluate", "--config",
        config.toString(), "--checkpoint", runA.toString(), "--set", "data.format=dataframe",
        "--set", "data.test.path=" + goodParquet));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("samples 60"), r.out());
  }

  @Test
  void badRowsInADataFramePrintNoExecutorStackTraces() throws Exception {
    List<LogEvent> events = new ArrayList<>();
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    AbstractAppender capture = new AbstractAppender("capture", null, null, true,
        Property.EMPTY_ARRAY) {
      @Override
      public void append(LogEvent event) {
        events.add(event.toImmutable());
      }
    };
    capture.start();
    ctx.getConfiguration().getRootLogger().addAppender(capture, Level.ALL, null);
    ctx.updateLoggers();
    try {
      String e = oneLine(train(dir.resolve("run-badrows"), TestData.noIdxArgs("--set",
          "data.format=dataframe", "--set", "data.train.path=" + nullLabel, "--set",
          "data.test.path=" + goodParquet)), 2);
      assertTrue(e.contains("label is null"), e);
    } finally {
      ctx.getConfiguration().getRootLogger().removeAppender("capture");
      ctx.updateLoggers();
    }
    for (LogEvent ev : events) {
      assertTrue(ev.getThrown() == null || !ev.getLevel().isMoreSpecificThan(Level.WARN)
          || !ctx.getLogger(ev.getLoggerName()).isEnabled(ev.getLevel()),
          "logged with a stack trace: " + ev.getLoggerName() + " " + ev.getMessage()
              .getFormattedMessage());
    }
  }

  /**
   * A null features value: predict, evaluate and train print the one line naming the input and
   * nothing else of Spark's, neither the write's "ERROR Utils: Aborting task" and "ERROR
   * FileFormatWriter: Aborting job" with their stack traces (predict printed ~185 lines) nor
   * "WARN BlockManager: Putting block ... failed due to exception" (evaluate, train); --verbose
   * shows them.
   */
  @Test
  void aBadRowPrintsOneLineAndNoSparkLogLines() throws Exception {
    String[] frame = TestData.noIdxArgs("--set", "data.format=dataframe", "--set",
        "data.test.path=" + nullFeatures);
    List<String> printed = new ArrayList<>();
    String e = oneLine(consoleLines(printed, () -> CliTrainTest.run(concat(new String[] {"predict",
        "--config", config.toString(), "--checkpoint", runA.toString(), "--output",
        dir.resolve("bad-row.csv").toString()}, frame))), 2);
    assertTrue(e.startsWith("convspark: error: data.test.path " + nullFeatures + ": Column "
        + "features (row "), e);
    assertTrue(e.endsWith("features are null"), e);
    assertEquals(List.of(), printed, "predict");
    e = oneLine(consoleLines(printed, () -> CliTrainTest.run(concat(new String[] {"evaluate",
        "--config", config.toString(), "--checkpoint", runA.toString()}, frame))), 2);
    assertTrue(e.contains(nullFeatures + " row ") && e.endsWith("features are null"), e);
    assertEquals(List.of(), printed, "evaluate");
    e = oneLine(consoleLines(printed, () -> train(dir.resolve("run-badfeatures"),
        TestData.noIdxArgs("--set", "data.format=dataframe", "--set", "data.train.path="
            + nullFeatures, "--set", "data.test.path=" + goodParquet))), 2);
    assertTrue(e.contains(nullFeatures + " row ") && e.endsWith("features are null"), e);
    assertEquals(List.of(), printed, "train");
    // --verbose: Spark's lines about the failed task are shown
    CliTrainTest.Run v = consoleLines(printed, () -> CliTrainTest.run(concat(new String[] {
        "evaluate", "--verbose", "--config", config.toString(), "--checkpoint",
        runA.toString()}, frame)));
    assertEquals(2, v.code(), v.err());
    assertTrue(printed.stream().anyMatch(l -> l.contains("BlockManager: Putting block")),
        printed.toString());
  }

  static String[] concat(String[] a, String[] b) {
    String[] c = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  /**
   * Runs {@code command}, putting in {@code printed} (cleared first) what the console would
   * show of Spark's log lines at WARN and above ("WARN BlockManager: ...") except the start's
   * own about this host's address (Utils: "Your hostname ... resolves to a loopback address").
   */
  static CliTrainTest.Run consoleLines(List<String> printed,
      java.util.function.Supplier<CliTrainTest.Run> command) {
    printed.clear();
    List<LogEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
    AbstractAppender capture = new AbstractAppender("capture-console", null, null, true,
        Property.EMPTY_ARRAY) {
      @Override
      public void append(LogEvent event) {
        events.add(event.toImmutable());
      }
    };
    capture.start();
    ctx.getConfiguration().getRootLogger().addAppender(capture, Level.ALL, null);
    ctx.updateLoggers();
    try {
      return command.get();
    } finally {
      ctx.getConfiguration().getRootLogger().removeAppender("capture-console");
      ctx.updateLoggers();
      for (LogEvent ev : events) {
        String m = ev.getMessage().getFormattedMessage();
        if (ev.getLevel().isMoreSpecificThan(Level.WARN) && !m.contains("hostname")
            && !m.contains("SPARK_LOCAL_IP")) {
          String name = ev.getLoggerName();
          printed.add(ev.getLevel() + " " + name.substring(name.lastIndexOf('.') + 1) + ": "
              + m);
        }
      }
    }
  }

  // ---- 7. what can be checked is checked before the first epoch --------------------------------

  @Test
  void anImpossibleEvalBatchFailsBeforeTraining() {
    Path out = dir.resolve("run-evalbatch");
    String e = oneLine(train(out, "--set", "train.eval-batch=2000000000"), 2);
    assertTrue(e.contains("train.eval-batch"), e);
    assertFalse(Files.exists(out.resolve("metrics.jsonl")), "no epoch was run");
  }

  @Test
  void anUnwritableCheckpointDirectoryFailsBeforeTraining() throws Exception {
    Path out = dir.resolve("run-ckdir");
    Path file = Files.writeString(dir.resolve("not-a-dir"), "x");
    String e = oneLine(train(out, "--checkpoint-dir", file.resolve("ck").toUri().toString()),
        2);
    assertTrue(e.contains("--checkpoint-dir"), e);
    assertFalse(Files.exists(out.resolve("metrics.jsonl")), "no epoch was run");
  }

  // ---- 8. what the README promises ----------------------------------------------------------------

  @Test
  void predictTakesInitFrom() throws Exception {
    Path st = dir.resolve("a.safetensors");
    assertEquals(0, CliTrainTest.run("export", "--checkpoint", runA.toString(), "--out",
        st.toString()).code());
    Path pred = dir.resolve("pred-init.csv");
    CliTrainTest.Run r = CliTrainTest.run("predict", "--config", config.toString(),
        "--init-from", st.toString(), "--output", pred.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("predicted 60 rows"), r.out());
    assertNotEquals(0, Files.list(pred).count());
  }
}
