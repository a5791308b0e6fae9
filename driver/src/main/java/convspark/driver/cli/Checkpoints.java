package convspark.driver.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.io.CheckpointFormatException;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import java.io.IOException;
import java.io.InputStream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** Loading a checkpoint named on the command line, and the config that goes with it. */
final class Checkpoints {
  private Checkpoints() {}

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
    try (InputStream in = fs.open(p)) {
      return Checkpoint.read(in, p.toString());
    } catch (CheckpointFormatException e) {
      throw new BadInputException("--checkpoint: " + e.getMessage());
    }
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
