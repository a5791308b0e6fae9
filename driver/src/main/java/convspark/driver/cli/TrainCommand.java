package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.nn.Network;
import convspark.driver.interop.TorchModel;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.train.SparkSessions;
import convspark.driver.train.Trainer;
import convspark.driver.train.TrainingData;
import convspark.driver.train.TrainingListener;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code convspark train}: trains a model and writes checkpoints, metrics and a summary. */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a CNN with data-parallel SGD on Spark.")
public final class TrainCommand implements Callable<Integer> {
  @Mixin CommonOptions common;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "Output directory: summary.json, metrics.jsonl, training.png, checkpoints/.")
  Path out;

  @Option(names = "--checkpoint-dir", paramLabel = "URI",
      description = "Where checkpoints go (any Hadoop FileSystem URI); default OUT/checkpoints.")
  String checkpointDir;

  @Option(names = "--init-from", paramLabel = "FILE",
      description = "Start from the weights of a safetensors file (export, or PyTorch).")
  String initFrom;

  @Option(names = "--resume", description = "Continue from the newest good checkpoint.")
  boolean resume;

  @Option(names = "--stop-after", paramLabel = "EPOCHS",
      description = "Stop after this many epochs of this invocation (continue with --resume).")
  int stopAfter = Integer.MAX_VALUE;

  @Option(names = "--overwrite", description = "Replace an existing, non-empty output directory.")
  boolean overwrite;

  @Override
  public Integer call() throws IOException {
    RunConfig cfg = RunConfig.parse(Settings.load(common.config, common.set));
    boolean clear = checkOut();
    // read and check the data before touching an existing output directory
    boolean frames = cfg.data().format() == RunConfig.Format.DATAFRAME;
    TrainingData data = frames ? null : TrainingData.prepare(cfg, new Configuration());
    SparkSession spark = SparkSessions.start(cfg.spark(), common.master);
    try {
      if (frames) {
        data = TrainingData.prepareFrames(cfg, spark);
      }
    } catch (RuntimeException e) {
      spark.stop();
      throw e;
    }
    if (clear) {
      try (Stream<Path> s = Files.walk(out)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          if (!p.equals(out)) {
            Files.delete(p);
          }
        }
      }
    }
    Files.createDirectories(out);
    String ckpt = checkpointDir != null ? checkpointDir : out.resolve("checkpoints").toUri()
        .toString();
    try {
      Trainer trainer = new Trainer(cfg, SparkSessions.context(spark), out, ckpt,
          TrainingListener.printing(System.out));
      if (initFrom != null && !resume) {
        TorchModel.Loaded l = TorchModel.load(new Network(cfg.model()), Path.of(initFrom));
        trainer.initialWeights(l.params(), l.state());
      }
      trainer.run(data, resume, stopAfter);
    } finally {
      spark.stop();
    }
    return Main.OK;
  }

  /** Checks --out against --resume/--overwrite; true when its old content must be removed. */
  private boolean checkOut() throws IOException {
    boolean nonEmpty = false;
    if (Files.isDirectory(out)) {
      try (Stream<Path> s = Files.list(out)) {
        nonEmpty = s.findAny().isPresent();
      }
    } else if (Files.exists(out)) {
      throw new BadInputException("--out " + out + ": exists and is not a directory");
    }
    if (nonEmpty && !resume) {
      if (!overwrite) {
        throw new BadInputException("--out " + out + ": exists and is not empty; pass "
            + "--overwrite to replace it or --resume to continue its run");
      }
      return true;
    }
    if (resume && !nonEmpty) {
      throw new BadInputException("--resume: " + out + " holds no earlier run");
    }
    return false;
  }
}
