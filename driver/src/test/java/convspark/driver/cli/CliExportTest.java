package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.TestData;
import convspark.driver.interop.TorchModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** export to safetensors, then evaluate and train --init-from the exported file. */
class CliExportTest {
  @TempDir static Path dir;

  @Test
  void exportedModelEvaluatesLikeItsCheckpointAndSeedsTraining() throws Exception {
    Path conf = TestData.writeConfig(dir, "c.conf", 800, 200);
    Path run = dir.resolve("run");
    assertEquals(0, CliTrainTest.run("train", "--config", conf.toString(), "--out",
        run.toString(), "--set", "train.epochs=2").code());

    Path st = dir.resolve("model.safetensors");
    CliTrainTest.Run ex = CliTrainTest.run("export", "--checkpoint", run.toString(), "--out",
        st.toString());
    assertEquals(0, ex.code(), ex.err());
    Checkpoint c = CliTrainTest.ckpt(run.resolve("checkpoints/final.bin"));
    TorchModel.Loaded l = TorchModel.load(new Network(ModelSpec.parse(c.modelSpec())), st);
    assertArrayEquals(c.params(), l.params(), "export is bit-exact");
    assertArrayEquals(c.state(), l.state());

    CliTrainTest.Run a = CliTrainTest.run("evaluate", "--config", conf.toString(),
        "--checkpoint", run.toString());
    CliTrainTest.Run b = CliTrainTest.run("evaluate", "--config", conf.toString(),
        "--init-from", st.toString());
    assertEquals(0, a.code(), a.err());
    assertEquals(0, b.code(), b.err());
    String lineA = a.out().lines().filter(s -> s.startsWith("samples")).findFirst().orElseThrow();
    String lineB = b.out().lines().filter(s -> s.startsWith("samples")).findFirst().orElseThrow();
    assertEquals(lineA, lineB);
    assertTrue(lineA.startsWith("samples 200"), lineA);
    // which BLAS scored, on standard error (standard output holds the results alone)
    assertTrue(a.err().lines().anyMatch(e -> e.startsWith("convspark: BLAS ")), a.err());
    assertTrue(a.out().lines().noneMatch(o -> o.contains("BLAS")), a.out());

    // training from the exported weights starts where the first run ended
    Path run2 = dir.resolve("run2");
    CliTrainTest.Run t = CliTrainTest.run("train", "--config", conf.toString(), "--out",
        run2.toString(), "--init-from", st.toString(), "--set", "train.epochs=1",
        "--set", "train.base-lr=1e-6");
    assertEquals(0, t.code(), t.err());
    Checkpoint c2 = CliTrainTest.ckpt(run2.resolve("checkpoints/final.bin"));
    float maxDiff = 0;
    for (int i = 0; i < c.params().length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(c.params()[i] - c2.params()[i]));
    }
    assertTrue(maxDiff < 1e-3, "a tiny learning rate keeps the imported weights: " + maxDiff);
    assertTrue(!Arrays.equals(c.params(), c2.params()));
  }

  static String layers(String pool, int classes) {
    return "model.layers=[{type=conv,filters=6,kernel=3,padding=1},{type=batchnorm},{type=relu},"
        + "{type=" + pool + ",kernel=2},{type=dropout,rate=0.1},{type=flatten},{type=dense,units="
        + classes + "}]";
  }

  /**
   * train --init-from an exported file whose model or normalisation is not the run's: another
   * shape or class count is refused (the tensors do not fit); layers without weights of another
   * kind (avgpool for the file's maxpool) and another input normalisation (mode none for the
   * file's fitted statistics) were accepted without a word, and training started from weights
   * that expect another network or other inputs: now one warning line each, naming the difference.
   * Fine-tuning that way stays allowed (another dropout rate, other data with its own statistics).
   */
  @Test
  void trainInitFromAFileOfOtherLayersOrAnotherNormalisationSaysSo() throws Exception {
    Path conf = TestData.writeConfig(Files.createDirectories(dir.resolve("w")), "w.conf", 800,
        100);
    Path run = dir.resolve("w-run");
    assertEquals(0, CliTrainTest.run("train", "--config", conf.toString(), "--out",
        run.toString(), "--set", "train.epochs=1").code());
    Path st = dir.resolve("w.safetensors");
    assertEquals(0, CliTrainTest.run("export", "--checkpoint", run.toString(), "--out",
        st.toString()).code());
    java.util.function.Function<String[], CliTrainTest.Run> train = sets -> {
      java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("train",
          "--config", conf.toString(), "--out", dir.resolve("w-" + sets.length + "-"
          + Math.abs(Arrays.hashCode(sets))).toString(), "--init-from", st.toString(), "--set",
          "train.epochs=1"));
      for (String set : sets) {
        a.addAll(java.util.List.of("--set", set));
      }
      return CliTrainTest.run(a.toArray(new String[0]));
    };
    CliTrainTest.Run r = train.apply(new String[0]);
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().lines().noneMatch(l -> l.contains("WARNING")), r.out());
    // auto at another scale fits statistics that give the same inputs: nothing to say
    r = train.apply(new String[] {"data.scale=1"});
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().lines().noneMatch(l -> l.contains("WARNING")), r.out());

    r = train.apply(new String[] {layers("maxpool", 5)});
    assertEquals(2, r.code(), r.err());
    assertEquals("convspark: error: " + st + ": tensor '6.weight' (layer 6 (dense)): shape [4, "
        + "216], expected [5, 216]", r.err().strip());

    r = train.apply(new String[] {layers("avgpool", 4)});
    assertEquals(0, r.code(), r.err());
    java.util.List<String> said = r.out().lines().filter(l -> l.contains("WARNING")).toList();
    assertEquals(java.util.List.of("convspark: WARNING: --init-from " + st + ": the file's model "
        + "is not the one config key model describes (model.layers[3] is {\"kernel\":2,"
        + "\"padding\":0,\"stride\":2,\"type\":\"maxpool\"} in the file, {\"kernel\":2,"
        + "\"stride\":2,\"type\":\"avgpool\"} in the config): its weights are trained as the "
        + "config's model"), said);

    r = train.apply(new String[] {"data.normalize.mode=none"});
    assertEquals(0, r.code(), r.err());
    said = r.out().lines().filter(l -> l.contains("WARNING")).toList();
    assertEquals(1, said.size(), r.out());
    Checkpoint c = CliTrainTest.ckpt(run.resolve("checkpoints/final.bin"));
    assertTrue(said.get(0).startsWith("convspark: WARNING: --init-from " + st + ": its weights "
        + "were trained on inputs normalised with scale 0.003921569, mean [" + c.meta().get(
        "norm.mean") + "], std [" + c.meta().get("norm.std") + "], this run normalises with "
        + "scale 0.003921569, mean [0.0], std [1.0] (config keys data.normalize.*, mode none, "
        + "and data.scale)"), said.get(0));
  }

  @Test
  void initFromADirectoryOrAFileWithPartOfANormalisationIsRejected() throws Exception {
    Path[] data = TestData.writeIdx(dir, "t4", 40, 1);
    Path conf = dir.resolve("c4.conf");
    Files.writeString(conf, TestData.config(data[0], data[1], data[0], data[1]));
    CliTrainTest.Run r = CliTrainTest.run("evaluate", "--config", conf.toString(), "--init-from",
        dir.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--init-from " + dir + ": is a directory; expected a safetensors "
        + "file"), r.err());

    // a PyTorch-style file (no convspark.model) with one of the three normalisation keys
    Network net = new Network(ModelSpec.fromConfig(com.typesafe.config.ConfigFactory
        .parseFile(conf.toFile()).getConfig("model"), "model"));
    Path pt = dir.resolve("partial.safetensors");
    convspark.driver.interop.SafeTensors.write(pt, TorchModel.tensors(net, net.initParams(1),
        net.initState(), 1), java.util.Map.of("format", "pt", "convspark.norm.scale", "0.5"));
    r = CliTrainTest.run("evaluate", "--config", conf.toString(), "--init-from", pt.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("--init-from " + pt + ": its metadata holds part of an input "
        + "normalisation, without convspark.norm.mean and convspark.norm.std"), r.err());
  }

  @Test
  void initFromAFileOfAnotherModelIsRejected() throws Exception {
    Path[] train = TestData.writeIdx(dir, "t2", 100, 1);
    Path conf = dir.resolve("c2.conf");
    Files.writeString(conf, TestData.config(train[0], train[1], train[0], train[1]));
    Network other = new Network(ModelSpec.parse("""
        input { channels = 1, height = 12, width = 12 }
        layers = [ { type = flatten }, { type = dense, units = 4 } ]
        """));
    Path st = dir.resolve("other.safetensors");
    TorchModel.export(other, other.initParams(1), other.initState(), 0, st);
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", conf.toString(), "--out",
        dir.resolve("run3").toString(), "--init-from", st.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("other.safetensors"), r.err());
  }

  /**
   * A negative running variance is refused in a batch norm inside a residual block as at the top
   * level (ModelValues.check once saw only the top-level layers): evaluation takes its square root,
   * so such a model would score NaN for every sample.
   */
  @Test
  void aNegativeVarianceInAResidualBlockIsRejected() throws Exception {
    Network net = new Network(ModelSpec.parse("""
        input { channels = 2, height = 6, width = 6 }
        layers = [
          { type = conv, filters = 4, kernel = 3, padding = 1 }
          { type = residual, layers = [
              { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
              { type = batchnorm } ] }
          { type = flatten }
          { type = dense, units = 3 } ]
        """));
    float[] params = net.initParams(1);
    float[] state = net.initState();
    // 1.body.1: running mean [4], then running variance [4]; channel 2 of the variance
    TorchModel.Entry var = TorchModel.layout(net).stream()
        .filter(e -> e.name().equals("1.body.1.running_var")).findFirst().orElseThrow();
    state[var.offset() + 2] = -0.5f;

    Path st = dir.resolve("negvar-residual.safetensors");
    TorchModel.export(net, params, state, 1, st);
    CliTrainTest.Run r = CliTrainTest.run("evaluate", "--set", "data.normalize.mode=none",
        "--init-from", st.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("negvar-residual.safetensors")
        && r.err().contains("model.layers[1] (residual): layers[1] (batchnorm)")
        && r.err().contains("running variance of channel 2 is -0.5"), r.err());

    Path bin = dir.resolve("negvar-residual.bin");
    Files.write(bin, new Checkpoint(net.spec().render(), 1, 1, params, state, "none",
        new float[0][], 0, java.util.Map.of()).toBytes());
    r = CliTrainTest.run("export", "--checkpoint", bin.toString(), "--out",
        dir.resolve("negvar-export.safetensors").toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("negvar-residual.bin")
        && r.err().contains("running variance of channel 2 is -0.5"), r.err());
    assertTrue(!Files.exists(dir.resolve("negvar-export.safetensors")));
  }
}
