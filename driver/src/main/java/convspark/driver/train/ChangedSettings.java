package convspark.driver.train;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import convspark.common.spec.StoredHocon;
import convspark.driver.config.RunConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The training settings a checkpoint was written with (its {@code train.*} keys, in its
 * metadata), and what a {@code --resume} changes: a new learning rate, regularisation or
 * augmentation is allowed (fine-tuning a run is a use), but said, key by key, so that a config
 * edited since the run started does not change it without a word. What a resume refuses to change
 * (seed, batch, workers, optimizer type, data) is checked before this; keys that do not change
 * what is computed (checkpointing, logging, the evaluation batch, the ring's transport) are left
 * out.
 */
final class ChangedSettings {
  private ChangedSettings() {}

  /** Checkpoint metadata key. */
  static final String META = "train-config";

  /** Keys (under {@code train.}) whose change does not alter the computation. */
  private static final Set<String> QUIET = Set.of("checkpoint", "log-every-steps", "eval-batch",
      "ring", "engine", "workers", "epochs");

  /** The {@code train} block of a run's config, as one line of JSON. */
  static String record(RunConfig cfg) {
    return cfg.raw().getConfig("train").root().render(ConfigRenderOptions.concise());
  }

  /**
   * Each key whose value differs between the recorded block and {@code cfg}'s, as {@code
   * train.key old -> new}; empty when nothing was recorded (an older checkpoint) or nothing
   * changed.
   */
  static List<String> since(String recorded, RunConfig cfg) {
    List<String> changes = new ArrayList<>();
    if (recorded == null) {
      return changes;
    }
    Map<String, String> before;
    try {
      before = flat(StoredHocon.parse(recorded)); // no includes
    } catch (ConfigException e) {
      return changes; // unreadable metadata says nothing about the settings
    }
    Map<String, String> now = flat(cfg.raw().getConfig("train"));
    TreeMap<String, String> keys = new TreeMap<>(before);
    now.forEach(keys::putIfAbsent);
    for (String k : keys.keySet()) {
      if (QUIET.contains(k.split("\\.", 2)[0])) {
        continue;
      }
      String a = before.getOrDefault(k, "(unset)");
      String b = now.getOrDefault(k, "(unset)");
      if (!a.equals(b)) {
        changes.add("train." + k + " " + a + " -> " + b);
      }
    }
    return changes;
  }

  private static Map<String, String> flat(Config c) {
    Map<String, String> m = new TreeMap<>();
    for (Map.Entry<String, ConfigValue> e : c.entrySet()) {
      m.put(e.getKey(), e.getValue().render(ConfigRenderOptions.concise()));
    }
    return m;
  }
}
