package convspark.driver.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import convspark.common.optim.LrSchedule;
import convspark.common.optim.ScalingRule;
import convspark.common.spec.ModelSpec;
import convspark.worker.Augment;
import convspark.worker.update.OptimizerSettings;
import convspark.worker.update.UpdateRule;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A run's configuration, parsed once from the merged HOCON ({@link Settings#load}) into immutable
 * records, each value validated with an error that names its key.
 */
public record RunConfig(Data data, ModelSpec model, Train train, Predict predict, Spark spark,
    Config raw)
    implements Serializable {

  /** Input formats. */
  public enum Format {
    IDX,
    CSV,
    DATAFRAME
  }

  /** One input: IDX image and label files, or one CSV file. */
  public record Input(String images, String labels, String path) implements Serializable {
    public boolean present() {
      return !images.isEmpty() || !labels.isEmpty() || !path.isEmpty();
    }
  }

  /** Normalisation modes. */
  public enum NormalizeMode {
    AUTO,
    NONE,
    GIVEN
  }

  public record Data(Format format, Input train, Input test, Input validation,
      double validationFraction, boolean csvHeader, float scale, NormalizeMode normalize,
      float[] mean, float[] std, Frame frame) implements Serializable {}

  /** Settings of data.format = dataframe. */
  public record Frame(String source, Map<String, String> options, String labelCol,
      String featuresCol) implements Serializable {}

  /**
   * The step engines (config key train.engine): {@code driver} broadcasts the weights every step
   * and applies the update on the driver ({@code convspark.driver.engine.BroadcastEngine}).
   */
  public enum Engine {
    DRIVER,
    /** Long-lived barrier tasks that ring-allreduce among themselves (RingEngine). */
    RING
  }

  /**
   * The ring engine's settings (config keys train.ring.*).
   *
   * @param attempts how many times a failed round runs in all before training fails (exit 3)
   * @param timeoutSeconds how long a peer may stay silent, and how long forming the ring may take
   * @param roundSteps steps per round (one barrier stage); 0: one round per epoch. The last
   *     round of an epoch may be shorter. Validation and checkpoints stay per epoch.
   * @param transport how the replicas reach each other
   * @param shardUpdate whether each replica applies only the part of the update it owns
   * @param encryption whether the ring's TCP links are sealed
   * @param startTimeoutSeconds how long a round's barrier tasks may wait for their task slots
   * @param spinMicros how long a replica that reaches the allreduce before its peers busy-waits
   *     before it sleeps (0 where the host's ring threads outnumber its CPUs)
   * @param keepState whether a replica on an executor starts a round from the state it ended
   *     the previous one with (when that is the driver's start state) instead of fetching the
   *     driver's broadcast
   * @param keepLinks whether an executor's replica leaves its TCP and shared-memory links open
   *     at the end of a round, and the next round uses them when every rank holds the links of
   *     the same earlier round, instead of forming new ones
   */
  public record RingSettings(int attempts, int timeoutSeconds, int roundSteps,
      RingTransport transport, boolean shardUpdate, RingEncryption encryption,
      int startTimeoutSeconds, int spinMicros, boolean keepState, boolean keepLinks)
      implements Serializable {
    /** The default start timeout (train.ring.start-timeout-seconds). */
    public static final int START_TIMEOUT_SECONDS = 300;
    /** The default spin (train.ring.spin-micros). */
    public static final int SPIN_MICROS = 2000;

    /**
     * One round per epoch, the default transport, the sharded update, encryption as Spark's, the
     * default start timeout and spin, kept states and links.
     */
    public RingSettings(int attempts, int timeoutSeconds) {
      this(attempts, timeoutSeconds, 0, RingTransport.AUTO);
    }

    /**
     * The sharded update, encryption as Spark's, the default start timeout and spin, kept
     * states and links.
     */
    public RingSettings(int attempts, int timeoutSeconds, int roundSteps,
        RingTransport transport) {
      this(attempts, timeoutSeconds, roundSteps, transport, true, RingEncryption.AUTO,
          START_TIMEOUT_SECONDS, SPIN_MICROS, true, true);
    }

    /** As this, with another start timeout. */
    public RingSettings withStartTimeout(int seconds) {
      return new RingSettings(attempts, timeoutSeconds, roundSteps, transport, shardUpdate,
          encryption, seconds, spinMicros, keepState, keepLinks);
    }

    /** As this, with kept states on or off. */
    public RingSettings withKeepState(boolean keep) {
      return new RingSettings(attempts, timeoutSeconds, roundSteps, transport, shardUpdate,
          encryption, startTimeoutSeconds, spinMicros, keep, keepLinks);
    }

    /** As this, with kept links on or off. */
    public RingSettings withKeepLinks(boolean keep) {
      return new RingSettings(attempts, timeoutSeconds, roundSteps, transport, shardUpdate,
          encryption, startTimeoutSeconds, spinMicros, keepState, keep);
    }
  }

  /** Whether the ring engine seals its TCP links (train.ring.encryption). */
  public enum RingEncryption {
    /** As Spark's own traffic: on when spark.network.crypto.enabled = true. */
    AUTO,
    /** Always (AES-GCM on every TCP link). */
    ON,
    /** Never. */
    OFF
  }

  /** How the ring engine's replicas reach each other (train.ring.transport). */
  public enum RingTransport {
    /**
     * Through memory when every task runs in the driver's JVM (a local master), else TCP, with
     * the data of two tasks on one host through shared memory.
     */
    AUTO,
    /** Always authenticated TCP, also in a local master (to measure or test that path). */
    TCP
  }

  /** Early-stopping metric. */
  public enum StopMetric {
    VAL_LOSS,
    VAL_ACCURACY
  }

  /**
   * Random erasing (train.augment.erase): with this probability, a rectangle of min-area ..
   * max-area of the image, its height/width ratio between 1/max-aspect and max-aspect, is zeroed.
   */
  public record Erase(double probability, double minArea, double maxArea, double maxAspect)
      implements Serializable {}

  public record EarlyStopping(StopMetric metric, int patience, double minDelta)
      implements Serializable {}

  public record Train(int epochs, int workers, int globalBatch, double baseLr, int baseBatch,
      ScalingRule scaling, double warmupEpochs, LrSchedule.Decay decay, double stepEvery,
      double stepGamma, double minLr, OptimizerSettings optimizer, double l1, double l2,
      boolean regularizeAll, double labelSmoothing, long seed, double clipGradNorm,
      boolean flip, int translate, Erase erase, EarlyStopping earlyStopping, int evalBatch, int logEvery,
      int checkpointEvery, int keepLast, Engine engine, RingSettings ring)
      implements Serializable {

    /** The augmentation the executors apply while gathering samples (train.augment). */
    public Augment augment() {
      return new Augment(flip, translate, erase.probability(), erase.minArea(),
          erase.maxArea(), erase.maxAspect());
    }

    /** The learning-rate schedule for this many partitions' global batch. */
    public LrSchedule lrSchedule() {
      return new LrSchedule(baseLr, baseBatch, globalBatch, scaling, warmupEpochs, decay,
          epochs, stepEvery, stepGamma, minLr);
    }

    /** The update rule: optimizer, regularisation, clipping, learning-rate schedule. */
    public UpdateRule updateRule() {
      return new UpdateRule(optimizer, l1, l2, regularizeAll, clipGradNorm, lrSchedule());
    }
  }

  /** Scoring settings (convspark predict, the Spark ML model). */
  public record Predict(int inferenceBatch) implements Serializable {}

  /**
   * Spark settings.
   *
   * @param executorWaitSeconds with a cluster master, how long the command waits at start for the
   *     first executor to register before it fails (convspark.driver.train.SparkSessions)
   */
  /** The smallest data.normalize.std accepted. */
  public static final float MIN_STD = 1e-6f;

  public record Spark(String master, String appName, Map<String, String> conf,
      int executorWaitSeconds) implements Serializable {}

  /** Parses and validates a merged config. */
  public static RunConfig parse(Config c) {
    Keys k = new Keys(c);
    Data data = new Data(
        k.choice("data.format", Format.class),
        input(k, "data.train"),
        input(k, "data.test"),
        input(k, "data.validation"),
        k.fraction("data.validation-fraction"),
        k.bool("data.csv.header"),
        (float) k.positive("data.scale"),
        k.choice("data.normalize.mode", NormalizeMode.class),
        k.floats("data.normalize.mean"),
        k.floats("data.normalize.std"),
        new Frame(k.string("data.dataframe.source"), strings(c, "data.dataframe.options"),
            k.string("data.dataframe.label-col"), k.string("data.dataframe.features-col")));
    if (!(data.scale() >= 1e-30f && data.scale() <= 1e30f)) {
      // a float: 1e-50 would become 0 and every image blank
      throw new BadInputException("config key data.scale: expected a number in [1e-30, 1e30], "
          + "found " + c.getDouble("data.scale"));
    }
    if (data.normalize() == NormalizeMode.GIVEN && data.mean().length == 0) {
      throw new BadInputException(
          "config key data.normalize.mean: required (a list, one per channel) when mode = given");
    }
    if (data.normalize() != NormalizeMode.GIVEN
        && (data.mean().length > 0 || data.std().length > 0)) {
      // values the run would not use: the user meant something else than what would happen
      throw new BadInputException("config key data.normalize."
          + (data.mean().length > 0 ? "mean" : "std") + ": set, but data.normalize.mode = "
          + data.normalize().name().toLowerCase(java.util.Locale.ROOT) + " does not use it; set "
          + "data.normalize.mode = given to normalise with it, or remove it");
    }
    Config defaults = Settings.defaults();
    unusedDataKeys(c, defaults, data);
    if (!c.hasPath("model") || c.getConfig("model").root().isEmpty()) {
      throw new BadInputException("config key model: missing; the config must describe the "
          + "network (model { input { ... }, layers = [ ... ] }), see conf/fashion-mnist.conf");
    }
    ModelSpec model = ModelSpec.fromConfig(c.getConfig("model"), "model");
    if (data.normalize() == NormalizeMode.GIVEN
        && (data.mean().length != model.input().channels()
            || data.std().length != model.input().channels())) {
      throw new BadInputException("config keys data.normalize.mean/std: expected "
          + model.input().channels() + " values each (one per input channel), found "
          + data.mean().length + " and " + data.std().length);
    }
    // before Spark starts and the data is read (Normalization checks the same again)
    for (int i = 0; i < data.mean().length; i++) {
      if (!Float.isFinite(data.mean()[i])) {
        throw new BadInputException("config key data.normalize.mean: value " + i + " is "
            + c.getList("data.normalize.mean").get(i).render(ConfigRenderOptions.concise())
            + ", expected a finite number (within a float's range)");
      }
    }
    for (int i = 0; i < data.std().length; i++) {
      // a std of 1e-40 (a float, but subnormal) passed and multiplied the inputs into
      // infinities: the run "diverged" at its first step with advice about the learning rate
      if (!(Float.isFinite(data.std()[i]) && data.std()[i] >= MIN_STD)) {
        throw new BadInputException("config key data.normalize.std: value " + i + " is "
            + c.getList("data.normalize.std").get(i).render(ConfigRenderOptions.concise())
            + ", expected a finite number of at least " + MIN_STD + " (a smaller one multiplies "
            + "the inputs by more than a million)");
      }
    }
    OptimizerSettings opt = new OptimizerSettings(
        k.choice("train.optimizer.type", OptimizerSettings.Type.class),
        k.fraction("train.optimizer.momentum"),
        k.bool("train.optimizer.nesterov"),
        k.fraction("train.optimizer.beta1"),
        k.fraction("train.optimizer.beta2"),
        k.positive("train.optimizer.epsilon"),
        k.nonNegative("train.optimizer.weight-decay"));
    if (opt.type() == OptimizerSettings.Type.SGD && opt.nesterov() && opt.momentum() == 0) {
      throw new BadInputException(
          "config key train.optimizer.nesterov: Nesterov needs train.optimizer.momentum > 0");
    }
    unusedOptimizerKeys(c, defaults, opt.type());
    Train train = new Train(
        k.positiveInt("train.epochs"),
        k.nonNegativeInt("train.workers"),
        k.positiveInt("train.global-batch"),
        k.positive("train.base-lr"),
        k.positiveInt("train.base-batch"),
        k.choice("train.scaling", ScalingRule.class),
        k.nonNegative("train.warmup-epochs"),
        k.choice("train.schedule", LrSchedule.Decay.class),
        k.positive("train.step-every-epochs"),
        k.positive("train.step-gamma"),
        k.nonNegative("train.min-lr"),
        opt,
        k.nonNegative("train.l1"),
        k.nonNegative("train.l2"),
        k.bool("train.regularize-all"),
        k.fraction("train.label-smoothing"),
        k.integer("train.seed"),
        k.nonNegative("train.clip-grad-norm"),
        k.bool("train.augment.flip"),
        k.nonNegativeInt("train.augment.translate"),
        erase(k),
        new EarlyStopping(k.choice("train.early-stopping.metric", StopMetric.class),
            k.nonNegativeInt("train.early-stopping.patience"),
            k.nonNegative("train.early-stopping.min-delta")),
        k.positiveInt("train.eval-batch"),
        k.nonNegativeInt("train.log-every-steps"),
        k.positiveInt("train.checkpoint.every-epochs"),
        k.positiveInt("train.checkpoint.keep-last"),
        k.choice("train.engine", Engine.class),
        new RingSettings(k.positiveInt("train.ring.attempts"),
            k.positiveInt("train.ring.timeout-seconds"),
            k.nonNegativeInt("train.ring.round-steps"),
            k.choice("train.ring.transport", RingTransport.class),
            k.bool("train.ring.shard-update"),
            k.choice("train.ring.encryption", RingEncryption.class),
            k.positiveInt("train.ring.start-timeout-seconds"),
            k.intAtMost("train.ring.spin-micros", 1_000_000),
            k.bool("train.ring.keep-state"),
            k.bool("train.ring.keep-links")));
    double peak = train.lrSchedule().scaledLr();
    if (train.decay() == LrSchedule.Decay.COSINE && train.minLr() > peak * (1 + 1e-12)) {
      // cosine goes from the peak to min-lr: above the peak it would raise the rate over training
      throw new BadInputException("config key train.min-lr: expected at most the peak learning "
          + "rate " + peak + " (train.base-lr " + train.baseLr() + " x " + train.scaling().name()
          .toLowerCase() + " scaling factor " + train.scaling().factor(train.baseBatch(),
          train.globalBatch()) + " for train.global-batch " + train.globalBatch() + " / "
          + "train.base-batch " + train.baseBatch() + ") with train.schedule = cosine, found "
          + train.minLr());
    }
    if (train.decay() != LrSchedule.Decay.COSINE && train.minLr() > 0) {
      // only cosine decays to min-lr: with the others it would be ignored without a word
      throw new BadInputException("config key train.min-lr: set to " + train.minLr() + ", but "
          + "train.schedule = " + train.decay().name().toLowerCase() + " does not use it (only "
          + "cosine decays to it); set train.schedule = cosine, or remove it");
    }
    if (train.decay() != LrSchedule.Decay.STEP) {
      // only step decays: with the others they would be ignored without a word
      String but = "train.schedule = " + train.decay().name().toLowerCase(java.util.Locale.ROOT);
      refuseIfSet(c, defaults, "train.step-every-epochs", but, "only step decays every that "
          + "many epochs", "set train.schedule = step");
      refuseIfSet(c, defaults, "train.step-gamma", but, "only step decays by it",
          "set train.schedule = step");
    }
    unusedTrainKeys(c, defaults, train);
    int side = Math.min(model.input().height(), model.input().width());
    if (train.translate() >= side) {
      // every shift of `side` pixels or more blanks the image, and the label stays
      throw new BadInputException("config key train.augment.translate: expected at most "
          + (side - 1) + " (pixels of shift on the model's " + model.input().height() + " x "
          + model.input().width() + " input), found " + train.translate());
    }
    if (train.ring().timeoutSeconds() > Integer.MAX_VALUE / 1000) {
      throw new BadInputException("config key train.ring.timeout-seconds: expected at most "
          + Integer.MAX_VALUE / 1000 + ", found " + train.ring().timeoutSeconds());
    }
    Spark spark = new Spark(k.string("spark.master"), k.string("spark.app-name"),
        strings(c, "spark.conf"), k.positiveInt("spark.executor-wait-seconds"));
    if (spark.executorWaitSeconds() > Integer.MAX_VALUE / 1000) {
      throw new BadInputException("config key spark.executor-wait-seconds: expected at most "
          + Integer.MAX_VALUE / 1000 + ", found " + spark.executorWaitSeconds());
    }
    Predict predict = new Predict(k.positiveInt("predict.inference-batch"));
    if (predict.inferenceBatch() > 1_000_000) {
      // the Spark ML param's own bound (CnnClassificationModel inferenceBatch)
      throw new BadInputException("config key predict.inference-batch: expected at most "
          + "1000000 rows per forward pass, found " + predict.inferenceBatch());
    }
    return new RunConfig(data, model, train, predict, spark, c);
  }

  /**
   * Whether {@code key} holds another value than its default in {@code defaults}: a value the
   * user gave it. A key set to its default value counts as not set (as train.min-lr = 0 and an
   * empty data.normalize.mean do): the run is the same either way, and it is how a key that a
   * shared config file sets is put out of the way when a --set changes the mode. Called after
   * the key's value was read and checked.
   */
  private static boolean changed(Config c, Config defaults, String key) {
    return switch (defaults.getValue(key).valueType()) {
      case NUMBER -> c.getDouble(key) != defaults.getDouble(key);
      case BOOLEAN -> c.getBoolean(key) != defaults.getBoolean(key);
      case STRING -> !c.getString(key).equals(defaults.getString(key));
      default -> !c.getValue(key).unwrapped().equals(defaults.getValue(key).unwrapped());
    };
  }

  /** {@link #changed} against convspark's defaults: whether {@code key} was set in {@code c}. */
  public static boolean isSet(Config c, String key) {
    return changed(c, Settings.defaults(), key);
  }

  /**
   * Refuses {@code key} when the user set it ({@link #changed}) but the run does not read it,
   * as {@code but} (the setting that makes it unused) says; {@code only} says what reads it and
   * {@code fix} how to use it. A number or boolean is named with its value; a string or object
   * (a path, DataFrame reader options that may hold credentials) is not.
   */
  private static void refuseIfSet(Config c, Config defaults, String key, String but, String only,
      String fix) {
    if (!changed(c, defaults, key)) {
      return;
    }
    ConfigValue v = c.getValue(key);
    String value = switch (v.valueType()) {
      case NUMBER, BOOLEAN -> " to " + v.render(ConfigRenderOptions.concise());
      default -> "";
    };
    // a key that does nothing: the user meant something else than what would happen
    throw new BadInputException("config key " + key + ": set" + value + ", but " + but
        + " does not use it (" + only + "); " + fix + ", or remove it");
  }

  /**
   * The optimizer keys the chosen type does not read (OptimizerSettings, Updater): sgd reads
   * momentum and nesterov, adam beta1, beta2, epsilon and weight-decay (AdamW when > 0).
   */
  private static void unusedOptimizerKeys(Config c, Config defaults,
      OptimizerSettings.Type type) {
    String but = "train.optimizer.type = " + type.name().toLowerCase(java.util.Locale.ROOT);
    if (type == OptimizerSettings.Type.SGD) {
      for (String key : new String[] {"beta1", "beta2", "epsilon"}) {
        refuseIfSet(c, defaults, "train.optimizer." + key, but, "only adam reads it",
            "set train.optimizer.type = adam");
      }
      refuseIfSet(c, defaults, "train.optimizer.weight-decay", but, "only adam reads it, as "
          + "AdamW's decoupled decay; with sgd, train.l2 = d / 2 is PyTorch's weight_decay = d",
          "set train.optimizer.type = adam");
    } else {
      for (String key : new String[] {"momentum", "nesterov"}) {
        refuseIfSet(c, defaults, "train.optimizer." + key, but, "only sgd reads it",
            "set train.optimizer.type = sgd");
      }
    }
  }

  /**
   * The train keys the run's other settings leave unread: train.ring.* under the driver engine
   * (it has no rounds, replicas or links) and the shape of random erasing when its probability
   * is 0. (train.base-batch stays allowed under scaling = none: summary.json's k is
   * global-batch / base-batch, the axis of scripts/experiment-scaling.sh.)
   */
  private static void unusedTrainKeys(Config c, Config defaults, Train train) {
    if (train.engine() == Engine.DRIVER) {
      for (String key : defaults.getConfig("train.ring").root().keySet()) {
        refuseIfSet(c, defaults, "train.ring." + key, "train.engine = driver", "only the ring "
            + "engine reads it", "set train.engine = ring");
      }
    }
    if (train.erase().probability() == 0) {
      for (String key : new String[] {"min-area", "max-area", "max-aspect"}) {
        refuseIfSet(c, defaults, "train.augment.erase." + key, "train.augment.erase.probability"
            + " = 0", "nothing is erased", "set train.augment.erase.probability above 0");
      }
    }
  }

  /**
   * The data keys of another format than data.format (data.*.images and labels: idx; path: csv
   * and dataframe; data.csv: csv; data.dataframe: dataframe), and a validation fraction beside
   * validation files (which replace the split: nothing is held out).
   */
  private static void unusedDataKeys(Config c, Config defaults, Data data) {
    String format = data.format().name().toLowerCase(java.util.Locale.ROOT);
    String but = "data.format = " + format;
    for (String in : new String[] {"data.train", "data.test", "data.validation"}) {
      if (data.format() == Format.IDX) {
        refuseIfSet(c, defaults, in + ".path", but, "idx reads " + in + ".images and "
            + in + ".labels", "set data.format = csv or dataframe");
      } else {
        for (String key : new String[] {".images", ".labels"}) {
          refuseIfSet(c, defaults, in + key, but, format + " reads " + in + ".path",
              "set data.format = idx");
        }
      }
    }
    if (data.format() != Format.CSV) {
      refuseIfSet(c, defaults, "data.csv.header", but, "only csv reads it",
          "set data.format = csv");
    }
    if (data.format() != Format.DATAFRAME) {
      for (String key : new String[] {"source", "options", "label-col", "features-col"}) {
        refuseIfSet(c, defaults, "data.dataframe." + key, but, "only dataframe reads it",
            "set data.format = dataframe");
      }
    }
    if (data.validation().present() && data.validationFraction() > 0
        && changed(c, defaults, "data.validation-fraction")) {
      String files = data.format() == Format.IDX ? "data.validation.images and labels"
          : "data.validation.path";
      throw new BadInputException("config keys data.validation-fraction and " + files + ": "
          + "data.validation-fraction is set to " + data.validationFraction() + ", but " + files
          + " give the validation data and nothing of data.train is held out; remove "
          + "data.validation-fraction (or set it to 0), or remove " + files);
    }
  }

  /**
   * A map of string values under {@code key} (keys as written, dots kept). A list is refused:
   * Spark properties and reader options are single strings, and Java's rendering of a list
   * ({@code [a, b]}) would reach Spark as one (a jar named {@code [a}, JVM options in brackets).
   */
  private static Map<String, String> strings(Config c, String key) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Map.Entry<String, ConfigValue> e : c.getConfig(key).entrySet()) {
      if (e.getValue().valueType() == ConfigValueType.LIST) {
        throw new BadInputException("config key " + key + "." + e.getKey() + ": expected a "
            + "string, number or boolean (passed on as one string), found a list; write the "
            + "one string the property takes (Spark's lists are comma-separated)");
      }
      m.put(String.join(".", ConfigUtil.splitPath(e.getKey())),
          String.valueOf(e.getValue().unwrapped()));
    }
    return m;
  }

  private static Erase erase(Keys k) {
    double p = k.nonNegative("train.augment.erase.probability");
    if (p > 1) {
      throw new BadInputException("config key train.augment.erase.probability: expected a number"
          + " in [0, 1], found " + p);
    }
    double min = k.positive("train.augment.erase.min-area");
    double max = k.positive("train.augment.erase.max-area");
    if (max > 1 || min > max) {
      throw new BadInputException("config keys train.augment.erase.min-area and max-area: expected"
          + " 0 < min-area <= max-area <= 1, found " + min + " and " + max);
    }
    double aspect = k.number("train.augment.erase.max-aspect");
    if (!(aspect >= 1)) {
      throw new BadInputException("config key train.augment.erase.max-aspect: expected a number"
          + " >= 1, found " + aspect);
    }
    return new Erase(p, min, max, aspect);
  }

  private static Input input(Keys k, String key) {
    return new Input(k.string(key + ".images"), k.string(key + ".labels"),
        k.string(key + ".path"));
  }
}
