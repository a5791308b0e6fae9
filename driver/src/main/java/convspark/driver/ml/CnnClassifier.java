package convspark.driver.ml;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.spec.Shape;
import convspark.common.spec.StoredHocon;
import convspark.driver.config.Preflight;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.config.Utf8Text;
import convspark.driver.data.Frames;
import convspark.driver.exec.Partitions;
import convspark.driver.train.CheckpointStore;
import convspark.driver.train.ExecutorWatch;
import convspark.driver.train.SparkSessions;
import convspark.driver.train.Trainer;
import convspark.driver.train.TrainingData;
import convspark.driver.train.TrainingListener;
import convspark.worker.TrainingFailedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkContext;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trains a convspark CNN as a Spark ML {@link Estimator}, in the style of Spark's {@code
 * MultilayerPerceptronClassifier}: data-parallel SGD/Adam over the dataset's rows with the same
 * {@link Trainer} as {@code convspark train} (linear-scaling rule, warmup, batch norm, early
 * stopping on a seeded validation split, or on the rows {@link #validationIndicatorCol()}
 * marks), giving a {@link CnnClassificationModel}.
 *
 * <p>The model is {@link #modelSpec()} (HOCON of the {@code model} block, see
 * conf/fashion-mnist.conf for an example) or the file {@link #modelSpecPath()}. The features column ({@code features})
 * is an ML Vector, an array of numbers in C,H,W order, or an image struct of {@code
 * spark.read.format("image")}; the label column ({@code label}) holds class indices 0..K-1, e.g.
 * from StringIndexer. The training params map to convspark config keys ({@link #configKeys()});
 * {@link #extraConfig()} sets any other key that fit uses (HOCON, e.g. {@code
 * "data.normalize.mode = none"}); keys that fit would ignore (input files and formats, the
 * validation and test sets, {@code predict.*}, {@code spark.*} but {@code
 * spark.executor-wait-seconds}, a model block beside modelSpec) are refused with a message
 * saying what to use instead. A param set explicitly wins over the
 * same key in extraConfig; its default does not.
 *
 * <p>{@code fit} builds the run's config from the params and validates it as the CLI does
 * ({@link RunConfig#parse}); invalid values fail when set (Spark's param validators) or at fit
 * with a message naming the key and param; bad columns fail with messages naming the column.
 * Training progress is logged to the logger {@code convspark.driver.ml.CnnClassifier} (INFO).
 */
public final class CnnClassifier extends Estimator<CnnClassificationModel>
    implements TrainingParams<CnnClassifier>, MLWritable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(CnnClassifier.class);

  private final String uid;

  private final ScoringParams.Declared scoring;
  private final TrainingParams.Declared training;

  public CnnClassifier() {
    this(Identifiable.randomUID("cnnClassifier"));
  }

  public CnnClassifier(String uid) {
    this.uid = uid;
    this.scoring = new ScoringParams.Declared(this);
    this.training = new TrainingParams.Declared(this);
  }

  @Override
  public ScoringParams.Declared scoring() {
    return scoring;
  }

  @Override
  public TrainingParams.Declared training() {
    return training;
  }

  @Override
  public String uid() {
    return uid;
  }

  // ------------------------------------------------------------------------------ config

  /**
   * The values of modelSpec, modelSpecPath and extraConfig that {@link #read} took from a saved
   * stage (a Pipeline or CrossValidator on disk), by param name. Such text is data, not the
   * caller's own config: while a param still holds the value read, it is parsed as {@link
   * StoredHocon} (no include, no environment), as stored specs of checkpoints are. A value the
   * caller sets afterwards is their own, with full HOCON.
   */
  private Map<String, String> readValues = Map.of();

  /** Whether param {@code p} still holds the value {@link #read} gave it. */
  private boolean asRead(Param<String> p, String value) {
    return value.equals(readValues.get(p.name()));
  }

  /** Parses and resolves {@code text}, as stored data where {@code stored}. */
  private static Config hocon(String text, boolean stored) {
    return stored ? StoredHocon.parse(text) : ConfigFactory.parseString(text).resolve();
  }

  /** The model block from modelSpec, modelSpecPath or extraConfig's model key. */
  private Config modelBlock(Config extra, SparkContext sc) {
    String spec = getModelSpec().isBlank() ? "" : getModelSpec();
    String path = getModelSpecPath();
    if (!spec.isEmpty() && !path.isEmpty()) {
      throw new IllegalArgumentException("CnnClassifier: set modelSpec or modelSpecPath, not "
          + "both");
    }
    String where = "modelSpec";
    boolean stored = asRead(modelSpec(), spec);
    if (!path.isEmpty()) {
      spec = readText(path, sc);
      where = "modelSpecPath " + path;
      stored = asRead(modelSpecPath(), path); // a path a saved stage names: its file is data
    }
    if (spec.isEmpty() && path.isEmpty()) {
      if (extra.hasPath("model")) {
        return extra.getConfig("model");
      }
      throw new IllegalArgumentException("CnnClassifier: no model; set modelSpec (HOCON of the "
          + "model block: input { channels, height, width }, layers = [...]) or modelSpecPath");
    }
    Config c;
    try {
      c = hocon(spec, stored);
    } catch (ConfigException e) {
      throw new BadInputException(where + ": " + e.getMessage().replace('\n', ' '), e);
    }
    // a file with a model block (e.g. a convspark run config): that block; else the content
    Config block = c.hasPath("model") ? c.getConfig("model") : c;
    if (!block.hasPath("input") && !block.hasPath("layers")) {
      // else RunConfig's "config key model: missing" or "unknown key 'train'" would name
      // neither the param nor the file
      String found = c.isEmpty() ? "holds no model"
          : c.hasPath("model") ? "its model block has neither input nor layers"
          : "holds no model block (found " + String.join(", ", c.root().keySet()) + ")";
      throw new BadInputException(where + ": " + found + "; expected the model block's HOCON "
          + "(input { channels, height, width }, layers = [...]) or a convspark run config "
          + "with a model block");
    }
    return block;
  }

  private static String readText(String path, SparkContext sc) {
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
    try {
      FileSystem fs = p.getFileSystem(hadoopConf(sc));
      if (!fs.exists(p)) {
        throw new BadInputException("modelSpecPath " + path + ": no such file");
      }
      try (InputStream in = fs.open(p)) {
        return Utf8Text.decode(in.readAllBytes(), "modelSpecPath " + path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("modelSpecPath " + path + ": " + e.getMessage(), e);
    }
  }

  /**
   * The Hadoop configuration to read modelSpecPath with: the given context's, else (from
   * transformSchema, which has no context) the active or default session's, so a path on a file
   * system configured through spark.hadoop.* reads the same in transformSchema as in fit.
   */
  private static org.apache.hadoop.conf.Configuration hadoopConf(SparkContext sc) {
    if (sc != null) {
      return sc.hadoopConfiguration();
    }
    scala.Option<org.apache.spark.sql.SparkSession> s =
        org.apache.spark.sql.SparkSession.getActiveSession();
    if (s.isEmpty()) {
      s = org.apache.spark.sql.SparkSession.getDefaultSession();
    }
    return s.isDefined() ? s.get().sparkContext().hadoopConfiguration()
        : new org.apache.hadoop.conf.Configuration();
  }

  private Config extra() {
    try {
      return hocon(getExtraConfig(), asRead(extraConfig(), getExtraConfig()));
    } catch (ConfigException e) {
      throw new BadInputException("CnnClassifier extraConfig: " + e.getMessage()
          .replace('\n', ' '), e);
    }
  }

  private static String render(Object v) {
    return ConfigValueFactory.fromAnyRef(v).render(ConfigRenderOptions.concise());
  }

  /**
   * The run's configuration: convspark's defaults, then extraConfig, then the params (set ones
   * always, defaults only where extraConfig does not set the key), validated like the CLI's.
   */
  public RunConfig runConfig() {
    return runConfig(null);
  }

  RunConfig runConfig(SparkContext sc) {
    Config extra = extra();
    for (Map.Entry<String, ConfigValue> e : extra.entrySet()) {
      String unused = unusedByFit(e.getKey());
      if (unused != null) {
        throw new BadInputException("CnnClassifier extraConfig: " + e.getKey() + " is not used "
            + "by fit: " + unused);
      }
    }
    if (extra.hasPath("model") && (!getModelSpec().isEmpty() || !getModelSpecPath().isEmpty())) {
      throw new BadInputException("CnnClassifier extraConfig: its model block would be ignored: "
          + "param " + (getModelSpec().isEmpty() ? "modelSpecPath" : "modelSpec") + " gives the "
          + "model; set one of them");
    }
    List<String> sets = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : extra.entrySet()) {
      if (!e.getKey().equals("model") && !e.getKey().startsWith("model.")) {
        sets.add(e.getKey() + "=" + e.getValue().render(ConfigRenderOptions.concise()));
      }
    }
    Map<Param<?>, String> keys = keyedParams();
    for (Param<String> col : List.of(labelCol(), featuresCol())) {
      // fit and transform read the columns the params name: extraConfig cannot move them
      String key = keys.get(col);
      if (extra.hasPath(key) && !String.valueOf(extra.getValue(key).unwrapped())
          .equals(getOrDefault(col))) {
        throw new BadInputException("CnnClassifier extraConfig: " + key + " = "
            + extra.getValue(key).unwrapped() + " differs from param "
            + col.name() + " = " + getOrDefault(col) + "; set the param instead");
      }
    }
    for (Map.Entry<Param<?>, String> e : keys.entrySet()) {
      if (e.getKey() == validationFraction() && !isSet(validationFraction())
          && !extra.hasPath(e.getValue()) && !getValidationIndicatorCol().isEmpty()) {
        // the column gives the validation rows: the unset fraction's default holds none out,
        // and the run's summary.json says so rather than a fraction nobody used
        sets.add(e.getValue() + "=0");
        continue;
      }
      if (isSet(e.getKey()) || !extra.hasPath(e.getValue())) {
        sets.add(e.getValue() + "=" + render(getOrDefault(e.getKey())));
      }
    }
    sets.add("data.format=dataframe");
    Config model = modelBlock(extra, sc);
    sets.add("model=" + model.root().render(ConfigRenderOptions.concise()));
    try {
      return RunConfig.parse(Settings.load(null, sets));
    } catch (BadInputException e) {
      throw new BadInputException(withParamNames(
          e.getMessage().replaceFirst("^--set", "CnnClassifier extraConfig")), e);
    }
  }

  /**
   * {@code msg} with the first mention of each key a param sets ("config key K:", "K gives")
   * naming where the value came from: the param, or extraConfig where the param is not set and
   * extraConfig sets the key (a param's name there would send the caller to a param they never
   * set, whose getter shows its default).
   */
  private String withParamNames(String msg) {
    Config extra;
    try {
      extra = extra();
    } catch (BadInputException e) {
      extra = ConfigFactory.empty();
    }
    for (Map.Entry<Param<?>, String> k : keyedParams().entrySet()) {
      String from = !isSet(k.getKey()) && extra.hasPath(k.getValue()) ? "CnnClassifier extraConfig"
          : "CnnClassifier param " + k.getKey().name();
      msg = msg.replaceFirst("(?<![\\w.-])" + java.util.regex.Pattern.quote(k.getValue())
          + "(?=:| gives )", java.util.regex.Matcher.quoteReplacement(k.getValue() + " (" + from
          + ")"));
    }
    return msg;
  }

  /**
   * Why fit ignores config key {@code key}, or null when it uses it. fit trains on the DataFrame
   * it is given, in the caller's SparkSession, and the fitted model scores with its own params:
   * the keys that name files, formats, sessions or the CLI's scoring would be accepted and do
   * nothing, so they are refused.
   */
  static String unusedByFit(String key) {
    if (key.equals("data.format") || key.startsWith("data.train.") || key.startsWith("data.csv.")
        || key.equals("data.dataframe.source") || key.startsWith("data.dataframe.options")) {
      return "fit trains on the DataFrame it is given";
    }
    if (key.startsWith("data.validation.")) {
      return "fit validates on the rows of the DataFrame it is given that param "
          + "validationIndicatorCol marks, else holds out param validationFraction of them";
    }
    if (key.startsWith("data.test.")) {
      return "fit runs no test; score a test DataFrame with the fitted model's transform";
    }
    if (key.startsWith("predict.")) {
      return "set param inferenceBatch on the classifier or the fitted model instead";
    }
    if (key.startsWith("spark.") && !key.equals("spark.executor-wait-seconds")) {
      return "fit runs in the caller's SparkSession; configure that session instead";
    }
    return null;
  }

  // ------------------------------------------------------------------------------ fit

  @Override
  public StructType transformSchema(StructType schema) {
    RunConfig cfg = runConfig();
    FeatureColumns.featuresKind(schema, getFeaturesCol());
    FeatureColumns.checkSize(schema, getFeaturesCol(), cfg.model().input());
    FeatureColumns.checkLabel(schema, getLabelCol(), cfg.model().classes());
    String indicator = getValidationIndicatorCol();
    if (!indicator.isEmpty()) {
      checkOneValidation(cfg, indicator);
      FeatureColumns.checkIndicator(schema, indicator, validationIndicatorCol().name());
    }
    return FeatureColumns.withOutputs(schema, getRawPredictionCol(), getProbabilityCol(),
        getPredictionCol(), cfg.model().classes());
  }

  /**
   * Refuses a validation fraction beside validationIndicatorCol {@code col}: one of them gives
   * the validation rows (validationFraction's default is ignored, not a set value).
   */
  private void checkOneValidation(RunConfig cfg, String col) {
    String key = keyedParams().get(validationFraction());
    if (isSet(validationFraction()) && getValidationFraction() > 0) {
      throw new BadInputException("CnnClassifier: set param validationIndicatorCol (= " + col
          + ") or validationFraction (= " + getValidationFraction() + "), not both");
    }
    if (!isSet(validationFraction()) && extra().hasPath(key)
        && cfg.data().validationFraction() > 0) {
      throw new BadInputException("CnnClassifier extraConfig: " + key + " = "
          + cfg.data().validationFraction() + " would be ignored: param validationIndicatorCol "
          + "(= " + col + ") gives the validation rows; set one of them");
    }
  }

  /** The error of a null in validationIndicatorCol {@code col}. */
  static String nullIndicator(String col) {
    return "Column " + col + " (param validationIndicatorCol) holds null in a row; every row "
        + "must be true (validation) or false (training)";
  }

  /** Whether {@code t} or a cause of it says {@code message} (Spark wraps executors' errors). */
  private static boolean says(Throwable t, String message) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c.getMessage() != null && c.getMessage().contains(message)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public CnnClassificationModel fit(Dataset<?> dataset) {
    transformSchema(dataset.schema());
    SparkContext sc = dataset.sparkSession().sparkContext();
    RunConfig cfg = runConfig(sc);
    // what the CLI checks before Spark starts: batches that fit in Java arrays (the evaluation
    // batch is first used after an epoch), the model's driver-side copies in this JVM's heap
    try {
      Preflight.check(cfg, Runtime.getRuntime().maxMemory());
    } catch (BadInputException e) {
      String named = withParamNames(e.getMessage());
      throw named.equals(e.getMessage()) ? e : new BadInputException(named, e);
    }
    int workers = cfg.train().workers();
    // the trainer checks this too, but only after a pass over the data (at 0 the trainer picks
    // a count that divides the batch)
    if (workers > 0) {
      Partitions.localBatch(cfg.train().globalBatch(), workers,
          "train.global-batch (CnnClassifier param globalBatch)", "param numWorkers");
    }
    String label = getLabelCol();
    String features = getFeaturesCol();
    Frames.Columns cols = new Frames.Columns(label, features);
    String source = "CnnClassifier input (labelCol " + label + ", featuresCol " + features + ")";
    Dataset<Row> train = dataset.toDF().select(Frames.column(label), Frames.column(features));
    Dataset<Row> whole = train;
    Dataset<Row> val = null;
    String trainSource = source;
    String valSource = null;
    String indicator = getValidationIndicatorCol();
    double fraction = cfg.data().validationFraction();
    if (!indicator.isEmpty()) {
      // a null fails the job that reads the row (the normalisation or packing pass, no pass of
      // its own); the catch below turns Spark's error back into this message
      Column v = Frames.column(indicator);
      Column isVal = functions.when(v.isNull(),
          functions.raise_error(functions.lit(nullIndicator(indicator)))).otherwise(v);
      Dataset<Row> all = dataset.toDF();
      train = all.filter(functions.not(isVal))
          .select(Frames.column(label), Frames.column(features));
      val = all.filter(isVal).select(Frames.column(label), Frames.column(features));
      String held = " (param validationIndicatorCol = " + indicator + ")";
      trainSource = source + ", its rows where " + indicator + " is false" + held;
      valSource = "the rows of the " + source + " where " + indicator + " is true" + held;
    } else if (fraction > 0) {
      List<Dataset<Row>> parts = Frames.split(train, fraction, cfg.train().seed());
      train = parts.get(0);
      val = parts.get(1);
      String held = " (param validationFraction = " + fraction + ")";
      trainSource = source + ", what the validation split left" + held;
      valSource = "validation split of the " + source + held;
    }
    String nullIndicator = indicator.isEmpty() ? null : nullIndicator(indicator);
    boolean temp = getOutputDir().isEmpty();
    Path out = null;
    boolean done = false;
    try {
      // before any pass over the data (the normalisation's): a directory fit cannot use fails
      // now, not after that pass
      out = temp ? Files.createTempDirectory("convspark-fit-") : outputDir(getOutputDir());
      if (!temp) {
        LOG.info("CnnClassifier.fit: run directory {}", out);
      }
      TrainingData data = TrainingData.ofFrames(cfg, train, val, null, cols, trainSource,
          valSource, null, val != null ? new TrainingData.CutFrom(whole, source) : null);
      String ckptDir = Trainer.defaultCheckpointDir(out);
      Trainer.Result r;
      // the caller's session has no executor watch (the CLI starts one with its session): a
      // cluster that loses every executor would leave fit waiting forever
      try (AutoCloseable watch = ExecutorWatch.during(sc, cfg.spark().executorWaitSeconds(),
          "CnnClassifier.fit")) {
        r = new Trainer(cfg, SparkSessions.context(dataset.sparkSession()), out, ckptDir,
            TrainingListener.lines(LOG::info)).run(data, false);
      }
      Checkpoint c = new CheckpointStore(ckptDir, 1, sc.hadoopConfiguration())
          .readNamed("final.bin").orElseThrow(() -> new IllegalStateException(
              "training wrote no final checkpoint in " + ckptDir));
      // the model scores; it does not resume training: drop the optimizer state
      Checkpoint slim = new Checkpoint(c.modelSpec(), c.epoch(), c.step(), c.params(),
          c.state(), c.optimizer(), new float[0][], c.optimizerSteps(), c.meta());
      Map<String, Object> summary = new LinkedHashMap<>(r.summary());
      summary.remove("test"); // fit runs no test: summary.json's block of nulls says nothing
      if (temp) {
        summary.remove("checkpoint_dir"); // deleted below with fit's temporary directory
      } else {
        summary.put("run_dir", out.toString());
      }
      CnnClassificationModel m = new CnnClassificationModel(uid, slim).withSummary(summary);
      copyValues(m, ParamMap.empty());
      done = true;
      return m.setParent(this);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (TrainingFailedException e) {
      if (nullIndicator != null && says(e, nullIndicator)) {
        // a lost cached block, computed again
        throw new BadInputException(nullIndicator, e);
      }
      if (!temp) {
        throw e;
      }
      // the message names the checkpoint directory it keeps, but a fit without outputDir
      // deletes its temporary one below
      throw new TrainingFailedException(e.getMessage().replaceAll(
          "; (the )?last good checkpoint[^;]*", "") + " (fit's checkpoints were in a temporary "
          + "directory, deleted with it: set param outputDir to keep them)", e);
    } catch (BadInputException e) {
      // what the trainer refuses once the data's size is known (train.global-batch) names the
      // param as the config's checks do
      String named = withParamNames(e.getMessage());
      throw named.equals(e.getMessage()) ? e : new BadInputException(named, e);
    } catch (Exception e) {
      // Spark wraps what the executors threw (SparkException is checked, but Scala throws it
      // anyway): surface a bad row's message as is
      if (nullIndicator != null && says(e, nullIndicator)) {
        throw new BadInputException(nullIndicator, e);
      }
      BadInputException bad = BadInputException.in(e.getCause());
      if (bad != null) {
        throw new BadInputException(bad.getMessage(), e);
      }
      throw CnnClassifier.<RuntimeException>sneaky(e);
    } finally {
      if (temp && out != null) {
        deleteQuietly(out);
      } else if (out != null && !done) {
        removeIfEmpty(out); // a fit that failed before writing leaves no empty fit-N behind
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static <E extends Exception> E sneaky(Exception e) throws E {
    throw (E) e;
  }

  /**
   * A new directory {@code fit-N} under param outputDir's directory (created if missing), N the
   * first number free: every fit its own, so that a second fit of the same estimator, or the
   * many fits of a CrossValidator (in parallel too), never meet in one run directory. Refused,
   * naming the param, when the directory is a file or cannot be created.
   */
  static Path outputDir(String dir) {
    String named = "CnnClassifier outputDir " + dir + ": ";
    Path p = Path.of(dir);
    if (Files.exists(p) && !Files.isDirectory(p)) {
      throw new BadInputException(named + "exists and is not a directory");
    }
    try {
      Files.createDirectories(p);
      for (int n = 1; n <= MAX_FITS; n++) {
        try {
          return Files.createDirectory(p.resolve("fit-" + n));
        } catch (FileAlreadyExistsException taken) {
          // an earlier fit's, or a parallel one's that came first: the next number
        }
      }
      throw new BadInputException(named + "holds fit-1 to fit-" + MAX_FITS + " already; "
          + "expected a directory with a free fit-N name (move or delete earlier fits)");
    } catch (IOException e) {
      throw new BadInputException(named + "cannot create it: " + e, e);
    }
  }

  /** The most fit-N directories param outputDir may hold. */
  static final int MAX_FITS = 100_000;

  private static void removeIfEmpty(Path dir) {
    try {
      Files.delete(dir);
    } catch (IOException notEmptyOrGone) {
      // it holds what the failed run wrote (its checkpoints among them): kept
    }
  }

  private static void deleteQuietly(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      LOG.warn("could not delete {}: {}", dir, e.toString());
    }
  }

  @Override
  public CnnClassifier copy(ParamMap extra) {
    CnnClassifier c = defaultCopy(extra);
    c.readValues = readValues; // a CrossValidator fits copies of the stage it loaded
    return c;
  }

  // ------------------------------------------------------------------------------ persistence

  @Override
  public MLWriter write() {
    return new MLWriter() {
      @Override
      public void saveImpl(String path) {
        MlPersistence.saveMetadata(CnnClassifier.this, path, sc(),
            Map.of(MlPersistence.FORMAT_KEY, CnnClassificationModel.FORMAT));
      }
    };
  }

  /** The reader {@code Pipeline.load} calls (via reflection) for this stage. */
  public static MLReader<CnnClassifier> read() {
    return new MLReader<>() {
      @Override
      public CnnClassifier load(String path) {
        JsonNode meta = MlPersistence.loadMetadata(path, sc(), CnnClassifier.class);
        MlPersistence.checkFormat(meta, CnnClassificationModel.FORMAT, path);
        CnnClassifier c = new CnnClassifier(meta.get("uid").asText());
        MlPersistence.applyParams(c, meta, path);
        Map<String, String> read = new LinkedHashMap<>();
        for (Param<String> p : List.of(c.modelSpec(), c.modelSpecPath(), c.extraConfig())) {
          read.put(p.name(), c.getOrDefault(p));
        }
        c.readValues = Map.copyOf(read);
        return c;
      }
    };
  }

  public static CnnClassifier load(String path) {
    return read().load(path);
  }
}
