package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.io.Checkpoint;
import convspark.driver.CliRunner;
import convspark.driver.TestData;
import convspark.driver.metrics.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end runs of {@code convspark train} in local[2] on generated data (see {@link
 * TestData}): accuracy, outputs, resume, early stopping, determinism, divergence.
 */
class CliTrainTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "test.conf", 1600, 400);
  }

  /** The shared runner, under the name these tests use. */
  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    CliRunner.Run r = CliRunner.run(args);
    return new Run(r.code(), r.out(), r.err());
  }

  static Run train(Path out, String... extra) {
    return train(config, out, extra);
  }

  /** {@code train --config conf --out out extra...}. */
  static Run train(Path conf, Path out, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--config", conf.toString(), "--out",
        out.toString()));
    a.addAll(List.of(extra));
    return run(a.toArray(new String[0]));
  }

  static JsonNode summary(Path out) throws Exception {
    return Json.MAPPER.readTree(out.resolve("summary.json").toFile());
  }

  static Checkpoint ckpt(Path p) throws Exception {
    return Checkpoint.fromBytes(Files.readAllBytes(p), p.toString());
  }

  @Test
  void trainsGeneratedDataToHighAccuracyAndWritesItsOutputs() throws Exception {
    Path out = dir.resolve("run-acc");
    Run r = train(out);
    assertEquals(0, r.code(), r.err());
    JsonNode s = summary(out);
    assertTrue(s.get("best_val").get("accuracy").asDouble() >= 0.9, s.toString());
    assertTrue(s.get("test").get("accuracy").asDouble() >= 0.9, s.toString());
    assertEquals(4, s.get("epochs_run").asInt());
    assertEquals(32, s.get("global_batch").asInt());
    assertEquals(0.05, s.get("scaled_lr").asDouble(), 1e-12);
    assertEquals(7, s.get("seed").asInt());
    assertTrue(s.get("blas").asText().length() > 0);
    assertTrue(s.get("train_images_per_second").asDouble() > 0);
    assertEquals(4, s.get("config").get("train").get("epochs").asInt());
    List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
    assertEquals(4, lines.size());
    for (String line : lines) {
      // the step-time breakdown: every part measured, none negative, together within the
      // epoch's wall time (the parts are disjoint spans of it; 1% slack for clock rounding)
      JsonNode m = Json.MAPPER.readTree(line);
      double parts = 0;
      for (String k : List.of("compute", "broadcast", "fetch", "launch", "taskOther", "straggler",
          "result", "merge", "update")) {
        double v = m.get(k + "Seconds").asDouble(Double.NaN);
        assertTrue(v >= 0, k + "Seconds = " + v + " in " + line);
        parts += v;
      }
      assertTrue(m.get("computeSeconds").asDouble() > 0, line);
      assertTrue(m.get("launchSeconds").asDouble() > 0, line);
      assertTrue(parts <= m.get("trainSeconds").asDouble() * 1.01, parts + " > train in " + line);
    }
    assertTrue(Files.size(out.resolve("training.png")) > 1000);
    assertTrue(Files.exists(out.resolve("checkpoints/final.bin")));
    assertTrue(r.out().contains("test accuracy"), r.out());
    // keep-last = 3 of the 4 epoch checkpoints
    try (var files = Files.list(out.resolve("checkpoints"))) {
      assertEquals(3, files.filter(p -> p.getFileName().toString().startsWith("ckpt-")).count());
    }
  }

  @Test
  void linearScalingAndWarmupFollowTheGlobalBatch() throws Exception {
    // k = 128 / 32 = 4: linear scaling takes 0.05 to 0.2, reached by warmup over 2 epochs
    Path out = dir.resolve("run-scale");
    Run r = train(out, "--set", "train.global-batch=128", "--set", "train.epochs=3",
        "--set", "train.base-batch=32", "--set", "train.base-lr=0.05", "--set",
        "train.scaling=linear", "--set", "train.warmup-epochs=2", "--set",
        "train.schedule=constant");
    assertEquals(0, r.code(), r.err());
    JsonNode s = summary(out);
    assertEquals(4.0, s.get("k").asDouble(), 1e-12);
    assertEquals(0.2, s.get("scaled_lr").asDouble(), 1e-12);
    assertTrue(r.out().contains("k = 4.00, scaling linear -> 0.2000, warmup 2.00 epochs"),
        r.out());
    // each epoch's line records the rate of its last step: 0.05 + 0.15 * (epochs done) / 2
    // during warmup, then 0.2
    long spe = s.get("steps").asLong() / 3;
    List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
    assertEquals(3, lines.size());
    for (int e = 0; e < 3; e++) {
      double done = e + 1 - 1.0 / spe;
      double expected = done < 2 ? 0.05 + 0.15 * done / 2 : 0.2;
      assertEquals(expected, Json.MAPPER.readTree(lines.get(e)).get("lr").asDouble(), 1e-9,
          "epoch " + (e + 1));
    }
  }

  /**
   * A warmup longer than the run: allowed (a smoke run with --set train.epochs=1 on a config
   * that warms up over 2 epochs is a use), but said in one line naming both keys, with the rate
   * the run ends at; a warmup as long as the run, or one that changes nothing, says nothing.
   */
  @Test
  void aWarmupLongerThanTheRunIsAWarningNamingBothKeysAndTheRateReached() throws Exception {
    // k = 4: warmup from 0.05 to 0.2 over 2 epochs; 10 steps per epoch, the last at 0.9 epochs
    String[] conf = {"--set", "train.global-batch=128", "--set", "train.epochs=1", "--set",
        "train.schedule=cosine"};
    Run r = train(dir.resolve("run-warmup-long"), concat(conf, "--set",
        "train.warmup-epochs=2"));
    assertEquals(0, r.code(), r.err());
    List<String> said = r.out().lines().filter(l -> l.contains("train.warmup-epochs")).toList();
    assertEquals(List.of("convspark: WARNING: train.warmup-epochs = 2 is more than train.epochs "
        + "= 1: the run ends during warmup, its learning rate rising only to 0.1175 of the "
        + "scaled 0.2000, and train.schedule = cosine never starts; set train.warmup-epochs to "
        + "at most train.epochs for the schedule it describes"), said);
    assertEquals(0.1175, Json.MAPPER.readTree(Files.readAllLines(dir.resolve("run-warmup-long")
        .resolve("metrics.jsonl")).get(0)).get("lr").asDouble(), 1e-9);
    r = train(dir.resolve("run-warmup-as-long"), concat(conf, "--set",
        "train.warmup-epochs=1"));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("WARNING"), r.out());
    // k = 1 and a constant rate: warmup holds the rate it ends at, nothing to say
    r = train(dir.resolve("run-warmup-flat"), "--set", "train.epochs=1", "--set",
        "train.schedule=constant", "--set", "train.warmup-epochs=3");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("WARNING"), r.out());
  }

  @Test
  void resumedRunEndsWithTheSameParametersAsAnUninterruptedOne() throws Exception {
    Path a = dir.resolve("run-whole");
    assertEquals(0, train(a, "--set", "train.epochs=3").code());
    Path b = dir.resolve("run-split");
    Run first = train(b, "--set", "train.epochs=3", "--stop-after", "1");
    assertEquals(0, first.code(), first.err());
    // a partial run says so, on the console and in its summary
    assertTrue(first.out().contains("convspark: paused after epoch 1 of 3, as asked; --resume "
        + "continues the run"), first.out());
    assertEquals("paused", summary(b).get("ended").asText());
    assertEquals("completed", summary(a).get("ended").asText());
    Run second = train(b, "--set", "train.epochs=3", "--resume");
    assertEquals(0, second.code(), second.err());
    assertEquals("completed", summary(b).get("ended").asText());
    assertFalse(second.out().contains("paused after"), second.out());
    assertTrue(second.out().contains("resumed from"), second.out());
    Checkpoint ca = ckpt(a.resolve("checkpoints/final.bin"));
    Checkpoint cb = ckpt(b.resolve("checkpoints/final.bin"));
    assertArrayEquals(ca.params(), cb.params());
    assertArrayEquals(ca.state(), cb.state());
    assertArrayEquals(ca.optimizerState()[0], cb.optimizerState()[0]);
    assertEquals(3, Files.readAllLines(b.resolve("metrics.jsonl")).size());
    // the same seed gives the same final metrics
    assertEquals(summary(a).get("test").get("accuracy").asDouble(),
        summary(b).get("test").get("accuracy").asDouble());
    assertEquals(summary(a).get("test").get("loss").asDouble(),
        summary(b).get("test").get("loss").asDouble());
    assertFalse(second.out().contains("no epoch left"), second.out());
    // a finished run resumed again: nothing to train, and it says so
    Run again = train(b, "--set", "train.epochs=3", "--resume");
    assertEquals(0, again.code(), again.err());
    assertTrue(again.out().contains("the checkpoint is at epoch 3 and train.epochs = 3: no epoch "
        + "left to train"), again.out());
    assertArrayEquals(cb.params(), ckpt(b.resolve("checkpoints/final.bin")).params());
  }

  @Test
  void resumeWithAnotherOptimizerOrBatchIsNamedAndKeepsTheRun() throws Exception {
    Path out = dir.resolve("run-resume-changed");
    assertEquals(0, train(out, "--set", "train.epochs=3", "--stop-after", "1").code());
    Path ckpt = out.resolve("checkpoints/ckpt-000000000040.bin");
    byte[] before = Files.readAllBytes(ckpt);
    // nesterov, which adam does not read, back to its default
    Run r = train(out, "--set", "train.epochs=3", "--resume", "--set",
        "train.optimizer.type=adam", "--set", "train.optimizer.nesterov=false");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("train.optimizer.type") && r.err().contains("adam"), r.err());
    r = train(out, "--set", "train.epochs=3", "--resume", "--set", "train.optimizer.momentum=0",
        "--set", "train.optimizer.nesterov=false");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("train.optimizer") && r.err().contains("momentum"), r.err());
    r = train(out, "--set", "train.epochs=3", "--resume", "--set", "train.global-batch=16");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("global batch 32") && r.err().contains("gives 16")
        && r.err().contains("train.global-batch"), r.err());
    // one worker with the whole batch has as many steps per epoch (40), but other partitions,
    // shuffles and batch statistics: not the same run
    r = train(out, "--set", "train.epochs=3", "--resume", "--set", "train.workers=1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("trained on 2 workers, this run has 1")
        && r.err().contains("set train.workers = 2"), r.err());
    // other labels for the same images: every other check passes, and it would train on them
    Path[] other = TestData.writeIdx(dir, "relabelled", 1600, 5);
    r = train(out, "--set", "train.epochs=3", "--resume", "--set",
        "data.train.labels=" + other[1]);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("other training data than config keys data.train.*")
        && r.err().contains("CRC-32C"), r.err());
    // fewer samples
    Path[] fewer = TestData.writeIdx(dir, "fewer", 1500, 1);
    r = train(out, "--set", "train.epochs=3", "--resume", "--set",
        "data.train.images=" + fewer[0], "--set", "data.train.labels=" + fewer[1]);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("was trained on 1280 training samples") && r.err()
        .contains("has 1200"), r.err());
    // another validation split of the same data: the key that moved the samples is named
    r = train(out, "--set", "train.epochs=3", "--resume", "--set",
        "data.validation-fraction=0.1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("was trained on 1280 training samples") && r.err()
        .contains("data.validation-fraction") && r.err().contains("has 1440"), r.err());
    // another model whose tensors would still fit: the refusal names the first layer that differs
    Path avg = dir.resolve("avgpool.conf");
    Files.writeString(avg, Files.readString(config).replace("type = maxpool", "type = avgpool"));
    r = train(avg, out, "--set", "train.epochs=3", "--resume");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("was trained with a different model than config key model "
        + "describes (model.layers[3] is {\"kernel\":2,\"padding\":0,\"stride\":2,"
        + "\"type\":\"maxpool\"} in the checkpoint, {\"kernel\":2,\"stride\":2,\"type\":"
        + "\"avgpool\"} in the config)"),
        r.err());
    assertArrayEquals(before, Files.readAllBytes(ckpt), "the checkpoint is untouched");
    // a new rate or label smoothing is allowed (fine-tuning), and said key by key; checkpoint,
    // logging and epochs settings are not changes of the computation
    r = train(out, "--set", "train.epochs=4", "--resume", "--stop-after", "1", "--set",
        "train.base-lr=0.08", "--set", "train.label-smoothing=0.2", "--set",
        "train.log-every-steps=7");
    assertEquals(0, r.code(), r.err());
    List<String> said = r.out().lines().filter(l -> l.contains("settings changed")).toList();
    assertEquals(1, said.size(), r.out());
    assertTrue(said.get(0).endsWith("the run goes on with the new ones: train.base-lr "
        + "0.05 -> 0.08, train.label-smoothing 0.1 -> 0.2"), said.get(0));
    r = train(out, "--set", "train.epochs=4", "--resume", "--set", "train.base-lr=0.08",
        "--set", "train.label-smoothing=0.2");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("settings changed"), r.out());
  }

  @Test
  void aResumeOnOtherValidationDataSaysTheBestEpochWasMeasuredOnTheOld() throws Exception {
    Path[] a = TestData.writeIdx(dir, "val-a", 200, 11);
    Path[] b = TestData.writeIdx(dir, "val-b", 200, 12);
    Path out = dir.resolve("run-resume-validation");
    String[] onA = {"--set", "data.validation-fraction=0", "--set", "data.validation.images="
        + a[0], "--set", "data.validation.labels=" + a[1], "--set", "train.epochs=3"};
    Run r = train(out, cat(onA, "--stop-after", "1"));
    assertEquals(0, r.code(), r.err());
    r = train(out, cat(onA, "--resume", "--stop-after", "1"));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("validation data is not"), r.out());
    String[] onB = onA.clone();
    onB[3] = "data.validation.images=" + b[0];
    onB[5] = "data.validation.labels=" + b[1];
    r = train(out, cat(onB, "--resume"));
    assertEquals(0, r.code(), r.err());
    List<String> said = r.out().lines().filter(l -> l.contains("validation data is not"))
        .toList();
    assertEquals(1, said.size(), r.out());
    assertTrue(said.get(0).contains("(200 samples, CRC-32C ") && said.get(0).contains(
        "the best epoch ") && said.get(0).contains("was measured on the old data (config keys "
        + "data.validation.*)"), said.get(0));
  }

  private static String[] cat(String[] a, String... b) {
    String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  @Test
  void resumeWithAnotherSeedOrNormalisationIsNamedUnlessTheCheckpointPredatesThem()
      throws Exception {
    Path out = dir.resolve("run-resume-seed-norm");
    assertEquals(0, train(out, "--set", "train.epochs=2", "--stop-after", "1").code());
    Path ckpt = out.resolve("checkpoints/ckpt-000000000040.bin");
    byte[] before = Files.readAllBytes(ckpt);
    // another seed draws another validation split: trained samples would move into validation
    Run r = train(out, "--set", "train.epochs=2", "--resume", "--set", "train.seed=9");
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("seed 7") && r.err().contains("train.seed gives 9"), r.err());
    // the trained weights expect inputs normalised as the checkpoint records (auto: fitted on
    // the training split); none feeds them differently scaled inputs
    r = train(out, "--set", "train.epochs=2", "--resume", "--set", "data.normalize.mode=none");
    assertEquals(2, r.code(), r.err());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    String mean = ckpt(ckpt).meta().get("norm.mean");
    assertTrue(r.err().contains("data.normalize.* (mode none)") && r.err().contains("mean ["
        + mean + "]") && r.err().contains("mean [0.0], std [1.0]"), r.err());
    // auto fits again on what the same seed splits off, but at another scale
    r = train(out, "--set", "train.epochs=2", "--resume", "--set", "data.scale=1");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("data.normalize.* (mode auto)") && r.err().contains("scale 1.0,"),
        r.err());
    assertArrayEquals(before, Files.readAllBytes(ckpt), "the checkpoint is untouched");
    // a checkpoint of an older version records neither: nothing to compare, the run continues
    Checkpoint c = ckpt(ckpt);
    Map<String, String> meta = new LinkedHashMap<>(c.meta());
    List<String> newer = List.of("seed", "norm.scale", "norm.mean", "norm.std", "train-samples",
        "train-crc32c");
    assertTrue(meta.keySet().containsAll(newer), meta.toString());
    meta.keySet().removeAll(newer);
    Files.write(ckpt, new Checkpoint(c.modelSpec(), c.epoch(), c.step(), c.params(), c.state(),
        c.optimizer(), c.optimizerState(), c.optimizerSteps(), meta).toBytes());
    r = train(out, "--set", "train.epochs=2", "--resume", "--set", "train.seed=9", "--set",
        "data.normalize.mode=none");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("resumed from"), r.out());
  }

  @Test
  void earlyStoppingStopsAndRestoresTheBestWeights() throws Exception {
    Path out = dir.resolve("run-early");
    // min-delta 100: no later epoch can beat the first by that much
    Run r = train(out, "--set", "train.early-stopping.patience=2",
        "--set", "train.early-stopping.min-delta=100", "--set", "train.epochs=6");
    assertEquals(0, r.code(), r.err());
    JsonNode s = summary(out);
    assertEquals(3, s.get("epochs_run").asInt());
    assertEquals("early-stopped", s.get("ended").asText());
    assertEquals(1, s.get("best_val").get("epoch").asInt());
    assertTrue(r.out().contains("early stopping after epoch 3"), r.out());
    Checkpoint fin = ckpt(out.resolve("checkpoints/final.bin"));
    Checkpoint best = ckpt(out.resolve("checkpoints/best.bin"));
    assertArrayEquals(best.params(), fin.params());
    // final.bin names the epoch and step of the weights it holds, not the last epoch's
    assertEquals(1, fin.epoch());
    assertEquals(best.step(), fin.step());
    Checkpoint last = ckpt(out.resolve("checkpoints/ckpt-000000000120.bin"));
    assertFalse(Arrays.equals(last.params(), fin.params()));
  }

  /**
   * A run that early stopping ended, resumed with more epochs (as a scheduled job extending it
   * would): nothing is trained, and the line says why and what to change, instead of a resume
   * that silently does nothing; a longer patience trains on.
   */
  @Test
  void resumingAnEarlyStoppedRunSaysItStoppedEarlyInsteadOfTrainingNothingSilently()
      throws Exception {
    Path out = dir.resolve("run-early-resumed");
    String[] es = {"--set", "train.early-stopping.min-delta=100", "--set",
        "train.schedule=constant"};
    Run r = train(out, concat(es, "--set", "train.early-stopping.patience=2", "--set",
        "train.epochs=6"));
    assertEquals(0, r.code(), r.err());
    assertEquals(3, summary(out).get("epochs_run").asInt());
    byte[] last = Files.readAllBytes(out.resolve("checkpoints/ckpt-000000000120.bin"));
    r = train(out, concat(es, "--set", "train.early-stopping.patience=2", "--set",
        "train.epochs=10", "--set", "train.label-smoothing=0.05", "--resume"));
    assertEquals(0, r.code(), r.err());
    // a changed setting with nothing left to train: the warning does not say the run goes on
    // with it; summary.json (whose config is this invocation's) still records it
    assertTrue(r.out().contains("convspark: WARNING: --resume: settings changed since the "
        + "checkpoint was written, and no epoch is left to train (a line below says why): "
        + "train.label-smoothing 0.1 -> 0.05"), r.out());
    assertFalse(r.out().contains("the run goes on with the new ones"), r.out());
    assertTrue(summary(out).path("changed_on_resume").path(0).path("settings").toString()
        .contains("\"train.label-smoothing 0.1 -> 0.05\""), summary(out).toString());
    assertTrue(r.out().contains("convspark: WARNING: the checkpoint's early-stopping record: "
        + "val-loss has not improved for 2 epochs since its best epoch 1, and "
        + "train.early-stopping.patience = 2: no epoch left to train; the weights are tested and "
        + "the summary written again (raise train.early-stopping.patience, or set it to 0, to "
        + "train on)"), r.out());
    assertFalse(r.out().contains("epoch 4/10"), r.out());
    assertFalse(r.out().contains("no epoch left to train; the weights are tested and the summary "
        + "written again (raise train.epochs"), r.out());
    JsonNode s = summary(out);
    assertEquals("early-stopped", s.get("ended").asText());
    assertEquals(3, s.get("epochs_run").asInt());
    assertArrayEquals(last, Files.readAllBytes(out.resolve("checkpoints/ckpt-000000000120.bin")));
    // a longer patience continues the count where the run left it: one more epoch
    r = train(out, concat(es, "--set", "train.early-stopping.patience=3", "--set",
        "train.epochs=10", "--resume"));
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("early-stopping record"), r.out());
    assertTrue(r.out().contains("early stopping after epoch 4"), r.out());
    assertEquals(4, summary(out).get("epochs_run").asInt());
  }

  @Test
  void patienceWithoutValidationDataIsAWarningOfTheRun() throws Exception {
    // through the run's listener, which the Spark ML API's fit logs as well
    Path out = dir.resolve("run-patience-no-val");
    Run r = train(out, "--set", "train.early-stopping.patience=2",
        "--set", "data.validation-fraction=0", "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("convspark: WARNING: train.early-stopping.patience = 2 has no "
        + "effect: there is no validation data"), r.out());
    // nothing was validated: the tested weights are the last ones, not a "best" epoch's
    assertTrue(r.out().contains("last weights from epoch 1"), r.out());
    JsonNode s = summary(out);
    assertTrue(s.get("best_val").get("epoch").isNull(), s.toString());
    assertEquals(1, s.get("test").get("weights_epoch").asInt(), s.toString());
  }

  @Test
  void aResumeWithAnotherEpochCountUnderCosineSaysTheRateMoves() throws Exception {
    Path out = dir.resolve("run-cosine-epochs");
    Run r = train(out, "--set", "train.epochs=3", "--stop-after", "1");
    assertEquals(0, r.code(), r.err());
    r = train(out, "--set", "train.epochs=3", "--stop-after", "1", "--resume");
    assertEquals(0, r.code(), r.err());
    assertFalse(r.out().contains("the cosine schedule now decays"), r.out());
    assertEquals("[]", summary(out).get("changed_on_resume").toString());
    // cosine decays over train.epochs: 4 instead of 3 puts the resumed step on another curve
    r = train(out, "--set", "train.epochs=4", "--resume", "--stop-after", "1");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("convspark: WARNING: the checkpoint was trained with "
        + "train.epochs = 3, this run has 4: the cosine schedule now decays over 4 epochs"),
        r.out());
    // summary.json, whose config is the last invocation's, says what each resume changed, also
    // after later resumes that changed nothing or something else
    String extended = "{\"epoch\":2,\"settings\":[\"train.epochs 3 -> 4\"]}";
    assertEquals("[" + extended + "]", summary(out).get("changed_on_resume").toString());
    r = train(out, "--set", "train.epochs=4", "--resume", "--set", "train.base-lr=0.08");
    assertEquals(0, r.code(), r.err());
    assertEquals("completed", summary(out).get("ended").asText());
    assertEquals("[" + extended + ",{\"epoch\":3,\"settings\":[\"train.base-lr 0.05 -> "
        + "0.08\"]}]", summary(out).get("changed_on_resume").toString());
  }

  @Test
  void bestWeightsAreSavedOnEveryImprovementAndFoundOnResume() throws Exception {
    Path out = dir.resolve("run-best-between-checkpoints");
    // min-delta 100: only the first epoch is the best; periodic checkpoints at epoch 2 only
    String[] conf = {"--set", "train.early-stopping.min-delta=100", "--set",
        "train.checkpoint.every-epochs=2", "--set", "train.epochs=3"};
    Run r = train(out, concat(conf, "--stop-after", "2"));
    assertEquals(0, r.code(), r.err());
    Checkpoint best = ckpt(out.resolve("checkpoints/best.bin"));
    assertEquals(1, best.epoch(), "best.bin holds the best epoch, not a checkpoint epoch");
    r = train(out, concat(conf, "--resume"));
    assertEquals(0, r.code(), r.err());
    JsonNode s = summary(out);
    assertEquals(1, s.get("best_val").get("epoch").asInt());
    assertEquals(1, s.get("test").get("weights_epoch").asInt(), s.toString());
    assertArrayEquals(best.params(), ckpt(out.resolve("checkpoints/final.bin")).params(),
        "the resumed run restores the best weights");
    assertTrue(r.out().contains("best weights from epoch 1"), r.out());
  }

  static String[] concat(String[] a, String... b) {
    String[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  @Test
  void divergenceStopsWithExitCode3AndKeepsTheLastGoodCheckpoint() throws Exception {
    Path out = dir.resolve("run-diverge");
    assertEquals(0, train(out, "--set", "train.epochs=2", "--stop-after", "1").code());
    Path good = out.resolve("checkpoints/ckpt-000000000040.bin");
    byte[] before = Files.readAllBytes(good);
    Run r = train(out, "--set", "train.epochs=2", "--resume", "--set", "train.base-lr=1e12",
        "--set", "train.label-smoothing=0");
    assertEquals(3, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("diverged at step") && r.err().contains("(epoch 2)"), r.err());
    assertTrue(r.err().contains("not finite"), r.err());
    assertArrayEquals(before, Files.readAllBytes(good));
  }

  /** A new run that fails before its first checkpoint leaves nothing: it can run again as is. */
  @Test
  void aNewRunThatDivergesBeforeItsFirstCheckpointLeavesNothing() throws Exception {
    Path out = dir.resolve("run-diverge-new");
    Run r = train(out, "--set", "train.epochs=1", "--set", "train.base-lr=1e12",
        "--set", "train.label-smoothing=0");
    assertEquals(3, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("no checkpoint was written"), r.err());
    assertFalse(Files.exists(out), "the run's directory is removed again");
    Path empty = Files.createDirectories(dir.resolve("run-diverge-empty"));
    r = train(empty, "--set", "train.epochs=1", "--set", "train.base-lr=1e12",
        "--set", "train.label-smoothing=0");
    assertEquals(3, r.code(), r.out() + r.err());
    try (var files = Files.list(empty)) {
      assertEquals(List.of(), files.filter(p -> !p.getFileName().toString().equals(".lock"))
          .toList(), "a directory that was empty is empty again (but for the lock file)");
    }
    assertEquals(0, train(empty, "--set", "train.epochs=1").code(), "no --overwrite needed");
  }
}
