package convspark.driver.train;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import convspark.driver.config.RunConfig;
import convspark.driver.data.Frames;
import convspark.driver.data.ImageSet;
import convspark.driver.data.Inputs;
import convspark.driver.data.Normalization;
import convspark.driver.exec.Distributed;
import convspark.driver.exec.RowBlocks;
import java.util.List;
import java.util.function.Supplier;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The data a run trains on, before it is distributed: train, validation and test splits and the
 * normalisation fitted on (or configured for) the training split. {@link #prepare} reads files
 * on the driver (IDX, CSV); {@link #prepareFrames} reads a DataFrame source, whose rows the
 * executors pack themselves.
 *
 * @param train the training split
 * @param validation the validation split, or null
 * @param test the test split, or null
 * @param normalization applied to every split
 */
public record TrainingData(Split train, Split validation, Split test,
    Normalization normalization) {

  /** One split: either samples read on the driver or a DataFrame. */
  public interface Split {
    /** Number of samples. */
    long count();

    /** Packs the samples into {@code partitions} balanced, cached blocks. */
    Distributed.Blocks toBlocks(JavaSparkContext jsc, int partitions, String name);

    /**
     * A checksum of the samples (labels and features before normalisation, in order) where the
     * driver holds them, else empty: {@code --resume} compares it with the checkpoint's.
     */
    default java.util.OptionalLong checksum() {
      return java.util.OptionalLong.empty();
    }
  }

  /**
   * A split read on the driver, already normalised.
   *
   * @param rawChecksum {@link #checksum(ImageSet)} of the samples before normalisation (the
   *     statistics of {@code auto} may be refitted a hair differently on resume), or empty
   */
  public record ArraySplit(ImageSet set, java.util.OptionalLong rawChecksum) implements Split {
    public ArraySplit(ImageSet set) {
      this(set, java.util.OptionalLong.empty());
    }

    public long count() {
      return set.count();
    }

    public Distributed.Blocks toBlocks(JavaSparkContext jsc, int partitions, String name) {
      return Distributed.blocks(jsc, set.pixels(), set.labels(), set.sampleSize(), partitions,
          name);
    }

    @Override
    public java.util.OptionalLong checksum() {
      return rawChecksum;
    }
  }

  /**
   * CRC-32C of the labels and the features' float bits, in order (tens of ms for
   * Fashion-MNIST's 60,000 samples).
   */
  public static long checksum(ImageSet set) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(1 << 16);
    int[] y = set.labels();
    float[] x = set.pixels();
    update(crc, buf, y.length, (b, off, n) -> b.asIntBuffer().put(y, off, n));
    update(crc, buf, x.length, (b, off, n) -> b.asFloatBuffer().put(x, off, n));
    return crc.getValue();
  }

  /** Puts {@code n} values from {@code off} into a buffer's start (4 bytes each). */
  private interface Fill {
    void put(java.nio.ByteBuffer buf, int off, int n);
  }

  /** Feeds {@code length} 4-byte values to {@code crc} through {@code buf}, a chunk at a time. */
  private static void update(java.util.zip.CRC32C crc, java.nio.ByteBuffer buf, int length,
      Fill fill) {
    for (int i = 0; i < length; ) {
      int n = Math.min(length - i, buf.capacity() / 4);
      buf.clear();
      fill.put(buf, i, n);
      buf.limit(n * 4);
      crc.update(buf);
      i += n;
    }
  }


  /**
   * The DataFrame a validation split was cut from, and its name in errors: a bad row found in a
   * split is looked for again here, so that the error numbers it as the caller's rows are.
   */
  public record CutFrom(Dataset<Row> df, String source) {}

  /**
   * A DataFrame split: packed into blocks on the executors when training starts.
   *
   * @param cutFrom what a validation split was cut from, or null
   */
  public record FrameSplit(Dataset<Row> df, Frames.Columns cols, Shape shape, int classes,
      Normalization norm, String source, CutFrom cutFrom) implements Split {
    public FrameSplit {
      Frames.checkSchema(df.schema(), cols);
    }

    /** A split that is a whole DataFrame. */
    public FrameSplit(Dataset<Row> df, Frames.Columns cols, Shape shape, int classes,
        Normalization norm, String source) {
      this(df, cols, shape, classes, norm, source, null);
    }

    @Override
    public long count() {
      return df.count();
    }

    @Override
    public Distributed.Blocks toBlocks(JavaSparkContext jsc, int partitions, String name) {
      Frames.Kind kind = Frames.checkSchema(df.schema(), cols);
      return located(cutFrom, cols, shape, classes, norm.scale(), () -> RowBlocks.pack(
          rows(df, cols).javaRDD(), partitions, kind, shape, classes, norm, source, name));
    }
  }

  private static Dataset<Row> rows(Dataset<Row> df, Frames.Columns cols) {
    return df.select(Frames.column(cols.label()), Frames.column(cols.features()));
  }

  /**
   * {@code work}'s result; when it fails on a bad row of a split cut from {@code from} (not
   * null), the error of the first bad row of {@code from} instead, as {@link RowBlocks#locate}
   * numbers it.
   */
  private static <T> T located(CutFrom from, Frames.Columns cols, Shape shape, int classes,
      float scale, Supplier<T> work) {
    try {
      return work.get();
    } catch (Exception e) { // SparkException too, which Scala throws undeclared
      if (from == null || BadInputException.in(e) == null) {
        throw e;
      }
      RowBlocks.locate(rows(from.df(), cols), Frames.checkSchema(from.df().schema(), cols),
          shape, classes, scale, from.source());
      if (BadInputException.in(e).getMessage().endsWith(": no samples")
          && from.df().isEmpty()) {
        // the split of an empty input: the input is what holds none, not the split
        throw new BadInputException(from.source() + ": no samples", e);
      }
      throw e; // the whole frame passed: what failed was the split's own (no samples, ...)
    }
  }

  /**
   * DataFrame splits of {@code train} (and {@code val}, may be null) with the normalisation the
   * config asks for, fitted on {@code train} when it says auto.
   */
  public static TrainingData ofFrames(RunConfig cfg, Dataset<Row> train, Dataset<Row> val,
      Dataset<Row> test, Frames.Columns cols, String trainSource, String valSource,
      String testSource, CutFrom cutFrom) {
    Shape shape = cfg.model().input();
    int classes = cfg.model().classes();
    Normalization norm = Normalization.resolve(cfg.data(), shape.channels(),
        () -> located(cutFrom, cols, shape, classes, cfg.data().scale(), () -> RowBlocks.fit(
            rows(train, cols), Frames.checkSchema(train.schema(), cols), shape,
            cfg.data().scale(), trainSource)));
    return new TrainingData(
        new FrameSplit(train, cols, shape, classes, norm, trainSource, cutFrom),
        val == null ? null : new FrameSplit(val, cols, shape, classes, norm, valSource, cutFrom),
        test == null ? null : new FrameSplit(test, cols, shape, classes, norm, testSource),
        norm);
  }

  /**
   * Reads and prepares a DataFrame source (data.format = dataframe): schema checks now,
   * normalisation statistics from distributed passes, packing when training starts.
   */
  public static TrainingData prepareFrames(RunConfig cfg, SparkSession spark) {
    RunConfig.Data d = cfg.data();
    RunConfig.Frame f = d.frame();
    Frames.Columns cols = new Frames.Columns(f.labelCol(), f.featuresCol());
    Dataset<Row> train = frame(spark, f, d.train(), "data.train");
    Dataset<Row> whole = train;
    Dataset<Row> val = null;
    if (d.validation().present()) {
      val = frame(spark, f, d.validation(), "data.validation");
    } else if (d.validationFraction() > 0) {
      List<Dataset<Row>> parts = Frames.split(train, d.validationFraction(), cfg.train().seed());
      train = parts.get(0);
      val = parts.get(1);
    }
    Dataset<Row> test = d.test().present() ? frame(spark, f, d.test(), "data.test") : null;
    String held = " (config key data.validation-fraction = " + d.validationFraction() + ")";
    boolean split = !d.validation().present() && d.validationFraction() > 0;
    return ofFrames(cfg, train, val, test, cols,
        d.train().path() + (split ? ", what the validation split left" + held : ""),
        split ? "validation split of " + d.train().path() + held : d.validation().path(),
        d.test().path(), split ? new CutFrom(whole, d.train().path()) : null);
  }

  /** One configured DataFrame input ({@code key} = data.train, ...) as a split. */
  public static FrameSplit frameSplit(RunConfig cfg, SparkSession spark, RunConfig.Input in,
      String key, Normalization norm) {
    RunConfig.Frame f = cfg.data().frame();
    return new FrameSplit(frame(spark, f, in, key), new Frames.Columns(f.labelCol(),
        f.featuresCol()), cfg.model().input(), cfg.model().classes(), norm, in.path());
  }

  private static Dataset<Row> frame(SparkSession spark, RunConfig.Frame f, RunConfig.Input in,
      String key) {
    if (in.path().isEmpty()) {
      throw new BadInputException("config key " + key + ".path: required for data.format = "
          + "dataframe");
    }
    Dataset<Row> df = Frames.read(spark, f.source(), f.options(), in.path(), key + ".path");
    try {
      Frames.checkSchema(df.schema(), new Frames.Columns(f.labelCol(), f.featuresCol()));
    } catch (BadInputException e) {
      // which of the inputs, and the keys that name the columns
      throw new BadInputException("config key " + key + ".path (" + in.path() + "): "
          + e.getMessage() + " (config keys data.dataframe.label-col = \"" + f.labelCol()
          + "\", data.dataframe.features-col = \"" + f.featuresCol() + "\")", e);
    }
    return df;
  }

  /** Reads and prepares the configured files on the driver (IDX, CSV). */
  public static TrainingData prepare(RunConfig cfg, org.apache.hadoop.conf.Configuration conf) {
    RunConfig.Data d = cfg.data();
    ImageSet train = Inputs.read(cfg, d.train(), "data.train", conf);
    ImageSet val = null;
    if (d.validation().present()) {
      val = Inputs.read(cfg, d.validation(), "data.validation", conf);
    } else if (d.validationFraction() > 0) {
      ImageSet.Split s = ImageSet.split(train, d.validationFraction(), cfg.train().seed());
      if (s.train().count() == 0 || s.holdout().count() == 0) {
        throw new BadInputException("config key data.validation-fraction: "
            + d.validationFraction() + " of " + train.count()
            + " samples leaves an empty training or validation set");
      }
      train = s.train();
      val = s.holdout();
    }
    // the sizes are known here, before Spark starts (the trainer checks every source again)
    checkGlobalBatch(train.count(), cfg.train().globalBatch());
    ImageSet test = d.test().present() ? Inputs.read(cfg, d.test(), "data.test", conf) : null;
    ImageSet fitOn = train;
    Normalization norm = Normalization.resolve(d, cfg.model().input().channels(),
        () -> Normalization.fit(fitOn, d.scale()));
    return new TrainingData(new ArraySplit(norm.apply(train),
        java.util.OptionalLong.of(checksum(train))),
        val == null ? null : new ArraySplit(norm.apply(val), java.util.OptionalLong.of(
            checksum(val))),
        test == null ? null : new ArraySplit(norm.apply(test)), norm);
  }

  /**
   * Refuses a global batch larger than the training split: every epoch would be one step of
   * fewer samples than the batch the learning rate was scaled for (linear scaling at 1024 for
   * 240 samples raises the rate x 8 for batches of 240).
   *
   * @throws BadInputException naming config key train.global-batch
   */
  public static void checkGlobalBatch(long trainSamples, int globalBatch) {
    if (globalBatch > trainSamples) {
      throw new BadInputException("config key train.global-batch: expected at most the "
          + trainSamples + " training samples (after any validation split), found " + globalBatch
          + ": an epoch would be a single step of " + trainSamples + " samples with the "
          + "learning rate scaled for a batch of " + globalBatch);
    }
  }
}
