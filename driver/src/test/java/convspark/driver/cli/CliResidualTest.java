package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.driver.TestData;
import convspark.driver.interop.SafeTensors;
import convspark.driver.interop.TorchModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What works for plain stacks works for a residual net, end to end through the command line in
 * local[2]: training, checkpoints and a bit-identical resume, {@code predict} (its confusion
 * matrix equal to {@code evaluate}'s), {@code export}
 * with PyTorch names ({@code 3.body.0.weight}, {@code 4.shortcut.0.weight}) and {@code
 * evaluate --init-from} the exported file.
 */
class CliResidualTest {
  @TempDir static Path dir;
  static Path config;

  static final String MODEL = """
      model.layers = [
        { type = conv, filters = 6, kernel = 3, padding = 1, bias = false }
        { type = batchnorm }
        { type = relu }
        { type = residual, layers = [
            { type = conv, filters = 6, kernel = 3, padding = 1, bias = false }
            { type = batchnorm }
            { type = relu }
            { type = dropout, rate = 0.1 }
            { type = conv, filters = 6, kernel = 3, padding = 1, bias = false }
            { type = batchnorm } ] }
        { type = residual, layers = [
            { type = conv, filters = 8, kernel = 3, stride = 2, padding = 1, bias = false }
            { type = batchnorm }
            { type = relu }
            { type = conv, filters = 8, kernel = 3, padding = 1, bias = false }
            { type = batchnorm } ],
          shortcut = [
            { type = conv, filters = 8, kernel = 1, stride = 2, bias = false }
            { type = batchnorm } ] }
        { type = globalavgpool }
        { type = flatten }
        { type = dense, units = 4 }
      ]
      """;

  @BeforeAll
  static void data() throws Exception {
    Path[] train = TestData.writeIdx(dir, "train", 800, 1);
    Path[] test = TestData.writeIdx(dir, "test", 200, 2);
    config = dir.resolve("resnet.conf");
    Files.writeString(config, TestData.config(train[0], train[1], test[0], test[1]) + MODEL);
  }

  static CliTrainTest.Run train(Path out, String... extra) {
    List<String> a = new java.util.ArrayList<>(List.of("train", "--config", config.toString(),
        "--out", out.toString(), "--set", "train.epochs=3"));
    a.addAll(List.of(extra));
    return CliTrainTest.run(a.toArray(new String[0]));
  }

  @Test
  void trainsResumesPredictsExportsAndLoadsAResidualNet() throws Exception {
    Path whole = dir.resolve("whole");
    CliTrainTest.Run r = train(whole);
    assertEquals(0, r.code(), r.err());
    JsonNode s = CliTrainTest.summary(whole);
    double acc = s.get("test").get("accuracy").asDouble();
    // it learns (chance is 0.25); accuracy targets are benchmarks, not tests
    assertTrue(acc >= 0.6, "test accuracy " + acc + " of a residual net on generated data");
    Checkpoint c = CliTrainTest.ckpt(whole.resolve("checkpoints/final.bin"));
    ModelSpec spec = ModelSpec.parse(c.modelSpec());
    assertTrue(spec.layers().get(4) instanceof LayerSpec.Residual, c.modelSpec());

    // checkpoints and resume: bit-identical to the uninterrupted run
    Path split = dir.resolve("split");
    assertEquals(0, train(split, "--stop-after", "1").code());
    CliTrainTest.Run second = train(split, "--resume");
    assertEquals(0, second.code(), second.err());
    assertTrue(second.out().contains("resumed from"), second.out());
    Checkpoint cs = CliTrainTest.ckpt(split.resolve("checkpoints/final.bin"));
    assertArrayEquals(c.params(), cs.params());
    assertArrayEquals(c.state(), cs.state());

    // predict
    Path csv = dir.resolve("pred.csv");
    CliTrainTest.Run p = CliTrainTest.run("predict", "--checkpoint", whole.toString(),
        "--config", config.toString(), "--output", csv.toString());
    assertEquals(0, p.code(), p.err());
    assertTrue(p.out().contains("predicted 200 rows"), p.out());
    // which BLAS scores, on the driver and an executor (local: the same JVM), on standard error
    assertTrue(p.err().lines().anyMatch(e -> e.startsWith("convspark: BLAS "))
        && p.err().lines().anyMatch(e -> e.startsWith("convspark: BLAS on executor ")), p.err());

    // export with PyTorch's state-dict names, then evaluate from the exported file
    Path st = dir.resolve("resnet.safetensors");
    CliTrainTest.Run ex = CliTrainTest.run("export", "--checkpoint", whole.toString(), "--out",
        st.toString());
    assertEquals(0, ex.code(), ex.err());
    assertTrue(SafeTensors.read(st).tensors().keySet().containsAll(List.of("3.body.0.weight",
        "3.body.5.running_var", "4.body.3.weight", "4.shortcut.0.weight",
        "4.shortcut.1.num_batches_tracked", "7.weight")));
    TorchModel.Loaded l = TorchModel.load(new Network(spec), st);
    assertArrayEquals(c.params(), l.params(), "export is bit-exact");
    assertArrayEquals(c.state(), l.state());
    CliTrainTest.Run a = CliTrainTest.run("evaluate", "--config", config.toString(),
        "--checkpoint", whole.toString());
    CliTrainTest.Run b = CliTrainTest.run("evaluate", "--config", config.toString(),
        "--init-from", st.toString());
    assertEquals(0, a.code(), a.err());
    assertEquals(0, b.code(), b.err());
    String lineA = a.out().lines().filter(x -> x.startsWith("samples")).findFirst().orElseThrow();
    String lineB = b.out().lines().filter(x -> x.startsWith("samples")).findFirst().orElseThrow();
    assertEquals(lineA, lineB);

    // predict (executors: CnnClassificationModel's scorer) and evaluate (the training job's
    // evaluation path) are different code: their confusion matrices of the same checkpoint agree
    assertEquals(confusion(a.out()), confusionOfCsv(csv));
  }

  /** The confusion matrix rows `evaluate` prints, as printed (numbers separated by spaces). */
  static List<String> confusion(String out) {
    List<String> lines = out.lines().toList();
    int i = lines.indexOf("confusion matrix (rows: true class, columns: predicted):");
    assertTrue(i >= 0, out);
    return lines.subList(i + 1, i + 1 + 4).stream().map(l -> l.strip().replaceAll(" +", " "))
        .toList();
  }

  /**
   * The confusion matrix of predict's CSV output (a directory of part files), checking on the
   * way that every row's probabilities sum to 1 and its prediction is their argmax.
   */
  static List<String> confusionOfCsv(Path out) throws java.io.IOException {
    int[][] m = new int[4][4];
    int rows = 0;
    List<Path> parts;
    try (var s = Files.list(out)) {
      parts = s.filter(f -> f.getFileName().toString().endsWith(".csv")).sorted().toList();
    }
    for (Path part : parts) {
      List<String> lines = Files.readAllLines(part);
      List<String> header = List.of(lines.get(0).split(","));
      int label = header.indexOf("label");
      int pred = header.indexOf("prediction");
      int p0 = header.indexOf("p0");
      assertTrue(label >= 0 && pred >= 0 && p0 >= 0, header.toString());
      for (String l : lines.subList(1, lines.size())) {
        String[] v = l.split(",");
        double sum = 0;
        int best = 0;
        for (int j = 0; j < 4; j++) {
          double pj = Double.parseDouble(v[p0 + j]);
          sum += pj;
          best = pj > Double.parseDouble(v[p0 + best]) ? j : best;
        }
        assertEquals(1.0, sum, 1e-6, l);
        int predicted = (int) Double.parseDouble(v[pred]);
        assertEquals(best, predicted, l);
        m[(int) Double.parseDouble(v[label])][predicted]++;
        rows++;
      }
    }
    assertEquals(200, rows);
    List<String> out2 = new java.util.ArrayList<>();
    for (int[] r : m) {
      StringBuilder b = new StringBuilder();
      for (int x : r) {
        b.append(b.length() == 0 ? "" : " ").append(x);
      }
      out2.add(b.toString());
    }
    return out2;
  }

  @Test
  void aBlockWhoseShortcutDoesNotFitIsOneLineAndExitCode2() {
    String bad = MODEL.replaceAll("(?s),\\s*shortcut = \\[.*?batchnorm \\} \\] \\}", " }");
    assertTrue(!bad.equals(MODEL));
    Path conf = dir.resolve("bad.conf");
    try {
      Files.writeString(conf, Files.readString(config).replace(MODEL, bad));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    CliTrainTest.Run r = CliTrainTest.run("train", "--config", conf.toString(), "--out",
        dir.resolve("bad").toString());
    assertEquals(2, r.code(), r.err());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.contains("model.layers[4] (residual): the body (layers) outputs 8x6x6 but the "
        + "identity shortcut passes the input 6x12x12"), err);
  }
}
