package convspark.driver.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.io.CheckpointFormatException;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.common.nn.ModelValues;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.data.Normalization;
import convspark.driver.interop.TorchModel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.io.IOException;
import convspark.driver.train.CheckpointStore;
import convspark.driver.train.Trainer;
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
    checkFile(file, p);
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
    if (!meta.isEmpty() && meta.size() < Normalization.META_KEYS.size()) {
      // part of what export writes: a damaged or hand-edited file, not one without any
      List<String> missing = new ArrayList<>();
      for (String k : Normalization.META_KEYS) {
        if (!meta.containsKey(k)) {
          missing.add("convspark." + k);
        }
      }
      throw new BadInputException("--init-from " + file + ": its metadata holds part of an input "
          + "normalisation, without " + String.join(" and ", missing) + "; expected all of "
          + "convspark.norm.scale, mean and std (as export writes them) or none");
    }
    if (meta.isEmpty()) {
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

  private static void checkFile(String file, java.nio.file.Path p) {
    if (java.nio.file.Files.isDirectory(p)) {
      throw new BadInputException("--init-from " + file + ": is a directory; expected a "
          + "safetensors file (convspark export writes one)");
    }
    if (!java.nio.file.Files.isRegularFile(p)) {
      throw new BadInputException("--init-from " + file + ": no such file");
    }
  }

  /**
   * The weights of a safetensors file for {@code net}, checked (finite, variances >= 0, also in
   * residual blocks).
   */
  static TorchModel.Loaded readInitFrom(String file, Network net) {
    java.nio.file.Path p = java.nio.file.Path.of(file);
    checkFile(file, p);
    TorchModel.Loaded l = TorchModel.load(net, p);
    ModelValues.check(net, l.params(), l.state(), "--init-from " + file);
    return l;
  }

  /**
   * What a {@code train --init-from} file says about itself that the run does otherwise, one
   * warning line each: a model spec (export's metadata) with layers other than config key model
   * describes (the tensors matched by name and shape, but a maxpool the config reads as avgpool,
   * a relu as tanh, ...), and an input normalisation (export's metadata) that feeds the weights
   * other inputs than the ones they were trained on. Warnings, not errors: fine-tuning with
   * another dropout rate, or on other data with its own statistics, is a use. A file without
   * the metadata (PyTorch's) says nothing; a normalisation equal up to float rounding once
   * applied (data.scale 1 under auto fits statistics 255 times larger) is the same.
   */
  static List<String> initFromDifferences(String file, TorchModel.Loaded init, RunConfig cfg,
      Normalization run) {
    List<String> said = new ArrayList<>();
    String spec = init.metadata().get(TorchModel.SPEC_KEY);
    if (spec != null) {
      try {
        ModelSpec held = ModelSpec.parse(spec);
        if (!held.render().equals(cfg.model().render())) {
          said.add("--init-from " + file + ": the file's model is not the one config key model "
              + "describes (" + held.difference(cfg.model(), "the file", "the config")
              + "): its weights are trained as "
              + "the config's model");
        }
      } catch (RuntimeException e) {
        // the tensors fit the config's model, which is the one trained; nothing to compare
      }
    }
    Map<String, String> meta = new LinkedHashMap<>();
    for (String k : Normalization.META_KEYS) {
      String v = init.metadata().get("convspark." + k);
      if (v != null) {
        meta.put(k, v);
      }
    }
    if (Normalization.inMeta(meta)) {
      Normalization trained;
      try {
        trained = Normalization.fromMeta(meta, run.channels());
      } catch (BadInputException e) {
        return said; // another channel count: the tensors told already
      }
      if (!sameInputs(trained, run)) {
        RunConfig.Data d = cfg.data();
        said.add("--init-from " + file + ": its weights were trained on inputs normalised with "
            + trained.describe() + ", this run normalises with " + run.describe() + " (config "
            + "keys data.normalize.*, mode " + d.normalize().name().toLowerCase(
            java.util.Locale.ROOT) + ", and data.scale): training starts from weights that "
            + "expect other inputs (data.normalize.mode = given with the file's mean and std, and "
            + "data.scale = " + trained.scale() + ", feeds them theirs)");
      }
    }
    return said;
  }

  /**
   * Whether two normalisations give the same inputs, (x * scale - mean) / std per channel: the
   * factor scale / std and the offset mean / std, each within 1e-5 of its size (or of 1, for an
   * offset near 0, in units of the normalised input).
   */
  static boolean sameInputs(Normalization a, Normalization b) {
    if (a.channels() != b.channels()) {
      return false;
    }
    for (int c = 0; c < a.channels(); c++) {
      double fa = (double) a.scale() / a.std()[c];
      double fb = (double) b.scale() / b.std()[c];
      double oa = (double) a.mean()[c] / a.std()[c];
      double ob = (double) b.mean()[c] / b.std()[c];
      if (Math.abs(fa - fb) > 1e-5 * Math.max(Math.abs(fa), Math.abs(fb))
          || Math.abs(oa - ob) > 1e-5 * Math.max(1, Math.max(Math.abs(oa), Math.abs(ob)))) {
        return false;
      }
    }
    return true;
  }

  /**
   * A model named on the command line: the checkpoint, and the option and file it came from
   * (e.g. {@code --checkpoint /runs/a/checkpoints/final.bin}), for messages.
   */
  record Loaded(Checkpoint checkpoint, String origin) {}

  /** The model of {@code --checkpoint} or {@code --init-from}, whichever was given. */
  static Loaded load(ModelSource src, CommonOptions common) throws IOException {
    if (src.initFrom != null) {
      return new Loaded(fromSafetensors(src.initFrom, common), "--init-from " + src.initFrom);
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
  static Loaded load(String where) throws IOException {
    Path p = new Path(where);
    FileSystem fs = p.getFileSystem(new Configuration());
    if (fs.isDirectory(p)) {
      Path f = new Path(p, "checkpoints/final.bin");
      if (!fs.exists(f)) {
        f = new Path(p, "final.bin");
      }
      if (!fs.exists(f)) {
        throw new BadInputException(noFinal(where, p, fs));
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
    return new Loaded(c, "--checkpoint " + p);
  }

  /**
   * Why run directory {@code dir} cannot be used (it has no final.bin: training did not finish),
   * and the newest usable {@code ckpt-*.bin} to use instead, if any: in its checkpoints/, or in
   * {@code dir} itself when it is a checkpoint directory.
   */
  private static String noFinal(String where, Path dir, FileSystem fs) throws IOException {
    String m = "--checkpoint " + where + ": the run directory has no final.bin (training did "
        + "not finish)";
    for (Path d : new Path[] {new Path(dir, Trainer.CHECKPOINTS_DIR), dir}) {
      if (!fs.isDirectory(d)) {
        continue;
      }
      CheckpointStore store = new CheckpointStore(d.toString(), 1, fs.getConf());
      if (store.list().isEmpty()) {
        continue;
      }
      java.util.Optional<Path> newest = store.latestPath();
      if (newest.isEmpty()) {
        return m + " and none of its " + d + "/ckpt-*.bin is usable";
      }
      return m + "; its newest checkpoint is " + new Path(d, newest.get().getName())
          + ": give that file to --checkpoint, or finish the run with train --resume";
    }
    return m + " and no checkpoints/ckpt-*.bin to use instead";
  }

  /**
   * The user's config with the checkpoint's model when the config has none. A config that
   * describes a model must describe the checkpoint's: the same weights under another layer
   * (avgpool for maxpool, tanh for relu, ...) would score something else without a word. A
   * safetensors file without convspark's spec (saved by PyTorch) was read as the config's model,
   * its tensors checked by name and shape, so it always passes here.
   */
  static RunConfig config(CommonOptions common, Loaded model) {
    Checkpoint c = model.checkpoint();
    Config merged = Settings.load(common.config, common.set);
    boolean own = merged.getConfig("model").root().isEmpty();
    if (own) {
      Config m = ConfigFactory.parseString(c.modelSpec());
      merged = merged.withValue("model", m.root());
    }
    RunConfig cfg = RunConfig.parse(merged);
    if (!own) {
      ModelSpec held = ModelSpec.parse(c.modelSpec());
      if (!held.render().equals(cfg.model().render())) {
        throw new BadInputException("config key model: not the model of " + model.origin()
            + " (" + held.difference(cfg.model(), "the file", "the config")
            + "); remove key model from the config to "
            + "use the checkpoint's");
      }
    }
    checkNormalization(cfg, model);
    return cfg;
  }

  /**
   * Refuses a normalisation the config sets that is not the one the model was trained with:
   * evaluate and predict normalise with the checkpoint's (the weights expect its inputs), so
   * another would be ignored without a word. Mode none or given sets one (scale and values);
   * with mode auto (the training data's statistics: the checkpoint's), only a data.scale set
   * to another value than its default does.
   */
  static void checkNormalization(RunConfig cfg, Loaded model) {
    Map<String, String> meta = model.checkpoint().meta();
    if (!Normalization.inMeta(meta)) {
      return; // the command itself says the checkpoint has none
    }
    int ch = cfg.model().input().channels();
    Normalization held;
    try {
      held = Normalization.fromMeta(meta, ch);
    } catch (BadInputException e) {
      return; // the same: the command reads it again and names the file
    }
    RunConfig.Data d = cfg.data();
    String mode = d.normalize().name().toLowerCase(java.util.Locale.ROOT);
    if (d.normalize() == RunConfig.NormalizeMode.AUTO) {
      // the checkpoint's statistics at the config's scale: the same inputs or not
      if (RunConfig.isSet(cfg.raw(), "data.scale")
          && !Normalization.of(d.scale(), held.mean(), held.std(), ch).sameAs(held)) {
        throw new BadInputException("config key data.scale: set to " + d.scale() + ", but "
            + model.origin() + " was trained on inputs scaled by " + held.scale() + " (with "
            + "data.normalize.mode = auto, the checkpoint's " + held.describe() + " is used); "
            + "set data.scale = " + held.scale() + ", or remove it");
      }
      return;
    }
    Normalization asked = Normalization.resolve(d, ch, () -> {
      throw new IllegalStateException("auto");
    });
    if (!asked.sameAs(held)) {
      throw new BadInputException("config keys data.normalize.* and data.scale: mode " + mode
          + " gives " + asked.describe() + ", but " + model.origin() + " was trained on inputs "
          + "normalised with " + held.describe() + " (the weights expect those inputs); set "
          + "data.normalize.mode = auto to use the checkpoint's, or remove the keys");
    }
  }
}
