package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.TestData;
import java.io.DataOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to {@code convspark train}: each case exits with code 2 and one line on stderr
 * naming what was wrong, before any training, and leaves an existing run untouched.
 */
class CliBadInputTest {
  @TempDir static Path dir;
  static Path config;
  static Path[] train;

  @BeforeAll
  static void data() throws Exception {
    train = TestData.writeIdx(dir, "train", 200, 1);
    Path[] test = TestData.writeIdx(dir, "test", 50, 2);
    config = dir.resolve("ok.conf");
    Files.writeString(config, TestData.config(train[0], train[1], test[0], test[1]));
  }

  static String fails(String... set) {
    List<String> a = new ArrayList<>(List.of("train", "--config", config.toString(), "--out",
        dir.resolve("out-" + System.nanoTime()).toString()));
    for (String s : set) {
      a.add("--set");
      a.add(s);
    }
    CliTrainTest.Run r = CliTrainTest.run(a.toArray(new String[0]));
    assertEquals(2, r.code(), "exit code; stderr: " + r.err() + " stdout: " + r.out());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), "one line: " + err);
    assertTrue(err.startsWith("convspark: error: "), err);
    return err;
  }

  static Path write(String name, byte[] bytes) throws Exception {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  @Test
  void missingFile() {
    String e = fails("data.train.images=" + dir.resolve("nope.gz"));
    assertTrue(e.contains("nope.gz") && e.contains("no such file"), e);
  }

  @Test
  void setValueIsNotCutAtWhatHoconReadsAsAComment() {
    // "//" and "#" start HOCON comments: the path must be read whole, not as the directory
    String e = fails("data.train.images=" + dir + "//nope.gz#v2");
    assertTrue(e.contains("nope.gz#v2") && e.contains("no such file"), e);
  }

  @Test
  void truncatedIdx() throws Exception {
    byte[] all = Files.readAllBytes(train[0]);
    // an uncompressed IDX header for 200 images of 12x12, with only 1000 pixel bytes
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(b);
    o.writeInt(0x803);
    o.writeInt(200);
    o.writeInt(12);
    o.writeInt(12);
    o.write(new byte[1000]);
    Path p = write("trunc.idx", b.toByteArray());
    String e = fails("data.train.images=" + p);
    assertTrue(e.contains("trunc.idx") && e.contains("truncated"), e);
    assertTrue(all.length > 0);
  }

  @Test
  void wrongMagic() throws Exception {
    Path p = write("magic.idx", new byte[] {0, 0, 9, 9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 5});
    String e = fails("data.train.images=" + p);
    assertTrue(e.contains("magic.idx") && e.contains("magic"), e);
  }

  @Test
  void labelOutsideTheClasses() throws Exception {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(b);
    o.writeInt(0x801);
    o.writeInt(200);
    byte[] labels = new byte[200];
    labels[17] = 7;
    o.write(labels);
    Path p = write("labels7.idx", b.toByteArray());
    String e = fails("data.train.labels=" + p);
    assertTrue(e.contains("labels7.idx") && e.contains("7"), e);
  }

  @Test
  void imagesOfTheWrongSizeForTheModel() {
    String e = fails("model.input.height=14", "model.input.width=14");
    assertTrue(e.contains("1x12x12") && e.contains("1x14x14") && e.contains("model.input"), e);
  }

  @Test
  void nanFeatures() throws Exception {
    StringBuilder csv = new StringBuilder();
    for (int i = 0; i < 20; i++) {
      csv.append(i % 4);
      for (int p = 0; p < 144; p++) {
        csv.append(',').append(i == 5 && p == 3 ? "NaN" : "1");
      }
      csv.append('\n');
    }
    Path p = write("nan.csv", csv.toString().getBytes());
    String e = fails(TestData.noIdx("data.format=csv", "data.train.path=" + p,
        "data.test.path=" + p));
    assertTrue(e.contains("nan.csv") && e.contains("NaN"), e);
  }

  @Test
  void emptyDataSet() throws Exception {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(b);
    o.writeInt(0x803);
    o.writeInt(0);
    o.writeInt(12);
    o.writeInt(12);
    Path p = write("empty.idx", b.toByteArray());
    String e = fails("data.train.images=" + p);
    assertTrue(e.contains("empty.idx"), e);
  }

  @Test
  void globalBatchNotDivisibleByTheWorkers() {
    String e = fails("train.global-batch=33");
    assertTrue(e.contains("train.global-batch") && e.contains("33") && e.contains("2 workers"),
        e);
  }

  @Test
  void unknownConfigKey() {
    String e = fails("train.epoch=3");
    assertTrue(e.contains("unknown config key 'train.epoch'"), e);
  }

  @Test
  void eraseOutsideItsRanges() {
    String e = fails("train.augment.erase.probability=1.5");
    assertTrue(e.contains("train.augment.erase.probability") && e.contains("[0, 1]"), e);
    e = fails("train.augment.erase.min-area=0.5", "train.augment.erase.max-area=0.2");
    assertTrue(e.contains("min-area <= max-area"), e);
    e = fails("train.augment.erase.max-aspect=0.5");
    assertTrue(e.contains("train.augment.erase.max-aspect") && e.contains(">= 1"), e);
  }

  @Test
  void negativeRingRoundSteps() {
    String e = fails("train.engine=ring", "train.ring.round-steps=-1");
    assertTrue(e.contains("train.ring.round-steps") && e.contains("-1"), e);
    e = fails("train.ring.round-steps=often");
    assertTrue(e.contains("train.ring.round-steps") && e.contains("often"), e);
    e = fails("train.ring.shard-update=maybe");
    assertTrue(e.contains("train.ring.shard-update") && e.contains("maybe"), e);
    e = fails("train.ring.start-timeout-seconds=0");
    assertTrue(e.contains("train.ring.start-timeout-seconds") && e.contains("0"), e);
    e = fails("train.ring.encryption=aes");
    assertTrue(e.contains("train.ring.encryption") && e.contains("aes"), e);
    e = fails("train.ring.spin-micros=-5");
    assertEquals("convspark: error: config key train.ring.spin-micros: expected an integer in "
        + "[0, 1000000], found -5", e);
    e = fails("train.ring.spin-micros=2000000");
    assertTrue(e.contains("train.ring.spin-micros") && e.contains("2000000"), e);
    e = fails("train.ring.keep-state=sometimes");
    assertTrue(e.contains("train.ring.keep-state") && e.contains("sometimes"), e);
    e = fails("train.ring.keep-links=maybe");
    assertTrue(e.contains("train.ring.keep-links") && e.contains("maybe"), e);
  }

  @Test
  void ringWithMorePartitionsThanTaskSlotsFailsAtOnce() {
    // Spark itself would wait up to 40 x 15 s for slots that a local master never gets
    long t0 = System.nanoTime();
    String e = fails("train.engine=ring", "train.workers=4", "spark.master=\"local[2]\"");
    assertTrue(e.contains("train.workers") && e.contains("4 partitions")
        && e.contains("Spark has only 2 task slots in local[2] (cores"), e);
    assertTrue((System.nanoTime() - t0) / 1e9 < 60, "failed fast");
  }

  @Test
  void ringWithDynamicAllocationIsRefusedAtOnce() {
    String e = fails("train.engine=ring",
        "spark.conf.\"spark.dynamicAllocation.enabled\"=true");
    assertTrue(e.contains("train.engine = ring") && e.contains("spark.dynamicAllocation.enabled"),
        e);
  }

  @Test
  void fractionalIntegersAreNotTruncated() throws Exception {
    String e = fails("train.epochs=1.5");
    assertEquals("convspark: error: config key train.epochs: expected an integer, found 1.5", e);
    e = fails("train.global-batch=\"32.5\"");
    assertTrue(e.contains("train.global-batch") && e.contains("32.5"), e);
    Path bad = dir.resolve("fractional-kernel.conf");
    Files.writeString(bad, Files.readString(config).replace("kernel = 3", "kernel = 2.5"));
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", bad.toString(), "--out",
        dir.resolve("out-fractional-kernel").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("model.layers[0] (conv)") && r.err().contains("'kernel'")
        && r.err().contains("2.5"), r.err());
  }

  @Test
  void translationThatBlanksTheImage() {
    String e = fails("train.augment.translate=12");
    assertTrue(e.contains("train.augment.translate") && e.contains("at most 11")
        && e.contains("12 x 12"), e);
  }

  @Test
  void ringTimeoutBeyondAnIntOfMilliseconds() {
    String e = fails("train.engine=ring", "train.ring.timeout-seconds=3000000");
    assertTrue(e.contains("train.ring.timeout-seconds") && e.contains("2147483"), e);
  }

  @Test
  void executorWaitThatIsNotAPositiveNumberOfSeconds() {
    String e = fails("spark.executor-wait-seconds=0");
    assertTrue(e.contains("config key spark.executor-wait-seconds: expected a positive integer"),
        e);
    e = fails("spark.executor-wait-seconds=3000000");
    assertTrue(e.contains("spark.executor-wait-seconds") && e.contains("2147483"), e);
  }

  @Test
  void modelTooLargeForAnArrayIsNamedBeforeSparkStarts() throws Exception {
    Path bad = dir.resolve("huge-model.conf");
    Files.writeString(bad, Files.readString(config).replace("{ type = dense, units = 4 }",
        "{ type = dense, units = 20000000 }, { type = dense, units = 4 }"));
    Path out = dir.resolve("out-huge-model");
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", bad.toString(), "--out",
        out.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("model.layers[6] (dense)") && r.err().contains("too large"),
        r.err());
    assertTrue(!Files.exists(out), "--out untouched");
  }

  @Test
  void initFromWithResumeIsRefused() {
    List<String> a = List.of("train", "--config", config.toString(), "--out",
        dir.resolve("out-resume-init").toString(), "--resume", "--init-from",
        dir.resolve("weights.safetensors").toString());
    CliTrainTest.Run r = CliTrainTest.run(a.toArray(new String[0]));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--init-from") && r.err().contains("--resume"), r.err());
  }

  @Test
  void negativeLearningRateAndZeroBatch() {
    assertTrue(fails("train.base-lr=-0.1").contains("train.base-lr"));
    assertTrue(fails("train.global-batch=0").contains("train.global-batch"));
  }

  @Test
  void globalBatchLargerThanTheTrainingSplit() {
    // 200 samples less the 0.2 validation split: 160 to train on
    String e = fails("train.global-batch=256");
    assertTrue(e.contains("config key train.global-batch") && e.contains("160 training samples")
        && e.contains("found 256"), e);
  }

  @Test
  void cosineMinLrAboveThePeakRate() {
    // the config's cosine schedule peaks at 0.05 (base-lr 0.05, global batch = base batch)
    String e = fails("train.min-lr=0.3");
    assertTrue(e.contains("config key train.min-lr") && e.contains("peak learning rate 0.05")
        && e.contains("found 0.3"), e);
  }

  @Test
  void badModelLayer() throws Exception {
    Path bad = dir.resolve("bad-model.conf");
    Files.writeString(bad, Files.readString(config).replace("kernel = 3", "kernel = -3"));
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", bad.toString(), "--out",
        dir.resolve("out-bad-model").toString());
    assertEquals(2, r.code());
    String e = r.err().strip();
    assertTrue(e.contains("model.layers[0] (conv)") && e.contains("'kernel'"), e);
  }

  @Test
  void existingOutputIsNotOverwrittenSilently() throws Exception {
    Path out = dir.resolve("existing");
    Files.createDirectories(out.resolve("checkpoints"));
    Path ck = Files.writeString(out.resolve("checkpoints/ckpt-000000000001.bin"), "precious");
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", config.toString(), "--out",
        out.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--overwrite"), r.err());
    // bad data with --overwrite: the old run must survive, as data is checked first
    r = CliTrainTest.run("train", "--config", config.toString(), "--out", out.toString(),
        "--overwrite", "--set", "data.train.images=" + dir.resolve("missing"));
    assertEquals(2, r.code());
    assertArrayEquals("precious".getBytes(), Files.readAllBytes(ck));
  }

  @Test
  void overwriteRefusesADirectoryThatHoldsMoreThanARun() throws Exception {
    // the data and the config of the run itself, beside an earlier run's files
    Path out = dir.resolve("project");
    Files.createDirectories(out.resolve("checkpoints"));
    Path data = Files.copy(train[0], out.resolve("train-images.gz"));
    Path conf = Files.copy(config, out.resolve("my.conf"));
    Files.writeString(out.resolve("summary.json"), "{}");
    byte[] before = Files.readAllBytes(data);
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", conf.toString(), "--out",
        out.toString(), "--overwrite", "--set", "train.epochs=1");
    assertEquals(2, r.code(), r.err());
    String e = r.err().strip();
    assertTrue(e.contains("--overwrite") && e.contains("my.conf") && !e.contains("\n"), e);
    assertArrayEquals(before, Files.readAllBytes(data));
    assertTrue(Files.exists(conf) && Files.exists(out.resolve("summary.json")));
    try (java.util.stream.Stream<Path> s = Files.list(out)) {
      // left as it was found: nothing set aside, no lock file either
      assertEquals(List.of("checkpoints", "my.conf", "summary.json", "train-images.gz"),
          s.map(p -> p.getFileName().toString()).sorted().toList());
    }
    // an empty --out is the current directory: refused, not replaced
    r = CliTrainTest.run("train", "--config", config.toString(), "--out", "", "--overwrite");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().strip().startsWith("convspark: error: --out: empty"), r.err());
    // --resume and --overwrite contradict each other
    r = CliTrainTest.run("train", "--config", config.toString(), "--out", out.toString(),
        "--resume", "--overwrite");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--resume with --overwrite"), r.err());
  }

  @Test
  void normalisationValuesTheModeWouldIgnore() {
    String e = fails("data.normalize.mean=[0.5]");
    assertTrue(e.contains("config key data.normalize.mean: set, but data.normalize.mode = auto "
        + "does not use it"), e);
    e = fails("data.normalize.mode=none", "data.normalize.std=[0.2]");
    assertTrue(e.contains("config key data.normalize.std") && e.contains("mode = none"), e);
  }

  @Test
  void everyCommandPrintsItsVersion() {
    for (String command : new String[] {"train", "evaluate", "predict", "export"}) {
      CliTrainTest.Run r = CliTrainTest.run(command, "--version");
      assertEquals(0, r.code(), r.err());
      assertEquals(Main.VERSION, r.out().strip(), command + " --version");
    }
  }

  @Test
  void aMissingCheckpointOrModelSaysErrorOnce() {
    // picocli's message for a missing group of options starts with its own "Error: "
    for (String[] extra : new String[][] {{"evaluate"},
        {"predict", "--output", dir.resolve("out-missing.csv").toString()}}) {
      String command = extra[0];
      String[] args = java.util.stream.Stream.concat(java.util.stream.Stream.of(command,
          "--config", config.toString()), java.util.Arrays.stream(extra).skip(1))
          .toArray(String[]::new);
      CliTrainTest.Run r = CliTrainTest.run(args);
      assertEquals(2, r.code(), r.err());
      assertEquals("convspark: error: Missing required argument (specify one of these): "
          + "(--checkpoint=FILE|RUN_DIR | --init-from=FILE)", r.err().strip(), command);
    }
  }

  /**
   * A mistyped command or option names what was probably meant, in the one line (picocli
   * printed its "Did you mean" on lines of its own, which the one-line error dropped), and a
   * first word that is no command is named with the commands, not as "unmatched arguments".
   */
  @Test
  void aMistypedCommandOrOptionNamesWhatWasMeant() {
    String[][] cases = {
      {"trian", "--config", "x.conf"},
      {"predcit"},
      {"xyz"},
      {"train", "--config", "x.conf", "--out", "o", "--resum"},
      {"start"},
    };
    String[] expected = {
      "convspark: error: unknown command 'trian': expected train, evaluate, predict, export or "
          + "config (did you mean train?)",
      "convspark: error: unknown command 'predcit': expected train, evaluate, predict, export or "
          + "config (did you mean predict?)",
      "convspark: error: unknown command 'xyz': expected train, evaluate, predict, export or "
          + "config",
      "convspark: error: Unknown option: '--resum' (did you mean --resume?)",
      // picocli would suggest export (two letters in common): no near miss, no suggestion
      "convspark: error: unknown command 'start': expected train, evaluate, predict, export or "
          + "config",
    };
    for (int i = 0; i < cases.length; i++) {
      CliTrainTest.Run r = CliTrainTest.run(cases[i]);
      assertEquals(2, r.code(), r.err());
      assertEquals(expected[i], r.err().strip(), String.join(" ", cases[i]));
    }
  }

  /**
   * In a fresh JVM (where the BLAS is not loaded yet, as for a user) an unknown choice is the one
   * line of the error: checking the choice loaded the library, whose own warning about the
   * choice came first.
   */
  @Test
  void anUnknownBlasChoiceIsOneLineInAFreshJvm() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    Process p = new ProcessBuilder(java, "-Dconvspark.blas=bogus", "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "train", "--config",
        config.toString(), "--out", dir.resolve("out-blas-fresh").toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not end: " + err);
    assertEquals(2, p.exitValue(), err);
    assertEquals("convspark: error: convspark.blas / CONVSPARK_BLAS = 'bogus': expected one "
        + "of [bundled, system, java]\n", err);
    assertTrue(Files.notExists(dir.resolve("out-blas-fresh")), "no run directory was made");
  }

  @Test
  void anUnknownBlasChoiceIsBadInput() {
    String before = System.getProperty("convspark.blas");
    System.setProperty("convspark.blas", "bogus");
    try {
      CliTrainTest.Run r = CliTrainTest.run("train", "--config", config.toString(), "--out",
          dir.resolve("out-blas").toString());
      assertEquals(2, r.code(), r.err());
      assertEquals("convspark: error: convspark.blas / CONVSPARK_BLAS = 'bogus': expected one "
          + "of [bundled, system, java]", r.err().strip());
    } finally {
      if (before == null) {
        System.clearProperty("convspark.blas");
      } else {
        System.setProperty("convspark.blas", before);
      }
    }
  }

  @Test
  void corruptedGzip() throws Exception {
    byte[] gz = Files.readAllBytes(train[0]);
    for (int i = gz.length / 3; i < gz.length / 3 + 40; i++) {
      gz[i] ^= 0x5a;
    }
    Path p = write("corrupt.idx.gz", gz);
    String e = fails("data.train.images=" + p);
    assertTrue(e.contains("corrupt.idx.gz"), e);
  }

  @Test
  void headerClaimingABillionImages() throws Exception {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(b);
    o.writeInt(0x803);
    o.writeInt(1_000_000_000);
    o.writeInt(12);
    o.writeInt(12);
    o.write(new byte[144]);
    Path p = write("billion.idx", b.toByteArray());
    long t0 = System.nanoTime();
    String e = fails("data.train.images=" + p);
    assertTrue(e.contains("billion.idx"), e);
    assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "rejected without reading or allocating");
  }

  static String csv(String bad, int badRow, int badCol) {
    StringBuilder csv = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      csv.append(i == badRow && badCol == 0 ? bad : String.valueOf(i % 4));
      for (int p = 1; p <= 144; p++) {
        csv.append(',').append(i == badRow && p == badCol ? bad : "3");
      }
      csv.append('\n');
    }
    return csv.toString();
  }

  @Test
  void csvWithANonNumericPixel() throws Exception {
    Path p = write("text.csv", csv("abc", 4, 17).getBytes());
    String e = fails(TestData.noIdx("data.format=csv", "data.train.path=" + p,
        "data.test.path=" + p));
    assertTrue(e.contains("text.csv") && e.contains("abc"), e);
  }

  @Test
  void negativeLabels() throws Exception {
    Path p = write("neg.csv", csv("-2", 6, 0).getBytes());
    String e = fails(TestData.noIdx("data.format=csv", "data.train.path=" + p,
        "data.test.path=" + p));
    assertTrue(e.contains("neg.csv") && e.contains("-2"), e);
  }

  @Test
  void csvLabelBeyondTheClassesIsNamedByItsLine() throws Exception {
    // a header and a blank line: the bad label (row 6, the model has 4 classes) is on line 9,
    // where an editor finds it, not "sample 6"
    String rows = csv("4", 6, 0);
    int third = rows.indexOf('\n', rows.indexOf('\n', rows.indexOf('\n') + 1) + 1);
    String text = "label,pixels\n" + rows.substring(0, third + 1) + "\n"
        + rows.substring(third + 1);
    Path p = write("classes.csv", text.getBytes());
    String e = fails(TestData.noIdx("data.format=csv", "data.train.path=" + p,
        "data.test.path=" + p, "data.csv.header=true"));
    assertTrue(e.contains("classes.csv:9: label 4 is outside [0, 4) (the model has 4 classes)"),
        e);
  }

  @Test
  void csvHeaderFlagOnAFileWithoutAHeader() throws Exception {
    // the flag would drop the first sample: named, not skipped
    Path p = write("noheader.csv", csv("3", 0, 0).getBytes());
    String e = fails(TestData.noIdx("data.format=csv", "data.train.path=" + p,
        "data.test.path=" + p, "data.csv.header=true"));
    assertTrue(e.contains("noheader.csv:1") && e.contains("data.csv.header")
        && e.contains("looks like data"), e);
  }

  @Test
  void keysTheChosenModeDoesNotReadAreRefused() {
    // the config: idx, sgd with nesterov, cosine, validation-fraction 0.2
    assertEquals("convspark: error: config key train.optimizer.weight-decay: set to 0.01, but "
        + "train.optimizer.type = sgd does not use it (only adam reads it, as AdamW's decoupled "
        + "decay; with sgd, train.l2 = d / 2 is PyTorch's weight_decay = d); set "
        + "train.optimizer.type = adam, or remove it",
        fails("train.optimizer.weight-decay=0.01"));
    assertEquals("convspark: error: config key train.step-gamma: set to 0.5, but train.schedule "
        + "= cosine does not use it (only step decays by it); set train.schedule = step, or "
        + "remove it", fails("train.step-gamma=0.5"));
    assertEquals("convspark: error: config key data.train.path: set, but data.format = idx does "
        + "not use it (idx reads data.train.images and data.train.labels); set data.format = csv "
        + "or dataframe, or remove it", fails("data.train.path=" + train[0]));
    assertTrue(fails("data.validation.images=" + train[0], "data.validation.labels=" + train[1])
        .startsWith("convspark: error: config keys data.validation-fraction and "
            + "data.validation.images and labels: data.validation-fraction is set to 0.2, but"));
  }
}
