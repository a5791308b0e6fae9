package convspark.driver.data;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import convspark.driver.config.RunConfig;
import org.apache.hadoop.conf.Configuration;

/**
 * Reads the configured inputs and checks them against the model: image size, label range,
 * finite values, non-empty. Errors name the config key and the file.
 */
public final class Inputs {
  private Inputs() {}

  /** Reads input {@code key} ("data.train", ...) of {@code cfg}. */
  public static ImageSet read(RunConfig cfg, RunConfig.Input in, String key, Configuration conf) {
    Shape shape = cfg.model().input();
    ImageSet set;
    String source;
    String labelSource;
    switch (cfg.data().format()) {
      case IDX -> {
        if (in.images().isEmpty() || in.labels().isEmpty()) {
          throw new BadInputException("config keys " + key + ".images and " + key
              + ".labels: both are required for data.format = idx");
        }
        set = IdxReader.read(in.images(), in.labels(), conf);
        source = in.images();
        labelSource = in.labels();
      }
      case CSV -> {
        if (in.path().isEmpty()) {
          throw new BadInputException("config key " + key + ".path: required for data.format = csv");
        }
        set = CsvReader.read(in.path(), shape.channels(), shape.height(), shape.width(),
            cfg.data().csvHeader(), cfg.model().classes(), conf);
        source = in.path();
        labelSource = in.path();
      }
      default -> throw new BadInputException("config key data.format: dataframe inputs are "
          + "read by Spark, not on the driver; this command reads idx or csv");
    }
    check(set, shape, cfg.model().classes(), source, labelSource);
    set.validateMagnitude(source, cfg.data().scale(), MAX_SCALED_VALUE);
    return set;
  }

  /**
   * The largest magnitude a pixel may have once multiplied by data.scale: generous for any image
   * encoding (16-bit values with scale 1 are 65,535), far below a corrupted value.
   */
  public static final double MAX_SCALED_VALUE = 1e6;

  /** Checks a set against the model input and class count; sources name files in errors. */
  public static ImageSet check(ImageSet set, Shape shape, int classes, String source,
      String labelSource) {
    if (set.count() == 0) {
      throw new BadInputException(source + ": no samples");
    }
    if (set.channels() != shape.channels() || set.height() != shape.height()
        || set.width() != shape.width()) {
      throw new BadInputException(source + ": images are " + set.channels() + "x" + set.height()
          + "x" + set.width() + " but the model input (model.input) is " + shape);
    }
    set.validateLabels(classes, labelSource);
    set.validateFinite(source);
    return set;
  }
}
