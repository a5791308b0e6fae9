package convspark.driver.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.io.CheckpointFormatException;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.data.Normalization;
import convspark.driver.interop.TorchModel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.io.IOException;
import convspark.driver.train.CheckpointStore;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Loading a checkpoint named on the command line, and the config that goes with it. */
final class Checkpoints {
  private Checkpoints() {}

  /**
   * A model from a safetensors file (as written by {@code export} or by PyTorch), as a
   * checkpoint: the spec from the file's metadata or else the config's {@code model}; the
   * normalisation from the metadata or else config keys data.normalize.* (mode none or given).
   */
  static Checkpoint fromSafetensors(String file, CommonOptions common) {
    java.nio.file.Path p = java.nio.file.Path.of(file);
    if (!java.nio.file.Files.isRegularFile(p)) {
      throw new BadInputException("--init-from " + file + ": no such file");
    }
    ModelSpec spec = TorchModel.readSpec(p);
    Config merged = Settings.load(common.config, common.set);
    if (spec == null) {
      if (merged.getConfig("model").root().isEmpty()) {
        throw new BadInputException("--init-from " + file + ": the file does not say which "
            + "model it holds (no convspark.model metadata); give it with --config (key model)");
      }
      spec = ModelSpec.fromConfig(merged.getConfig("model"), "model");
    }
    Network net = new Network(spec);
    TorchModel.Loaded l = readInitFrom(file, net);
    Map<String, String> meta = new LinkedHashMap<>();
    for (String k : Normalization.META_KEYS) {
      String v = l.metadata().get("convspark." + k);
      if (v != null) {
        meta.put(k, v);
      }
    }
    if (meta.size() < 3) {
      RunConfig cfg = RunConfig.parse(merged.withValue("model",
          ConfigFactory.parseString(spec.render()).root()));
      int ch = spec.input().channels();
      Normalization norm = Normalization.resolve(cfg.data(), ch, () -> {
        throw new BadInputException("--init-from " + file + ": the file has no "
            + "input normalisation; set config key data.normalize.mode to none or given");
      });
      meta.putAll(norm.toMeta());
    }
    return new Checkpoint(spec.render(), 0, l.numBatchesTracked(), l.params(), l.state(), "none",
        new float[0][], 0, meta);
  }

  /** The weights of a safetensors file for {@code net}, checked (finite, variances >= 0). */
  static TorchModel.Loaded readInitFrom(String file, Network net) {
    java.nio.file.Path p = java.nio.file.Path.of(file);
    if (!java.nio.file.Files.isRegularFile(p)) {
      throw new BadInputException("--init-from " + file + ": no such file");
    }
    TorchModel.Loaded l = TorchModel.load(net, p);
    ModelValues.check(net, l.params(), l.state(), "--init-from " + file);
    return l;
  }

  /** The model of {@code --checkpoint} or {@code --init-from}, whichever was given. */
  static Checkpoint load(ModelSource src, CommonOptions common) throws IOException {
    if (src.initFrom != null) {
      return fromSafetensors(src.initFrom, common);
    }
    return load(src.checkpoint);
  }

  /** The two ways a command is told which model to use. */
  static final class ModelSource {
    @picocli.CommandLine.Option(names = "--checkpoint", paramLabel = "FILE|RUN_DIR",
        description = "A checkpoint file, or a run's output directory (uses its final.bin).")
    String checkpoint;

    @picocli.CommandLine.Option(names = "--init-from", paramLabel = "FILE",
        description = "A safetensors model (from export, or a PyTorch state_dict).")
    String initFrom;
  }

  /** {@code where} is a checkpoint file, or a run directory (its checkpoints/final.bin). */
  static Checkpoint load(String where) throws IOException {
    Path p = new Path(where);
    FileSystem fs = p.getFileSystem(new Configuration());
    if (fs.isDirectory(p)) {
      Path f = new Path(p, "checkpoints/final.bin");
      if (!fs.exists(f)) {
        f = new Path(p, "final.bin");
      }
      p = f;
    }
    if (!fs.exists(p)) {
      throw new BadInputException("--checkpoint " + where + ": no such checkpoint");
    }
    Checkpoint c;
    try {
      c = CheckpointStore.readFile(p, new Configuration());
    } catch (CheckpointFormatException e) {
      throw new BadInputException("--checkpoint: " + e.getMessage());
    }
    Network net;
    try {
      net = new Network(ModelSpec.parse(c.modelSpec()));
    } catch (RuntimeException e) {
      throw new BadInputException("--checkpoint " + p + ": its model spec is unusable: "
          + e.getMessage());
    }
    if (c.params().length != net.paramCount() || c.state().length != net.stateCount()) {
      throw new BadInputException("--checkpoint " + p + ": holds " + c.params().length
          + " parameters and " + c.state().length + " statistics, its model has "
          + net.paramCount() + " and " + net.stateCount());
    }
    ModelValues.check(net, c.params(), c.state(), "--checkpoint " + p);
    return c;
  }

  /** The user's config with the checkpoint's model when the config has none. */
  static RunConfig config(CommonOptions common, Checkpoint c) {
    Config merged = Settings.load(common.config, common.set);
    if (merged.getConfig("model").root().isEmpty()) {
      Config model = ConfigFactory.parseString(c.modelSpec());
      merged = merged.withValue("model", model.root());
    }
    return RunConfig.parse(merged);
  }
}
