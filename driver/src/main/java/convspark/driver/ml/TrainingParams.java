package convspark.driver.ml;

import com.typesafe.config.Config;
import convspark.driver.config.Settings;
import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;

/**
 * The training params of {@link CnnClassifier}, declared once, each with the convspark config
 * key it sets ({@link #configKeys()}) and its default taken from that key in
 * convspark-defaults.conf; {@link #validationIndicatorCol()} alone sets no config key (the CLI
 * has no such setting) and is not in {@link #keyedParams()}. As with {@link ScoringParams}, the stage holds the param objects in
 * a {@link Declared} made in its constructor.
 *
 * @param <S> the stage type the setters return
 */
public interface TrainingParams<S extends TrainingParams<S>> extends ScoringParams<S> {

  /** The training param objects of one stage and the config key each sets. */
  final class Declared implements Serializable {
    private static final long serialVersionUID = 1L;
    final Param<String> modelSpec;
    final Param<String> modelSpecPath;
    final DoubleParam validationFraction;
    final Param<String> validationIndicatorCol;
    final IntParam epochs;
    final IntParam numWorkers;
    final IntParam globalBatch;
    final DoubleParam baseLr;
    final IntParam baseBatch;
    final Param<String> scaling;
    final DoubleParam warmupEpochs;
    final Param<String> optimizer;
    final DoubleParam momentum;
    final BooleanParam nesterov;
    final DoubleParam l1;
    final DoubleParam l2;
    final DoubleParam labelSmoothing;
    final LongParam seed;
    final IntParam earlyStoppingPatience;
    final Param<String> extraConfig;
    final Param<String> outputDir;
    final Map<Param<?>, String> keys;

    /** Declares the params on {@code owner} (after its scoring params) with their defaults. */
    Declared(TrainingParams<?> owner) {
      modelSpec = new Param<>(owner, "modelSpec",
          "the network as HOCON: a model { input { channels, height, width }, "
          + "layers = [...] } block or its content", ScoringParams.notNull());
      modelSpecPath = new Param<>(owner, "modelSpecPath",
          "a HOCON file (any Hadoop file system) with a "
          + "model block (other keys are ignored, so a convspark run config works) or the "
          + "block's content; alternative to modelSpec", ScoringParams.notNull());
      validationFraction = new DoubleParam(owner, "validationFraction",
          "fraction of the rows held out "
          + "(seeded) for validation and early stopping, in [0, 1)",
          ParamValidators.inRange(0, 1, true, false));
      validationIndicatorCol = new Param<>(owner, "validationIndicatorCol", "name of the "
          + "column that indicates whether each row is for training or for validation: false = "
          + "training, true = validation (empty: hold out validationFraction instead)",
          ScoringParams.notNull());
      epochs = new IntParam(owner, "epochs", "training epochs (> 0)",
          ParamValidators.gt(0));
      numWorkers = new IntParam(owner, "numWorkers", "data partitions = Spark tasks per step "
          + "(0: Spark's default parallelism, or the largest count below it that divides "
          + "globalBatch)",
          ParamValidators.gtEq(0));
      globalBatch = new IntParam(owner, "globalBatch", "samples per step over all workers "
          + "(> 0; divisible by the number of workers)",
          ParamValidators.gt(0));
      baseLr = new DoubleParam(owner, "baseLr", "learning rate tuned for baseBatch (> 0)",
          Finite.and(ParamValidators.gt(0)));
      baseBatch = new IntParam(owner, "baseBatch", "batch size baseLr is tuned for (> 0)",
          ParamValidators.gt(0));
      scaling = new Param<>(owner, "scaling", "learning-rate scaling for globalBatch / "
          + "baseBatch: linear, sqrt or none",
          ParamValidators.inArray(List.of("linear", "sqrt", "none")));
      warmupEpochs = new DoubleParam(owner, "warmupEpochs", "gradual warmup epochs (>= 0)",
          Finite.and(ParamValidators.gtEq(0)));
      optimizer = new Param<>(owner, "optimizer", "sgd or adam",
          ParamValidators.inArray(List.of("sgd", "adam")));
      momentum = new DoubleParam(owner, "momentum", "SGD momentum in [0, 1)",
          ParamValidators.inRange(0, 1, true, false));
      nesterov = new BooleanParam(owner, "nesterov", "Nesterov momentum (SGD)");
      l1 = new DoubleParam(owner, "l1", "L1 penalty on weights (>= 0)",
          Finite.and(ParamValidators.gtEq(0)));
      l2 = new DoubleParam(owner, "l2", "L2 penalty on weights (>= 0)",
          Finite.and(ParamValidators.gtEq(0)));
      labelSmoothing = new DoubleParam(owner, "labelSmoothing", "label smoothing in [0, 1)",
          ParamValidators.inRange(0, 1, true, false));
      seed = new LongParam(owner, "seed", "random seed (initialisation, shuffling, split)");
      earlyStoppingPatience = new IntParam(owner, "earlyStoppingPatience",
          "stop after this many epochs "
          + "without validation improvement (0: never)",
          ParamValidators.gtEq(0));
      extraConfig = new Param<>(owner, "extraConfig", "HOCON setting any other convspark "
          + "config key, e.g. \"data.normalize.mode = none, train.schedule = cosine\"",
          ScoringParams.notNull());
      outputDir = new Param<>(owner, "outputDir", "local directory under which every fit "
          + "writes its run (summary.json, metrics, plot and checkpoints) into a new "
          + "subdirectory fit-N, N the first number free (empty: a temporary directory, deleted "
          + "after fit)",
          ScoringParams.notNull());
      Config d = Settings.defaults();
      owner.setDefault(modelSpec, "");
      owner.setDefault(modelSpecPath, "");
      owner.setDefault(validationFraction, d.getDouble("data.validation-fraction"));
      owner.setDefault(validationIndicatorCol, "");
      owner.setDefault(epochs, d.getInt("train.epochs"));
      owner.setDefault(numWorkers, d.getInt("train.workers"));
      owner.setDefault(globalBatch, d.getInt("train.global-batch"));
      owner.setDefault(baseLr, d.getDouble("train.base-lr"));
      owner.setDefault(baseBatch, d.getInt("train.base-batch"));
      owner.setDefault(scaling, d.getString("train.scaling"));
      owner.setDefault(warmupEpochs, d.getDouble("train.warmup-epochs"));
      owner.setDefault(optimizer, d.getString("train.optimizer.type"));
      owner.setDefault(momentum, d.getDouble("train.optimizer.momentum"));
      owner.setDefault(nesterov, d.getBoolean("train.optimizer.nesterov"));
      owner.setDefault(l1, d.getDouble("train.l1"));
      owner.setDefault(l2, d.getDouble("train.l2"));
      owner.setDefault(labelSmoothing, d.getDouble("train.label-smoothing"));
      owner.setDefault(seed, d.getLong("train.seed"));
      owner.setDefault(earlyStoppingPatience, d.getInt("train.early-stopping.patience"));
      owner.setDefault(extraConfig, "");
      owner.setDefault(outputDir, "");
      Map<Param<?>, String> keys = new LinkedHashMap<>();
      keys.put(owner.featuresCol(), "data.dataframe.features-col");
      keys.put(owner.labelCol(), "data.dataframe.label-col");
      keys.put(validationFraction, "data.validation-fraction");
      keys.put(epochs, "train.epochs");
      keys.put(numWorkers, "train.workers");
      keys.put(globalBatch, "train.global-batch");
      keys.put(baseLr, "train.base-lr");
      keys.put(baseBatch, "train.base-batch");
      keys.put(scaling, "train.scaling");
      keys.put(warmupEpochs, "train.warmup-epochs");
      keys.put(optimizer, "train.optimizer.type");
      keys.put(momentum, "train.optimizer.momentum");
      keys.put(nesterov, "train.optimizer.nesterov");
      keys.put(l1, "train.l1");
      keys.put(l2, "train.l2");
      keys.put(labelSmoothing, "train.label-smoothing");
      keys.put(seed, "train.seed");
      keys.put(earlyStoppingPatience, "train.early-stopping.patience");
      this.keys = Collections.unmodifiableMap(keys);
    }
  }

  /** This stage's training param objects (not a Param: Spark's reflection skips it). */
  Declared training();

  /**
   * The convspark config key each training param sets, in order, by param
   * (validationIndicatorCol sets none and is not here).
   */
  default Map<Param<?>, String> keyedParams() {
    return training().keys;
  }

  /** The convspark config key each training param sets, in order, by param name. */
  default Map<String, String> configKeys() {
    Map<String, String> m = new LinkedHashMap<>();
    for (Map.Entry<Param<?>, String> e : keyedParams().entrySet()) {
      m.put(e.getKey().name(), e.getValue());
    }
    return m;
  }

  @SuppressWarnings("unchecked")
  private S self() {
    return (S) this;
  }

  default Param<String> modelSpec() {
    return training().modelSpec;
  }

  default Param<String> modelSpecPath() {
    return training().modelSpecPath;
  }

  default DoubleParam validationFraction() {
    return training().validationFraction;
  }

  default Param<String> validationIndicatorCol() {
    return training().validationIndicatorCol;
  }

  default IntParam epochs() {
    return training().epochs;
  }

  default IntParam numWorkers() {
    return training().numWorkers;
  }

  default IntParam globalBatch() {
    return training().globalBatch;
  }

  default DoubleParam baseLr() {
    return training().baseLr;
  }

  default IntParam baseBatch() {
    return training().baseBatch;
  }

  default Param<String> scaling() {
    return training().scaling;
  }

  default DoubleParam warmupEpochs() {
    return training().warmupEpochs;
  }

  default Param<String> optimizer() {
    return training().optimizer;
  }

  default DoubleParam momentum() {
    return training().momentum;
  }

  default BooleanParam nesterov() {
    return training().nesterov;
  }

  default DoubleParam l1() {
    return training().l1;
  }

  default DoubleParam l2() {
    return training().l2;
  }

  default DoubleParam labelSmoothing() {
    return training().labelSmoothing;
  }

  default LongParam seed() {
    return training().seed;
  }

  default IntParam earlyStoppingPatience() {
    return training().earlyStoppingPatience;
  }

  default Param<String> extraConfig() {
    return training().extraConfig;
  }

  default Param<String> outputDir() {
    return training().outputDir;
  }

  default String getModelSpec() {
    return getOrDefault(modelSpec());
  }

  default String getModelSpecPath() {
    return getOrDefault(modelSpecPath());
  }

  default double getValidationFraction() {
    return (Double) getOrDefault(validationFraction());
  }

  default String getValidationIndicatorCol() {
    return getOrDefault(validationIndicatorCol());
  }

  default int getEpochs() {
    return (Integer) getOrDefault(epochs());
  }

  default int getNumWorkers() {
    return (Integer) getOrDefault(numWorkers());
  }

  default int getGlobalBatch() {
    return (Integer) getOrDefault(globalBatch());
  }

  default double getBaseLr() {
    return (Double) getOrDefault(baseLr());
  }

  default int getBaseBatch() {
    return (Integer) getOrDefault(baseBatch());
  }

  default String getScaling() {
    return getOrDefault(scaling());
  }

  default double getWarmupEpochs() {
    return (Double) getOrDefault(warmupEpochs());
  }

  default String getOptimizer() {
    return getOrDefault(optimizer());
  }

  default double getMomentum() {
    return (Double) getOrDefault(momentum());
  }

  default boolean getNesterov() {
    return (Boolean) getOrDefault(nesterov());
  }

  default double getL1() {
    return (Double) getOrDefault(l1());
  }

  default double getL2() {
    return (Double) getOrDefault(l2());
  }

  default double getLabelSmoothing() {
    return (Double) getOrDefault(labelSmoothing());
  }

  default long getSeed() {
    return (Long) getOrDefault(seed());
  }

  default int getEarlyStoppingPatience() {
    return (Integer) getOrDefault(earlyStoppingPatience());
  }

  default String getExtraConfig() {
    return getOrDefault(extraConfig());
  }

  default String getOutputDir() {
    return getOrDefault(outputDir());
  }

  default S setModelSpec(String v) {
    set(modelSpec(), ScoringParams.given(modelSpec(), v));
    return self();
  }

  default S setModelSpecPath(String v) {
    set(modelSpecPath(), ScoringParams.given(modelSpecPath(), v));
    return self();
  }

  default S setValidationFraction(double v) {
    set(validationFraction(), v);
    return self();
  }

  default S setValidationIndicatorCol(String v) {
    set(validationIndicatorCol(), ScoringParams.given(validationIndicatorCol(), v));
    return self();
  }

  default S setEpochs(int v) {
    set(epochs(), v);
    return self();
  }

  default S setNumWorkers(int v) {
    set(numWorkers(), v);
    return self();
  }

  default S setGlobalBatch(int v) {
    set(globalBatch(), v);
    return self();
  }

  default S setBaseLr(double v) {
    set(baseLr(), v);
    return self();
  }

  default S setBaseBatch(int v) {
    set(baseBatch(), v);
    return self();
  }

  default S setScaling(String v) {
    set(scaling(), ScoringParams.given(scaling(), v));
    return self();
  }

  default S setWarmupEpochs(double v) {
    set(warmupEpochs(), v);
    return self();
  }

  default S setOptimizer(String v) {
    set(optimizer(), ScoringParams.given(optimizer(), v));
    return self();
  }

  default S setMomentum(double v) {
    set(momentum(), v);
    return self();
  }

  default S setNesterov(boolean v) {
    set(nesterov(), v);
    return self();
  }

  default S setL1(double v) {
    set(l1(), v);
    return self();
  }

  default S setL2(double v) {
    set(l2(), v);
    return self();
  }

  default S setLabelSmoothing(double v) {
    set(labelSmoothing(), v);
    return self();
  }

  default S setSeed(long v) {
    set(seed(), v);
    return self();
  }

  default S setEarlyStoppingPatience(int v) {
    set(earlyStoppingPatience(), v);
    return self();
  }

  default S setExtraConfig(String v) {
    set(extraConfig(), ScoringParams.given(extraConfig(), v));
    return self();
  }

  default S setOutputDir(String v) {
    set(outputDir(), ScoringParams.given(outputDir(), v));
    return self();
  }

  /**
   * A validator that also refuses infinity (Spark's gt and gtEq accept it, and the value would
   * fail only at fit), for the double params.
   */
  static final class Finite extends scala.runtime.AbstractFunction1<Object, Object>
      implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final scala.Function1<Object, Object> inner;

    private Finite(scala.Function1<Object, Object> inner) {
      this.inner = inner;
    }

    static Finite and(scala.Function1<Object, Object> inner) {
      return new Finite(inner);
    }

    @Override
    public Object apply(Object value) {
      return value instanceof Double d && Double.isFinite(d) && (Boolean) inner.apply(value);
    }
  }
}
