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
