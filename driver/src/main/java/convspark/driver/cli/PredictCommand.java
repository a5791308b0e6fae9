package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.driver.config.Preflight;
import convspark.driver.config.RunConfig;
import convspark.driver.data.Frames;
import convspark.driver.data.ImageSet;
import convspark.driver.data.Inputs;
import convspark.driver.exec.ImageRows;
import convspark.driver.exec.ExecutorBlas;
import convspark.driver.exec.Partitions;
import convspark.driver.ml.CnnClassificationModel;
import convspark.driver.train.SparkSessions;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code convspark predict}: scores the data set of config keys data.test.* with a checkpoint,
 * through the same {@link CnnClassificationModel} as the Spark ML API (batched forward passes on
 * the executors), and writes one row per sample: an id column when there is one ({@code index}
 * for idx and csv inputs, the file for images), the label when present (idx and csv inputs always
 * carry one; a DataFrame source may leave it out), {@code prediction} and
 * the class probabilities ({@code probability}, array&lt;double&gt;, in Parquet; {@code
 * p0..pK-1} in CSV, which has no arrays). Prints rows/s.
 */
@Command(name = "predict", mixinStandardHelpOptions = true, version = Main.VERSION,
    description = "Predict classes for the data set of config keys data.test.*")
public final class PredictCommand implements Callable<Integer> {
  @Mixin CommonOptions common;

  @Spec CommandSpec spec;

  @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
  Checkpoints.ModelSource model;

  @Option(names = "--output", required = true, paramLabel = "PATH",
      description = "Where the predictions go (a directory of part files, as Spark writes; "
          + "any Hadoop FileSystem URI; a missing parent directory is created).")
  String output;

  /** Output formats. */
  enum Format {
    parquet,
    csv
  }

  @Option(names = "--format", paramLabel = "parquet|csv",
      description = "Output format (default: from the --output extension, else parquet).")
  Format format;

  @Option(names = "--id-col", paramLabel = "COLUMN",
      description = "For data.format = dataframe: a column copied to the output to identify "
          + "rows (default: the image's origin for source = image, else a column named id if "
          + "there is one).")
  String idCol;

  @Option(names = "--overwrite", description = "Replace an existing --output that holds an "
      + "earlier prediction (a directory of part files; anything else is refused).")
  boolean overwrite;

  @Override
  public Integer call() throws Exception {
    Checkpoints.Loaded loaded = Checkpoints.load(model, common);
    Checkpoint c = loaded.checkpoint();
    RunConfig cfg = Checkpoints.config(common, loaded);
    if (!cfg.data().test().present()) {
      throw new BadInputException("config keys data.test.*: no data to predict (set "
          + "data.test.images and data.test.labels for idx, data.test.path for csv and "
          + "dataframe)");
    }
    Preflight.inference(cfg, new Network(cfg.model()));
    CnnClassificationModel model = CnnClassificationModel.fromCheckpoint(c);
    model.setInferenceBatch(cfg.predict().inferenceBatch());
    Format fmt = format != null ? format
        : output.toLowerCase(Locale.ROOT).replaceAll("/+$", "").endsWith(".csv") ? Format.csv
            : Format.parquet;
    // before Spark starts: the file systems as spark.hadoop.* of the config sets them up
    Configuration conf = RunIdentity.hadoopConf(cfg);
    checkOutput(conf, cfg);
    boolean frames = cfg.data().format() == RunConfig.Format.DATAFRAME;
    if (idCol != null && !frames) {
      throw new BadInputException("--id-col " + idCol + ": names a DataFrame column, and "
          + "data.format is " + cfg.data().format().name().toLowerCase(Locale.ROOT) + " (whose "
          + "rows the output identifies by their index); leave it out or use data.format = "
          + "dataframe");
    }
    // idx and csv are read (and checked) on the driver before Spark starts
    ImageSet set = frames ? null : Inputs.read(cfg, cfg.data().test(), "data.test", conf);
    SparkSession spark = Cli.startSpark(cfg, common.master);
    // the temporary output of a write that failed: deleted once the failed job's other tasks
    // are gone (one still running makes its attempt directory again after a first delete)
    Path failedWrite = null;
    FileSystem failedFs = null;
    try {
      List<Column> keep = new ArrayList<>();
      Dataset<Row> in;
      if (frames) {
        RunConfig.Frame f = cfg.data().frame();
        in = Frames.read(spark, f.source(), f.options(), cfg.data().test().path(),
            "data.test.path");
        List<String> names = Arrays.asList(in.schema().fieldNames());
        String features = f.featuresCol();
        if (!names.contains(features) && f.source().equals("image") && names.contains("image")) {
          features = "image";
        }
        model.setFeaturesCol(features);
        if (idCol != null) {
          if (!names.contains(idCol)) {
            throw new BadInputException("--id-col: Column " + idCol + " does not exist; "
                + "available columns: " + names);
          }
          org.apache.spark.sql.types.DataType t = in.schema().apply(idCol).dataType();
          if (fmt == Format.csv && !(t instanceof org.apache.spark.sql.types.NumericType
              || t instanceof org.apache.spark.sql.types.StringType
              || t instanceof org.apache.spark.sql.types.BooleanType
              || t instanceof org.apache.spark.sql.types.DateType
              || t instanceof org.apache.spark.sql.types.TimestampType)) {
            // else Spark's write fails after the scoring, exit 3 in its own words
            throw new BadInputException("--id-col " + idCol + ": a column of type "
                + t.simpleString() + ", which CSV cannot hold; expected a column of numbers, "
                + "text, booleans, dates or timestamps, or write Parquet (--format parquet)");
          }
          keep.add(Frames.column(idCol));
        } else if (features.equals("image") && names.contains("image")) {
          keep.add(functions.col("image.origin").as("origin"));
        } else if (names.contains("id")) {
          keep.add(Frames.column("id"));
        }
        if (names.contains(f.labelCol()) && !f.labelCol().equals(idCol)) {
          keep.add(Frames.column(f.labelCol()));
        }
      } else {
        JavaSparkContext jsc = SparkSessions.context(spark);
        in = ImageRows.frame(spark, set, Partitions.count(cfg.train().workers(), jsc));
        model.setFeaturesCol("features");
        keep.add(functions.col("index"));
        keep.add(functions.col("label"));
      }
      Dataset<Row> scored = model.setRawPredictionCol("").transform(in);
      keep.add(functions.col(model.getPredictionCol()));
      Column prob = org.apache.spark.ml.functions.vector_to_array(
          functions.col(model.getProbabilityCol()), "float64");
      if (fmt == Format.csv) {
        for (int j = 0; j < model.numClasses(); j++) {
          keep.add(prob.getItem(j).as("p" + j));
        }
      } else {
        keep.add(prob.as("probability"));
      }
      long t0 = System.nanoTime();
      // written beside the old output, which is replaced only once the new one is complete
      Path target = new Path(output);
      FileSystem fs = target.getFileSystem(spark.sparkContext().hadoopConfiguration());
      Path tmp = new Path(target.getParent(), "." + target.getName() + ".new-"
          + java.util.UUID.randomUUID());
      try {
        try {
          scored.select(keep.toArray(new Column[0])).write()
              .mode(SaveMode.ErrorIfExists)
              .option("header", "true")
              .format(fmt.name())
              .save(tmp.toString());
        } catch (Exception e) { // SparkException too, which Scala throws undeclared
          failedWrite = tmp;
          failedFs = fs;
          throw inInput(e, frames ? cfg.data().test().path() : null);
        }
        replace(fs, tmp, target);
      } finally {
        fs.delete(tmp, true);
      }
      double secs = (System.nanoTime() - t0) / 1e9;
      // which BLAS scored, on the driver and the executors, on standard error as evaluate says
      // it; once the output is written, so that a failure's error stays its one line
      ExecutorBlas.lines(ExecutorBlas.probe(SparkSessions.context(spark)))
          .forEach(spec.commandLine().getErr()::println);
      long rows = set != null ? set.count()
          : spark.read().option("header", "true").format(fmt.name()).load(output).count();
      System.out.printf("predicted %d rows in %.2f s (%.0f rows/s); written to %s (%s)%n",
          rows, secs, rows / secs, output, fmt);
    } finally {
      SparkSessions.stop(spark);
      if (failedWrite != null) {
        try {
          failedFs.delete(failedWrite, true);
        } catch (IOException | RuntimeException e) {
          System.err.println("convspark: warning: could not delete " + failedWrite + ": " + e);
        }
      }
    }
    return Main.OK;
  }

  /** The files of a Spark write: part files, the success mark, commit marks, checksums. */
  private static final java.util.regex.Pattern SPARK_WRITE = java.util.regex.Pattern.compile(
      "part-.*|_SUCCESS|_committed_.*|_started_.*|\\..*\\.crc");

  /**
   * {@code e}, or where it is a bad row found while scoring (the model's "Column features (row 7
   * of partition 0): ...", which knows no file) the same error naming the input it was read
   * from, {@code path} (data.test.path; null for idx and csv, checked on the driver).
   */
  static Exception inInput(Exception e, String path) {
    BadInputException bad = BadInputException.in(e);
    if (path == null || bad == null || !String.valueOf(bad.getMessage()).startsWith("Column ")) {
      return e;
    }
    return new BadInputException("data.test.path " + path + ": " + bad.getMessage(), e);
  }

  /** Moves {@code fresh} to {@code target}, replacing what is there (--overwrite). */
  private void replace(FileSystem fs, Path fresh, Path target) throws IOException {
    Path old = null;
    if (fs.exists(target)) {
      if (!overwrite) {
        throw new BadInputException("--output " + output + ": appeared while predicting; pass "
            + "--overwrite to replace it");
      }
      old = new Path(target.getParent(), "." + target.getName() + ".old-"
          + java.util.UUID.randomUUID());
      if (!fs.rename(target, old)) {
        throw new IOException("could not move " + target + " aside to " + old);
      }
    }
    if (!fs.rename(fresh, target)) {
      if (old != null) {
        fs.rename(old, target);
      }
      throw new IOException("could not move " + fresh + " to " + target);
    }
    if (old != null) {
      fs.delete(old, true);
    }
  }

  /**
   * An existing --output is replaced only with --overwrite; on the local file system its
   * directory must be writable, or creatable (other file systems are left to the write).
   */
  private void checkOutput(Configuration conf, RunConfig cfg) throws IOException {
    Path p = new Path(output);
    FileSystem fs = p.getFileSystem(conf);
    Path q = fs.makeQualified(p);
    // what the command reads is never what it replaces
    RunConfig.Input test = cfg.data().test();
    String[][] inputs = {{"--checkpoint", model.checkpoint}, {"--init-from", model.initFrom},
        {"data.test.path", test.path()},
        {"data.test.images", test.images()}, {"data.test.labels", test.labels()}};
    for (String[] in : inputs) {
      if (in[1] == null || in[1].isEmpty()) {
        continue;
      }
      Path i = new Path(in[1]);
      if (!i.toUri().isAbsolute() && i.toUri().getScheme() == null) {
        i = new Path(new java.io.File(in[1]).getAbsolutePath());
      }
      Path iq;
      try {
        iq = i.getFileSystem(conf).makeQualified(i);
      } catch (IOException | IllegalArgumentException e) {
        continue; // the read names it
      }
      for (Path a = iq; a != null; a = a.getParent()) {
        if (a.equals(q)) {
          throw new BadInputException("--output " + output + ": " + (a == iq ? "is" : "holds")
              + " the input " + in[0] + " (" + in[1] + "); choose another --output");
        }
      }
    }
    if (fs.exists(p)) {
      if (!overwrite) {
        throw new BadInputException("--output " + output + ": exists; pass --overwrite to "
            + "replace it");
      }
      // only an earlier prediction is replaced: a directory of a Spark write's files
      if (!fs.getFileStatus(p).isDirectory()) {
        throw new BadInputException("--output " + output + ": is a file, not an earlier "
            + "prediction (a directory of part files), which --overwrite replaces; choose "
            + "another --output");
      }
      for (org.apache.hadoop.fs.FileStatus f : fs.listStatus(p)) {
        String n = f.getPath().getName();
        if (f.isDirectory() || !SPARK_WRITE.matcher(n).matches()) {
          throw new BadInputException("--output " + output + ": holds " + n + ", which a "
              + "prediction does not write: --overwrite replaces only an earlier prediction; "
              + "choose another --output");
        }
      }
    }
    if ("file".equals(fs.getUri().getScheme())) {
      OutputPaths.checkParent("--output " + output, java.nio.file.Path.of(
          fs.makeQualified(p).toUri()));
    }
  }
}
