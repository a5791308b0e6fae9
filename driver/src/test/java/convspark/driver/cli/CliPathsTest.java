package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.TestData;
import convspark.driver.metrics.Json;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Paths named on the command line of evaluate, predict and export: an output that cannot be
 * written is refused (exit 2, one line naming the option, the path and why) before any work, and
 * a missing parent directory is created; a run directory without final.bin names the checkpoint
 * to use instead; a file whose length trailer is garbage is called truncated, without the
 * garbage.
 */
class CliPathsTest {
  @TempDir static Path dir;
  static Path config;
  /** An interrupted run: checkpoints/ckpt-*.bin but no final.bin (killed before the end). */
  static Path run;
  /** Its newest checkpoint. */
  static Path ckpt;
  /** A regular file, standing where a directory would have to be created. */
  static Path aFile;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "ok.conf", 240, 60);
    run = dir.resolve("run-interrupted");
    CliTrainTest.Run r = CliTrainTest.train(config, run, "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    Files.delete(run.resolve("checkpoints/final.bin"));
    try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
      ckpt = s.filter(p -> p.getFileName().toString().matches("ckpt-\\d+\\.bin")).sorted()
          .reduce((a, b) -> b).orElseThrow();
    }
    aFile = Files.writeString(dir.resolve("a-file"), "x");
  }

  static String oneLine(CliTrainTest.Run r, int code) {
    return CliRobustnessTest.oneLine(r, code);
  }

  /** Where no file can be created, even by root: /proc (Linux), else null. */
  static Path procFile(String name) {
    Path proc = Path.of("/proc");
    return Files.isDirectory(proc.resolve("self")) ? proc.resolve(name) : null;
  }

  static CliTrainTest.Run evaluate(Path out) {
    return CliTrainTest.run("evaluate", "--config", config.toString(), "--checkpoint",
        ckpt.toString(), "--out", out.toString());
  }

  static CliTrainTest.Run predict(String output, String... extra) {
    List<String> a = new ArrayList<>(List.of("predict", "--config", config.toString(),
        "--checkpoint", ckpt.toString(), "--output", output));
    a.addAll(List.of(extra));
    return CliTrainTest.run(a.toArray(new String[0]));
  }

  static CliTrainTest.Run export(Path out) {
    return CliTrainTest.run("export", "--checkpoint", ckpt.toString(), "--out", out.toString());
  }

  // ---- 1. an output that cannot be written is refused before any work ---------------------------

  @Test
  void evaluateOutIsCheckedBeforeEvaluatingAndItsDirectoryIsCreated() throws Exception {
    Path under = aFile.resolve("sub/eval.json");
    CliTrainTest.Run r = evaluate(under);
    String e = oneLine(r, 2);
    assertTrue(e.contains("--out " + under) && e.contains(aFile + " is not a directory"), e);
    assertFalse(r.out().contains("samples"), "nothing evaluated: " + r.out());
    Path proc = procFile("convspark-eval.json");
    if (proc != null) {
      r = evaluate(proc);
      e = oneLine(r, 2);
      assertTrue(e.contains("--out " + proc) && e.contains("/proc is not writable"), e);
      assertFalse(r.out().contains("samples"), r.out());
    }
    // a missing parent directory is created, as export and predict do
    Path fresh = dir.resolve("new/deeper/eval.json");
    r = evaluate(fresh);
    assertEquals(0, r.code(), r.err());
    assertEquals(60, Json.MAPPER.readTree(fresh.toFile()).get("count").asInt());
  }

  @Test
  void exportOutIsCheckedBeforeReadingTheCheckpoint() throws Exception {
    Path under = aFile.resolve("sub/model.safetensors");
    String e = oneLine(export(under), 2);
    assertTrue(e.contains("--out " + under) && e.contains(aFile + " is not a directory"), e);
    Path proc = procFile("convspark.safetensors");
    if (proc != null) {
      e = oneLine(export(proc), 2);
      assertTrue(e.contains("--out " + proc) && e.contains("/proc is not writable"), e);
    }
    Path fresh = dir.resolve("exports/a/model.safetensors");
    CliTrainTest.Run r = export(fresh);
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.isRegularFile(fresh));
  }

  @Test
  void predictOutputIsCheckedBeforeScoring() throws Exception {
    String under = aFile.resolve("sub/pred").toString();
    for (String output : new String[] {under, "file://" + under}) {
      CliTrainTest.Run r = predict(output);
      String e = oneLine(r, 2);
      assertTrue(e.contains("--output " + output) && e.contains(aFile + " is not a directory"),
          e);
      assertFalse(r.out().contains("predicted"), "nothing scored: " + r.out());
    }
    Path proc = procFile("convspark-pred");
    if (proc != null) {
      CliTrainTest.Run r = predict(proc.toString());
      String e = oneLine(r, 2);
      assertTrue(e.contains("--output " + proc) && e.contains("/proc is not writable"), e);
      assertFalse(r.out().contains("predicted"), r.out());
    }
    Path fresh = dir.resolve("preds/a/pred.csv");
    CliTrainTest.Run r = predict(fresh.toUri().toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("predicted 60 rows"), r.out());
    assertTrue(Files.isDirectory(fresh));
  }

  // ---- 1b. a run directory whose path needs escaping in a URI ----------------------------------

  /**
   * --out with a space and a '%' in its path: the default checkpoint directory is --out's
   * checkpoints/, not a sibling tree named with the URI's escapes ("run%20out/checkpoints",
   * where Hadoop's Path(String) took the escaped URI text for the name), and evaluate and a
   * resume find the checkpoints there.
   */
  @Test
  void checkpointsOfAnOutWithASpaceLandInItsCheckpointsDirectory() throws Exception {
    Path out = dir.resolve("run out 100%");
    CliTrainTest.Run r = CliTrainTest.train(config, out, "--set", "train.epochs=1");
    assertEquals(0, r.code(), r.err());
    assertTrue(Files.isRegularFile(out.resolve("checkpoints/final.bin")), r.err());
    try (Stream<Path> s = Files.list(dir)) {
      List<String> names = s.map(p -> p.getFileName().toString()).toList();
      assertFalse(names.stream().anyMatch(n -> n.contains("%20")), names.toString());
    }
    assertTrue(Json.MAPPER.readTree(out.resolve("summary.json").toFile())
        .get("checkpoint_dir").asText().endsWith("/run out 100%/checkpoints"), r.err());
    CliTrainTest.Run e = CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", out.toString());
    assertEquals(0, e.code(), e.err());
    r = CliTrainTest.train(config, out, "--set", "train.epochs=2", "--resume");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("resum") || r.out().contains("resum"), r.err());
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

  @Test
  void anIdColumnForIdxInputIsRefusedNotIgnored() throws Exception {
    Path out = dir.resolve("pred-id-col");
    String e = oneLine(predict(out.toString(), "--id-col", "id"), 2);
    assertTrue(e.contains("--id-col id: names a DataFrame column, and data.format is idx"), e);
    assertFalse(Files.exists(out), "nothing written");
  }

  @Test
  void unusableNormalisationMetadataIsNamedByKeyAndFile() throws Exception {
    Path st = dir.resolve("norm.safetensors");
    assertEquals(0, export(st).code());
    var contents = convspark.driver.interop.SafeTensors.read(st);
    for (String[] bad : new String[][] {{"abc", "norm.scale = \"abc\" is not a number"},
        {"0", "data.normalize.std"}}) {
      java.util.Map<String, String> meta = new java.util.LinkedHashMap<>(contents.metadata());
      meta.put(bad[0].equals("abc") ? "convspark.norm.scale" : "convspark.norm.std", bad[0]);
      Path broken = dir.resolve("norm-broken-" + bad[0] + ".safetensors");
      convspark.driver.interop.SafeTensors.write(broken, contents.tensors(), meta);
      String e = oneLine(CliTrainTest.run("evaluate", "--config", config.toString(),
          "--init-from", broken.toString()), 2);
      assertTrue(e.contains("--init-from " + broken + ": checkpoint has no usable "
          + "normalisation metadata: ") && e.contains(bad[1]) && !e.contains("Exception"), e);
    }
  }
}
