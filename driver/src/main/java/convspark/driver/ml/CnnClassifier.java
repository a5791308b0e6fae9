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
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.data.Frames;
import convspark.driver.data.Normalization;
import convspark.driver.train.CheckpointStore;
import convspark.driver.train.SparkSessions;
import convspark.driver.train.Trainer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkContext;
import org.apache.spark.ml.Estimator;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Function1;

/**
 * Trains a convspark CNN as a Spark ML {@link Estimator}, in the style of Spark's {@code
 * MultilayerPerceptronClassifier}: data-parallel SGD/Adam over the dataset's rows with the same
 * {@link Trainer} as {@code convspark train} (linear-scaling rule, warmup, batch norm, early
 * stopping on a seeded validation split), giving a {@link CnnClassificationModel}.
 *
 * <p>The model is {@link #modelSpec()} (HOCON of the {@code model} block, see
 * docs/MODEL.md) or the file {@link #modelSpecPath()}. The features column ({@code features})
 * is an ML Vector, an array of numbers in C,H,W order, or an image struct of {@code
 * spark.read.format("image")}; the label column ({@code label}) holds class indices 0..K-1, e.g.
 * from StringIndexer. The training params map to convspark config keys ({@link #configKeys()});
 * {@link #extraConfig()} sets any other key (HOCON, e.g. {@code "data.normalize.mode = none"}).
 * A param set explicitly wins over the same key in extraConfig; its default does not.
 *
 * <p>{@code fit} builds the run's config from the params and validates it as the CLI does
 * ({@link RunConfig#parse}); invalid values fail when set (Spark's param validators) or at fit
 * with a message naming the key and param; bad columns fail with messages naming the column.
 * Training progress is logged to the logger {@code convspark.driver.ml.CnnClassifier} (INFO).
 */
public final class CnnClassifier extends Estimator<CnnClassificationModel> implements MLWritable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(CnnClassifier.class);

  private final String uid;

  private final Param<String> modelSpec;
  private final Param<String> modelSpecPath;
  private final Param<String> featuresCol;
  private final Param<String> labelCol;
  private final Param<String> predictionCol;
  private final Param<String> rawPredictionCol;
  private final Param<String> probabilityCol;
  private final IntParam globalBatch;
  private final DoubleParam baseLr;
  private final IntParam baseBatch;
  private final Param<String> scaling;
  private final DoubleParam warmupEpochs;
  private final IntParam epochs;
  private final Param<String> optimizer;
  private final DoubleParam momentum;
  private final BooleanParam nesterov;
  private final DoubleParam l1;
  private final DoubleParam l2;
  private final DoubleParam labelSmoothing;
  private final DoubleParam validationFraction;
  private final IntParam earlyStoppingPatience;
  private final LongParam seed;
  private final IntParam numWorkers;
  private final Param<String> extraConfig;
  private final Param<String> outputDir;
  private final IntParam inferenceBatch;

  public CnnClassifier() {
    this(Identifiable.randomUID("cnnClassifier"));
  }

  public CnnClassifier(String uid) {
    this.uid = uid;
    modelSpec = new Param<>(this, "modelSpec", "the network as HOCON: a model { input { "
        + "channels, height, width }, layers = [...] } block or its content");
    modelSpecPath = new Param<>(this, "modelSpecPath", "a HOCON file (any Hadoop file system) "
        + "with a model block (other keys are ignored, so a convspark run config works) or "
        + "the block's content; alternative to modelSpec");
    featuresCol = new Param<>(this, "featuresCol", "features column name: a Vector, an array "
        + "of numbers (C,H,W order) or an image struct", nonEmpty());
    labelCol = new Param<>(this, "labelCol", "label column name: class indices 0..K-1",
        nonEmpty());
    predictionCol = new Param<>(this, "predictionCol",
        "prediction column name (empty: not added)");
    rawPredictionCol = new Param<>(this, "rawPredictionCol",
        "raw prediction (logits) column name (empty: not added)");
    probabilityCol = new Param<>(this, "probabilityCol",
        "class probabilities column name (empty: not added)");
    globalBatch = new IntParam(this, "globalBatch", "samples per step over all workers (> 0; "
        + "divisible by the number of workers)", ParamValidators.gt(0));
    baseLr = new DoubleParam(this, "baseLr", "learning rate tuned for baseBatch (> 0)",
        ParamValidators.gt(0));
    baseBatch = new IntParam(this, "baseBatch", "batch size baseLr is tuned for (> 0)",
        ParamValidators.gt(0));
    scaling = new Param<>(this, "scaling", "learning-rate scaling for globalBatch / baseBatch:"
        + " linear, sqrt or none", ParamValidators.inArray(List.of("linear", "sqrt", "none")));
    warmupEpochs = new DoubleParam(this, "warmupEpochs", "gradual warmup epochs (>= 0)",
        ParamValidators.gtEq(0));
    epochs = new IntParam(this, "epochs", "training epochs (> 0)", ParamValidators.gt(0));
    optimizer = new Param<>(this, "optimizer", "sgd or adam",
        ParamValidators.inArray(List.of("sgd", "adam")));
    momentum = new DoubleParam(this, "momentum", "SGD momentum in [0, 1)",
        ParamValidators.inRange(0, 1, true, false));
    nesterov = new BooleanParam(this, "nesterov", "Nesterov momentum (SGD)");
    l1 = new DoubleParam(this, "l1", "L1 penalty on weights (>= 0)", ParamValidators.gtEq(0));
    l2 = new DoubleParam(this, "l2", "L2 penalty on weights (>= 0)", ParamValidators.gtEq(0));
    labelSmoothing = new DoubleParam(this, "labelSmoothing", "label smoothing in [0, 1)",
        ParamValidators.inRange(0, 1, true, false));
    validationFraction = new DoubleParam(this, "validationFraction", "fraction of the rows "
        + "held out (seeded) for validation and early stopping, in [0, 1)",
        ParamValidators.inRange(0, 1, true, false));
    earlyStoppingPatience = new IntParam(this, "earlyStoppingPatience", "stop after this many "
        + "epochs without validation improvement (0: never)", ParamValidators.gtEq(0));
    seed = new LongParam(this, "seed", "random seed (initialisation, shuffling, split)");
    numWorkers = new IntParam(this, "numWorkers", "data partitions = Spark tasks per step "
        + "(0: Spark's default parallelism)", ParamValidators.gtEq(0));
    extraConfig = new Param<>(this, "extraConfig", "HOCON setting any other convspark config "
        + "key, e.g. \"data.normalize.mode = none, train.schedule = cosine\"");
    outputDir = new Param<>(this, "outputDir", "local directory for summary.json, metrics, "
        + "plot and checkpoints (empty: a temporary directory, deleted after fit)");
    inferenceBatch = new IntParam(this, "inferenceBatch",
        "rows per forward pass when the model scores (> 0)", ParamValidators.gt(0));

    // every default in one place; training defaults are convspark's own (convspark-defaults.conf)
    Config d = Settings.defaults();
    setDefault(modelSpec, "");
    setDefault(modelSpecPath, "");
    setDefault(featuresCol, "features");
    setDefault(labelCol, "label");
    setDefault(predictionCol, "prediction");
    setDefault(rawPredictionCol, "rawPrediction");
    setDefault(probabilityCol, "probability");
    setDefault(globalBatch, d.getInt("train.global-batch"));
    setDefault(baseLr, d.getDouble("train.base-lr"));
    setDefault(baseBatch, d.getInt("train.base-batch"));
    setDefault(scaling, d.getString("train.scaling"));
    setDefault(warmupEpochs, d.getDouble("train.warmup-epochs"));
    setDefault(epochs, d.getInt("train.epochs"));
    setDefault(optimizer, d.getString("train.optimizer.type"));
    setDefault(momentum, d.getDouble("train.optimizer.momentum"));
    setDefault(nesterov, d.getBoolean("train.optimizer.nesterov"));
    setDefault(l1, d.getDouble("train.l1"));
    setDefault(l2, d.getDouble("train.l2"));
    setDefault(labelSmoothing, d.getDouble("train.label-smoothing"));
    setDefault(validationFraction, d.getDouble("data.validation-fraction"));
    setDefault(earlyStoppingPatience, d.getInt("train.early-stopping.patience"));
    setDefault(seed, d.getLong("train.seed"));
    setDefault(numWorkers, d.getInt("train.workers"));
    setDefault(extraConfig, "");
    setDefault(outputDir, "");
    setDefault(inferenceBatch, 256);
  }

  /** A serializable validator: non-empty string. */
  static Function1<String, Object> nonEmpty() {
    return check(s -> s != null && !s.isEmpty());
  }

  private static <T> Function1<T, Object> check(SerializablePredicate<T> p) {
    return (Function1<T, Object> & Serializable) v -> p.test(v);
  }

  private interface SerializablePredicate<T> extends Predicate<T>, Serializable {}

  @Override
  public String uid() {
    return uid;
  }

  // ------------------------------------------------------------------------------ params

  public Param<String> modelSpec() {
    return modelSpec;
  }

  public Param<String> modelSpecPath() {
    return modelSpecPath;
  }

  public Param<String> featuresCol() {
    return featuresCol;
  }

  public Param<String> labelCol() {
    return labelCol;
  }

  public Param<String> predictionCol() {
    return predictionCol;
  }

  public Param<String> rawPredictionCol() {
    return rawPredictionCol;
  }

  public Param<String> probabilityCol() {
    return probabilityCol;
  }

  public IntParam globalBatch() {
    return globalBatch;
  }

  public DoubleParam baseLr() {
    return baseLr;
  }

  public IntParam baseBatch() {
    return baseBatch;
  }

  public Param<String> scaling() {
    return scaling;
  }

  public DoubleParam warmupEpochs() {
    return warmupEpochs;
  }

  public IntParam epochs() {
    return epochs;
  }

  public Param<String> optimizer() {
    return optimizer;
  }

  public DoubleParam momentum() {
    return momentum;
  }

  public BooleanParam nesterov() {
    return nesterov;
  }

  public DoubleParam l1() {
    return l1;
  }

  public DoubleParam l2() {
    return l2;
  }

  public DoubleParam labelSmoothing() {
    return labelSmoothing;
  }

  public DoubleParam validationFraction() {
    return validationFraction;
  }

  public IntParam earlyStoppingPatience() {
    return earlyStoppingPatience;
  }

  public LongParam seed() {
    return seed;
  }

  public IntParam numWorkers() {
    return numWorkers;
  }

  public Param<String> extraConfig() {
    return extraConfig;
  }

  public Param<String> outputDir() {
    return outputDir;
  }

  public IntParam inferenceBatch() {
    return inferenceBatch;
  }

  public String getModelSpec() {
    return getOrDefault(modelSpec);
  }

  public String getModelSpecPath() {
    return getOrDefault(modelSpecPath);
  }

  public String getFeaturesCol() {
    return getOrDefault(featuresCol);
  }

  public String getLabelCol() {
    return getOrDefault(labelCol);
  }

  public String getPredictionCol() {
    return getOrDefault(predictionCol);
  }

  public String getRawPredictionCol() {
    return getOrDefault(rawPredictionCol);
  }

  public String getProbabilityCol() {
    return getOrDefault(probabilityCol);
  }

  public int getGlobalBatch() {
    return (Integer) getOrDefault(globalBatch);
  }

  public double getBaseLr() {
    return (Double) getOrDefault(baseLr);
  }

  public int getBaseBatch() {
    return (Integer) getOrDefault(baseBatch);
  }

  public String getScaling() {
    return getOrDefault(scaling);
  }

  public double getWarmupEpochs() {
    return (Double) getOrDefault(warmupEpochs);
  }

  public int getEpochs() {
    return (Integer) getOrDefault(epochs);
  }

  public String getOptimizer() {
    return getOrDefault(optimizer);
  }

  public double getMomentum() {
    return (Double) getOrDefault(momentum);
  }

  public boolean getNesterov() {
    return (Boolean) getOrDefault(nesterov);
  }

  public double getL1() {
    return (Double) getOrDefault(l1);
  }

  public double getL2() {
    return (Double) getOrDefault(l2);
  }

  public double getLabelSmoothing() {
    return (Double) getOrDefault(labelSmoothing);
  }

  public double getValidationFraction() {
    return (Double) getOrDefault(validationFraction);
  }

  public int getEarlyStoppingPatience() {
    return (Integer) getOrDefault(earlyStoppingPatience);
  }

  public long getSeed() {
    return (Long) getOrDefault(seed);
  }

  public int getNumWorkers() {
    return (Integer) getOrDefault(numWorkers);
  }

  public String getExtraConfig() {
    return getOrDefault(extraConfig);
  }

  public String getOutputDir() {
    return getOrDefault(outputDir);
  }

  public int getInferenceBatch() {
    return (Integer) getOrDefault(inferenceBatch);
  }

  public CnnClassifier setModelSpec(String v) {
    set(modelSpec, v);
    return this;
  }

  public CnnClassifier setModelSpecPath(String v) {
    set(modelSpecPath, v);
    return this;
  }

  public CnnClassifier setFeaturesCol(String v) {
    set(featuresCol, v);
    return this;
  }

  public CnnClassifier setLabelCol(String v) {
    set(labelCol, v);
    return this;
  }

  public CnnClassifier setPredictionCol(String v) {
    set(predictionCol, v);
    return this;
  }

  public CnnClassifier setRawPredictionCol(String v) {
    set(rawPredictionCol, v);
    return this;
  }

  public CnnClassifier setProbabilityCol(String v) {
    set(probabilityCol, v);
    return this;
  }

  public CnnClassifier setGlobalBatch(int v) {
    set(globalBatch, v);
    return this;
  }

  public CnnClassifier setBaseLr(double v) {
    set(baseLr, v);
    return this;
  }

  public CnnClassifier setBaseBatch(int v) {
    set(baseBatch, v);
    return this;
  }

  public CnnClassifier setScaling(String v) {
    set(scaling, v);
    return this;
  }

  public CnnClassifier setWarmupEpochs(double v) {
    set(warmupEpochs, v);
    return this;
  }

  public CnnClassifier setEpochs(int v) {
    set(epochs, v);
    return this;
  }

  public CnnClassifier setOptimizer(String v) {
    set(optimizer, v);
    return this;
  }

  public CnnClassifier setMomentum(double v) {
    set(momentum, v);
    return this;
  }

  public CnnClassifier setNesterov(boolean v) {
    set(nesterov, v);
    return this;
  }

  public CnnClassifier setL1(double v) {
    set(l1, v);
    return this;
  }

  public CnnClassifier setL2(double v) {
    set(l2, v);
    return this;
  }

  public CnnClassifier setLabelSmoothing(double v) {
    set(labelSmoothing, v);
    return this;
  }

  public CnnClassifier setValidationFraction(double v) {
    set(validationFraction, v);
    return this;
  }

  public CnnClassifier setEarlyStoppingPatience(int v) {
    set(earlyStoppingPatience, v);
    return this;
  }

  public CnnClassifier setSeed(long v) {
    set(seed, v);
    return this;
  }

  public CnnClassifier setNumWorkers(int v) {
    set(numWorkers, v);
    return this;
  }

  public CnnClassifier setExtraConfig(String v) {
    set(extraConfig, v);
    return this;
  }

  public CnnClassifier setOutputDir(String v) {
    set(outputDir, v);
    return this;
  }

  public CnnClassifier setInferenceBatch(int v) {
    set(inferenceBatch, v);
    return this;
  }

  /** The convspark config key each training param sets, in order. */
  public Map<String, String> configKeys() {
    Map<String, String> m = new LinkedHashMap<>();
    for (Map.Entry<Param<?>, String> e : keyed().entrySet()) {
      m.put(e.getKey().name(), e.getValue());
    }
    return m;
  }

  private Map<Param<?>, String> keyed() {
    Map<Param<?>, String> m = new LinkedHashMap<>();
    m.put(featuresCol, "data.dataframe.features-col");
    m.put(labelCol, "data.dataframe.label-col");
    m.put(validationFraction, "data.validation-fraction");
    m.put(epochs, "train.epochs");
    m.put(numWorkers, "train.workers");
    m.put(globalBatch, "train.global-batch");
    m.put(baseLr, "train.base-lr");
    m.put(baseBatch, "train.base-batch");
    m.put(scaling, "train.scaling");
    m.put(warmupEpochs, "train.warmup-epochs");
    m.put(optimizer, "train.optimizer.type");
    m.put(momentum, "train.optimizer.momentum");
    m.put(nesterov, "train.optimizer.nesterov");
    m.put(l1, "train.l1");
    m.put(l2, "train.l2");
    m.put(labelSmoothing, "train.label-smoothing");
    m.put(seed, "train.seed");
    m.put(earlyStoppingPatience, "train.early-stopping.patience");
    return m;
  }

  // ------------------------------------------------------------------------------ config

  /** The model block from modelSpec, modelSpecPath or extraConfig's model key. */
  private Config modelBlock(Config extra, SparkContext sc) {
    String spec = getModelSpec();
    String path = getModelSpecPath();
    if (!spec.isEmpty() && !path.isEmpty()) {
      throw new IllegalArgumentException("CnnClassifier: set modelSpec or modelSpecPath, not "
          + "both");
    }
    String where = "modelSpec";
    if (!path.isEmpty()) {
      spec = readText(path, sc);
      where = "modelSpecPath " + path;
    }
    if (spec.isEmpty()) {
      if (extra.hasPath("model")) {
        return extra.getConfig("model");
      }
      throw new IllegalArgumentException("CnnClassifier: no model; set modelSpec (HOCON of the "
          + "model block: input { channels, height, width }, layers = [...]) or modelSpecPath");
    }
    Config c;
    try {
      c = ConfigFactory.parseString(spec).resolve();
    } catch (ConfigException e) {
      throw new BadInputException(where + ": " + e.getMessage().replace('\n', ' '), e);
    }
    // a file with a model block (e.g. a convspark run config): that block; else the content
    return c.hasPath("model") ? c.getConfig("model") : c;
  }

  private static String readText(String path, SparkContext sc) {
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(path);
    try {
      FileSystem fs = p.getFileSystem(sc == null ? new org.apache.hadoop.conf.Configuration()
          : sc.hadoopConfiguration());
      if (!fs.exists(p)) {
        throw new BadInputException("modelSpecPath " + path + ": no such file");
      }
      try (InputStream in = fs.open(p)) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("modelSpecPath " + path + ": " + e.getMessage(), e);
    }
  }

  private Config extra() {
    try {
      return ConfigFactory.parseString(getExtraConfig()).resolve();
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
    List<String> sets = new ArrayList<>();
    for (Map.Entry<String, ConfigValue> e : extra.entrySet()) {
      if (!e.getKey().equals("model") && !e.getKey().startsWith("model.")) {
        sets.add(e.getKey() + "=" + e.getValue().render(ConfigRenderOptions.concise()));
      }
    }
    Map<Param<?>, String> keys = keyed();
    for (Map.Entry<Param<?>, String> e : keys.entrySet()) {
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
      String msg = e.getMessage().replaceFirst("^--set", "CnnClassifier extraConfig");
      for (Map.Entry<Param<?>, String> k : keys.entrySet()) {
        msg = msg.replace("config key " + k.getValue() + ":", "config key " + k.getValue()
            + " (CnnClassifier param " + k.getKey().name() + "):");
      }
      throw new BadInputException(msg, e);
    }
  }

  // ------------------------------------------------------------------------------ fit

  @Override
  public StructType transformSchema(StructType schema) {
    RunConfig cfg = runConfig();
    FeatureColumns.featuresKind(schema, getFeaturesCol());
    FeatureColumns.checkSize(schema, getFeaturesCol(), cfg.model().input());
    FeatureColumns.checkLabel(schema, getLabelCol(), cfg.model().classes());
    return FeatureColumns.withOutputs(schema, getRawPredictionCol(), getProbabilityCol(),
        getPredictionCol(), cfg.model().classes());
  }

  @Override
  public CnnClassificationModel fit(Dataset<?> dataset) {
    transformSchema(dataset.schema());
    SparkContext sc = dataset.sparkSession().sparkContext();
    RunConfig cfg = runConfig(sc);
    Shape shape = cfg.model().input();
    int classes = cfg.model().classes();
    int workers = cfg.train().workers();
    int partitions = workers > 0 ? workers : sc.defaultParallelism();
    if (cfg.train().globalBatch() % partitions != 0) {
      // the trainer checks this too, but only after a pass over the data
      throw new BadInputException("config key train.global-batch (CnnClassifier param "
          + "globalBatch): " + cfg.train().globalBatch() + " does not divide evenly over "
          + partitions + " workers (param numWorkers" + (workers == 0
              ? " = 0, i.e. Spark's default parallelism" : "") + ")");
    }
    String label = getLabelCol();
    String features = getFeaturesCol();
    Frames.Columns cols = new Frames.Columns(label, features);
    String source = "CnnClassifier input (labelCol " + label + ", featuresCol " + features + ")";
    Dataset<Row> train = dataset.toDF().select(label, features);
    Dataset<Row> val = null;
    double fraction = cfg.data().validationFraction();
    if (fraction > 0) {
      List<Dataset<Row>> parts = Frames.split(train, fraction, cfg.train().seed());
      train = parts.get(0);
      val = parts.get(1);
    }
    RunConfig.Data d = cfg.data();
    boolean temp = getOutputDir().isEmpty();
    Path out = null;
    try {
      Normalization norm = switch (d.normalize()) {
        case AUTO -> Frames.fit(train, cols, shape, d.scale(), source);
        case NONE -> Normalization.scaleOnly(d.scale(), shape.channels());
        case GIVEN -> Normalization.of(d.scale(), d.mean(), d.std(), shape.channels());
      };
      Trainer.Prepared data = new Trainer.Prepared(
          new Frames.FrameSplit(train, cols, shape, classes, norm, source),
          val == null ? null : new Frames.FrameSplit(val, cols, shape, classes, norm,
              "validation split of the " + source),
          null, norm);
      out = temp ? Files.createTempDirectory("convspark-fit-") : outputDir(getOutputDir());
      String ckptDir = out.resolve("checkpoints").toUri().toString();
      Trainer.Result r;
      try (PrintStream log = new PrintStream(new LogStream(LOG), true, StandardCharsets.UTF_8)) {
        r = new Trainer(cfg, SparkSessions.context(dataset.sparkSession()), out, ckptDir, log)
            .run(data, false);
      }
      Checkpoint c = new CheckpointStore(ckptDir, 1, sc.hadoopConfiguration())
          .readNamed("final.bin").orElseThrow(() -> new IllegalStateException(
              "training wrote no final checkpoint in " + ckptDir));
      // the model scores; it does not resume training: drop the optimizer state
      Checkpoint slim = new Checkpoint(c.modelSpec(), c.epoch(), c.step(), c.params(),
          c.state(), c.optimizer(), new float[0][], c.optimizerSteps(), c.meta());
      CnnClassificationModel m = new CnnClassificationModel(uid, slim).withSummary(r.summary());
      copyValues(m, ParamMap.empty());
      return m.setParent(this);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (BadInputException e) {
      throw e;
    } catch (Exception e) {
      // Spark wraps what the executors threw (SparkException is checked, but Scala throws it
      // anyway): surface a bad row's message as is
      for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
        if (t instanceof BadInputException) {
          throw new BadInputException(t.getMessage(), e);
        }
      }
      throw CnnClassifier.<RuntimeException>sneaky(e);
    } finally {
      if (temp && out != null) {
        deleteQuietly(out);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static <E extends Exception> E sneaky(Exception e) throws E {
    throw (E) e;
  }

  private static Path outputDir(String dir) throws IOException {
    Path p = Path.of(dir);
    if (Files.isDirectory(p)) {
      try (Stream<Path> s = Files.list(p)) {
        if (s.findAny().isPresent()) {
          throw new BadInputException("CnnClassifier outputDir " + dir + ": exists and is not "
              + "empty");
        }
      }
    }
    return Files.createDirectories(p);
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

  /** Forwards the trainer's lines to a logger. */
  private static final class LogStream extends OutputStream {
    private final Logger log;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    LogStream(Logger log) {
      this.log = log;
    }

    @Override
    public void write(int b) {
      if (b == '\n') {
        flushLine();
      } else {
        line.write(b);
      }
    }

    private void flushLine() {
      if (line.size() > 0) {
        log.info(line.toString(StandardCharsets.UTF_8));
        line.reset();
      }
    }

    @Override
    public void close() {
      flushLine();
    }
  }

  @Override
  public CnnClassifier copy(ParamMap extra) {
    return defaultCopy(extra);
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
        return c;
      }
    };
  }

  public static CnnClassifier load(String path) {
    return read().load(path);
  }
}
