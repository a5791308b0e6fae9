package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.io.AtomicFiles;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.driver.config.Preflight;
import convspark.driver.config.RunConfig;
import convspark.driver.data.Inputs;
import convspark.driver.metrics.Json;
import convspark.driver.data.Normalization;
import convspark.driver.exec.Distributed;
import convspark.driver.exec.ExecutorBlas;
import convspark.driver.train.TrainingData;
import convspark.driver.exec.Partitions;
import convspark.driver.train.SparkSessions;
import convspark.worker.Evaluation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code convspark evaluate}: loss, accuracy, per-class accuracy and confusion matrix. */
@Command(name = "evaluate", mixinStandardHelpOptions = true, version = Main.VERSION,
    description = "Evaluate a checkpoint (--checkpoint) or a safetensors model (--init-from) on the "
        + "data set of config keys data.test.*")
public final class EvaluateCommand implements Callable<Integer> {
  @Mixin CommonOptions common;

  @Spec CommandSpec spec;

  @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
  Checkpoints.ModelSource model;

  @Option(names = "--out", paramLabel = "FILE",
      description = "Also write the result as JSON (an earlier result there is replaced "
          + "atomically, any other file refused; a missing parent directory is created).")
  Path out;

  /**
   * An existing {@code --out} is replaced only when it holds an earlier result of this command
   * (a JSON object with its accuracy and confusion matrix): a checkpoint or data file named by
   * mistake is refused, never overwritten.
   */
  static void checkReplaceable(Path out) {
    if (!Files.exists(out, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    String refused = "--out " + out + ": exists and is not an earlier evaluate result (a JSON "
        + "object with accuracy and confusion); evaluate replaces only such a file: choose "
        + "another --out";
    try {
      if (!Files.isRegularFile(out, java.nio.file.LinkOption.NOFOLLOW_LINKS)
          || Files.size(out) > (1 << 24)) {
        throw new BadInputException(refused);
      }
      com.fasterxml.jackson.databind.JsonNode n = Json.MAPPER.readTree(out.toFile());
      if (n == null || !n.isObject() || !n.has("accuracy") || !n.has("confusion")) {
        throw new BadInputException(refused);
      }
    } catch (java.io.IOException e) {
      throw new BadInputException(refused, e);
    }
  }

  @Override
  public Integer call() throws Exception {
    if (out != null) {
      if (Files.isDirectory(out)) {
        throw new BadInputException("--out " + out + ": is a directory; give the file to write");
      }
      OutputPaths.checkParent("--out " + out, out);
      checkReplaceable(out);
    }
    Checkpoints.Loaded loaded = Checkpoints.load(model, common);
    Checkpoint c = loaded.checkpoint();
    RunConfig cfg = Checkpoints.config(common, loaded);
    if (!cfg.data().test().present()) {
      throw new BadInputException("config keys data.test.*: no data to evaluate (set "
          + "data.test.images and data.test.labels, or data.test.path for csv and dataframe)");
    }
    Network net = new Network(cfg.model());
    Preflight.inference(cfg, net);
    Normalization norm;
    try {
      norm = Normalization.fromMeta(c.meta(), net.inputShape().channels());
    } catch (BadInputException e) {
      throw new BadInputException(loaded.origin() + ": " + e.getMessage(), e);
    }
    boolean frames = cfg.data().format() == RunConfig.Format.DATAFRAME;
    // idx and csv are read (and checked) on the driver before Spark starts
    TrainingData.Split split = frames ? null : new TrainingData.ArraySplit(norm.apply(
        Inputs.read(cfg, cfg.data().test(), "data.test", RunIdentity.hadoopConf(cfg))));
    SparkSession spark = Cli.startSpark(cfg, common.master);
    try {
      if (frames) {
        split = TrainingData.frameSplit(cfg, spark, cfg.data().test(), "data.test", norm);
      }
      JavaSparkContext jsc = SparkSessions.context(spark);
      int parts = Partitions.count(cfg.train().workers(), jsc);
      var blocks = split.toBlocks(jsc, parts, "evaluate");
      // on the command's standard error: its standard output holds the results alone
      ExecutorBlas.lines(ExecutorBlas.probe(blocks.rdd()))
          .forEach(spec.commandLine().getErr()::println);
      Evaluation ev = Distributed.evaluate(jsc, blocks.rdd(), net, c.params(), c.state(),
          cfg.train().evalBatch(), cfg.train().labelSmoothing());
      System.out.printf("samples %d  loss %.4f  accuracy %.4f%n", ev.count, ev.meanLoss(),
          ev.accuracy());
      double[] per = ev.perClassAccuracy();
      StringBuilder b = new StringBuilder("per-class accuracy:");
      for (int i = 0; i < per.length; i++) {
        b.append(String.format(" %d:%.3f", i, per[i]));
      }
      System.out.println(b);
      System.out.println("confusion matrix (rows: true class, columns: predicted):");
      for (int i = 0; i < ev.classes; i++) {
        StringBuilder row = new StringBuilder();
        for (int j = 0; j < ev.classes; j++) {
          row.append(String.format("%6d", ev.confusion[i * ev.classes + j]));
        }
        System.out.println(row);
      }
      if (out != null) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", ev.count);
        m.put("loss", ev.meanLoss());
        m.put("accuracy", ev.accuracy());
        m.put("per_class_accuracy", per);
        m.put("confusion", ev.confusion);
        Files.createDirectories(out.toAbsolutePath().getParent());
        AtomicFiles.writeString(out, Json.pretty(m) + "\n");
      }
    } finally {
      SparkSessions.stop(spark);
    }
    return Main.OK;
  }
}
