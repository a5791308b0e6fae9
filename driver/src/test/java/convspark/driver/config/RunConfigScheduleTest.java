package convspark.driver.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.common.optim.LrSchedule;
import convspark.driver.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * train.min-lr against the peak rate: cosine anneals from the scaled base rate down to min-lr, so
 * a min-lr above it is refused; other schedules do not use min-lr, which is refused with them.
 * Likewise every key the chosen mode does not read, set to another value than its default: the
 * step schedule's keys with another schedule, the optimizer keys of the other type, the data keys
 * of another format, a validation fraction beside validation files, train.ring.* under the
 * driver engine, the shape of random erasing without erasing. The shipped conf/*.conf parse.
 */
class RunConfigScheduleTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void conf() throws Exception {
    Path p = dir.resolve("x.gz");
    config = dir.resolve("test.conf");
    // base-lr 0.05 for base-batch 32, global batch 32: the peak is 0.05
    Files.writeString(config, TestData.config(p, p, p, p));
  }

  static RunConfig parse(String... sets) {
    List<String> s = new ArrayList<>(List.of(sets));
    return RunConfig.parse(Settings.load(config.toString(), s));
  }

  @Test
  void cosineWithMinLrAboveThePeakRateIsRefused() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> parse("train.schedule=cosine", "train.min-lr=0.3", "train.global-batch=128"));
    // linear scaling: 0.05 x 128 / 32 = 0.2
    assertTrue(e.getMessage().startsWith("config key train.min-lr: expected at most the peak "
        + "learning rate 0.2 "), e.getMessage());
    assertTrue(e.getMessage().contains("found 0.3") && e.getMessage().contains("linear")
        && e.getMessage().contains("train.base-lr 0.05"), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());
    e = assertThrows(BadInputException.class,
        () -> parse("train.schedule=cosine", "train.min-lr=0.06"));
    assertTrue(e.getMessage().contains("peak learning rate 0.05 ")
        && e.getMessage().contains("found 0.06"), e.getMessage());
    // sqrt scaling of a batch 4 x the base: x 2
    e = assertThrows(BadInputException.class, () -> parse("train.schedule=cosine",
        "train.min-lr=0.11", "train.global-batch=128", "train.scaling=sqrt"));
    assertTrue(e.getMessage().contains("peak learning rate 0.1 ")
        && e.getMessage().contains("sqrt scaling factor 2.0"), e.getMessage());
  }

  @Test
  void cosineDownToAtMostThePeakAndOtherSchedulesParse() {
    RunConfig c = parse("train.schedule=cosine", "train.min-lr=0.2", "train.global-batch=128");
    assertEquals(0.2, c.train().lrSchedule().lr(1_000_000, 10), 1e-12);
    c = parse("train.schedule=cosine", "train.min-lr=0.01");
    assertEquals(0.01, c.train().lrSchedule().lr(1_000_000, 10), 1e-12);
    // min-lr is cosine's floor only: set with another schedule it would be ignored, and is
    // refused instead; left at 0 they parse
    for (String schedule : new String[] {"step", "constant"}) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> parse("train.schedule=" + schedule, "train.min-lr=0.3"));
      assertTrue(e.getMessage().startsWith("config key train.min-lr: set to 0.3, but "
          + "train.schedule = " + schedule + " does not use it"), e.getMessage());
    }
    c = parse("train.schedule=step", "train.warmup-epochs=0");
    assertEquals(LrSchedule.Decay.STEP, c.train().decay());
    assertEquals(0.05, c.train().lrSchedule().lr(0, 10), 1e-12);
    c = parse("train.schedule=constant");
    assertEquals(0.05, c.train().lrSchedule().lr(1000, 10), 1e-12);
  }

  /** The one-line message of the refusal {@code sets} cause. */
  static String refused(String... sets) {
    BadInputException e = assertThrows(BadInputException.class, () -> parse(sets));
    assertEquals(1, e.getMessage().lines().count(), e.getMessage());
    return e.getMessage();
  }

  @Test
  void stepScheduleKeysWithAnotherScheduleAreRefused() {
    // the test config: schedule = cosine
    assertEquals("config key train.step-gamma: set to 0.5, but train.schedule = cosine does not "
        + "use it (only step decays by it); set train.schedule = step, or remove it",
        refused("train.step-gamma=0.5"));
    assertEquals("config key train.step-every-epochs: set to 5, but train.schedule = constant "
        + "does not use it (only step decays every that many epochs); set train.schedule = step, "
        + "or remove it", refused("train.schedule=constant", "train.step-every-epochs=5"));
    // with step they apply; at their defaults the others parse
    RunConfig c = parse("train.schedule=step", "train.warmup-epochs=0",
        "train.step-every-epochs=5", "train.step-gamma=0.5");
    assertEquals(0.05, c.train().lrSchedule().lr(49, 10), 1e-12);
    assertEquals(0.025, c.train().lrSchedule().lr(50, 10), 1e-12);
    parse("train.schedule=constant", "train.step-gamma=0.1", "train.step-every-epochs=30");
  }

  @Test
  void optimizerKeysTheTypeDoesNotReadAreRefused() {
    // the test config: sgd, momentum 0.9, nesterov true
    assertEquals("config key train.optimizer.weight-decay: set to 0.01, but "
        + "train.optimizer.type = sgd does not use it (only adam reads it, as AdamW's decoupled "
        + "decay; with sgd, train.l2 = d / 2 is PyTorch's weight_decay = d); set "
        + "train.optimizer.type = adam, or remove it",
        refused("train.optimizer.weight-decay=0.01"));
    assertEquals("config key train.optimizer.beta1: set to 0.8, but train.optimizer.type = sgd "
        + "does not use it (only adam reads it); set train.optimizer.type = adam, or remove it",
        refused("train.optimizer.beta1=0.8"));
    assertTrue(refused("train.optimizer.beta2=0.99").startsWith("config key "
        + "train.optimizer.beta2: set to 0.99, but train.optimizer.type = sgd does not use it"));
    String e = refused("train.optimizer.epsilon=1e-6");
    assertTrue(e.startsWith("config key train.optimizer.epsilon: set to 1.0E-6, but "
        + "train.optimizer.type = sgd does not use it"), e);
    assertEquals("config key train.optimizer.nesterov: set to true, but train.optimizer.type = "
        + "adam does not use it (only sgd reads it); set train.optimizer.type = sgd, or remove it",
        refused("train.optimizer.type=adam"));
    assertEquals("config key train.optimizer.momentum: set to 0.5, but train.optimizer.type = "
        + "adam does not use it (only sgd reads it); set train.optimizer.type = sgd, or remove it",
        refused("train.optimizer.type=adam", "train.optimizer.nesterov=false",
            "train.optimizer.momentum=0.5"));
    // AdamW is adam with weight-decay: it reads it
    RunConfig c = parse("train.optimizer.type=adam", "train.optimizer.nesterov=false",
        "train.optimizer.beta1=0.8", "train.optimizer.beta2=0.99",
        "train.optimizer.epsilon=1e-6", "train.optimizer.weight-decay=0.01");
    assertEquals(0.01, c.train().optimizer().weightDecay());
    assertEquals(0.8, c.train().optimizer().beta1());
    // a key at its default value counts as not set: momentum 0.9 is the default
    parse("train.optimizer.type=adam", "train.optimizer.nesterov=false");
    c = parse("train.optimizer.momentum=0.5", "train.optimizer.weight-decay=0",
        "train.optimizer.beta1=0.9");
    assertEquals(0.5, c.train().optimizer().momentum());
  }

  @Test
  void ringKeysUnderTheDriverEngineAndEraseShapesWithoutErasingAreRefused() {
    assertEquals("config key train.ring.round-steps: set to 10, but train.engine = driver does "
        + "not use it (only the ring engine reads it); set train.engine = ring, or remove it",
        refused("train.engine=driver", "train.ring.round-steps=10"));
    for (String set : new String[] {"train.ring.attempts=5", "train.ring.transport=tcp",
        "train.ring.keep-links=false", "train.ring.spin-micros=0"}) {
      String key = set.substring(0, set.indexOf('='));
      assertTrue(refused(set).startsWith("config key " + key + ": set"), set);
      parse("train.engine=ring", set); // the ring engine reads it
    }
    // the value of a string key is not repeated; a key at its default value counts as not set
    assertEquals("config key train.ring.transport: set, but train.engine = driver does not use "
        + "it (only the ring engine reads it); set train.engine = ring, or remove it",
        refused("train.ring.transport=tcp"));
    parse("train.ring.round-steps=0", "train.ring.attempts="
        + Settings.defaults().getInt("train.ring.attempts"));
    assertEquals(10, parse("train.engine=ring", "train.ring.round-steps=10").train().ring()
        .roundSteps());

    assertEquals("config key train.augment.erase.max-area: set to 0.5, but "
        + "train.augment.erase.probability = 0 does not use it (nothing is erased); set "
        + "train.augment.erase.probability above 0, or remove it",
        refused("train.augment.erase.max-area=0.5"));
    assertTrue(refused("train.augment.erase.min-area=0.1").startsWith("config key "
        + "train.augment.erase.min-area: set to 0.1, but"));
    assertTrue(refused("train.augment.erase.max-aspect=2").startsWith("config key "
        + "train.augment.erase.max-aspect: set to 2, but"));
    RunConfig c = parse("train.augment.erase.probability=0.25", "train.augment.erase.min-area=0.1",
        "train.augment.erase.max-area=0.5", "train.augment.erase.max-aspect=2");
    assertEquals(0.5, c.train().erase().maxArea());
    assertEquals(2, c.train().erase().maxAspect());
  }

  @Test
  void givenMeansAndStdsAreCheckedBeforeTheDataIsRead() {
    assertEquals("config key data.normalize.std: value 0 is 0, expected a finite number of at "
        + "least 1.0E-6 (a smaller one multiplies the inputs by more than a million)",
        refused("data.normalize.mode=given", "data.normalize.mean=[0.5]",
        "data.normalize.std=[0]"));
    // a float, but one that multiplies the inputs into infinities
    String tiny = refused("data.normalize.mode=given", "data.normalize.mean=[0.5]",
        "data.normalize.std=[1e-40]");
    assertTrue(tiny.startsWith("config key data.normalize.std: value 0 is ")
        && tiny.toLowerCase().contains("e-40, expected a finite number of at least"), tiny);
    assertTrue(refused("data.normalize.mode=given", "data.normalize.mean=[0.5]",
        "data.normalize.std=[-1]").startsWith("config key data.normalize.std: value 0 is -1,"));
    // 1e-50 is 0 as a float, 1e300 infinite
    String e = refused("data.normalize.mode=given", "data.normalize.mean=[0.5]",
        "data.normalize.std=[1e-50]");
    assertTrue(e.startsWith("config key data.normalize.std: value 0 is ")
        && e.toLowerCase().contains("e-50, expected a finite number of at least"), e);
    e = refused("data.normalize.mode=given", "data.normalize.mean=[1e300]",
        "data.normalize.std=[1]");
    assertTrue(e.startsWith("config key data.normalize.mean: value 0 is ")
        && e.toLowerCase().contains("e300, expected a finite number (within a float's range)"),
        e);
    assertTrue(refused("data.normalize.mode=given", "data.normalize.mean=[NaN]",
        "data.normalize.std=[1]").startsWith("config key data.normalize.mean: value 0 is "));
    RunConfig c = parse("data.normalize.mode=given", "data.normalize.mean=[0.5]",
        "data.normalize.std=[0.25]");
    assertEquals(0.25f, c.data().std()[0]);
  }

  @Test
  void dataKeysOfAnotherFormatAreRefused() {
    // the test config: idx, with data.train and data.test images and labels
    assertEquals("config key data.train.path: set, but data.format = idx does not use it (idx "
        + "reads data.train.images and data.train.labels); set data.format = csv or dataframe, "
        + "or remove it", refused("data.train.path=/data/train.csv"));
    assertTrue(refused("data.test.path=/data/test.csv").startsWith("config key data.test.path: "
        + "set, but data.format = idx does not use it (idx reads data.test.images and "
        + "data.test.labels)"));
    assertTrue(refused("data.validation.path=/v.csv").startsWith("config key "
        + "data.validation.path: set, but data.format = idx does not use it"));
    assertEquals("config key data.train.images: set, but data.format = csv does not use it (csv "
        + "reads data.train.path); set data.format = idx, or remove it",
        refused("data.format=csv", "data.train.path=/t.csv", "data.test.path=/t.csv"));
    String[] blank = {"data.train.images=", "data.train.labels=", "data.test.images=",
        "data.test.labels="};
    assertEquals("config key data.validation.labels: set, but data.format = dataframe does not "
        + "use it (dataframe reads data.validation.path); set data.format = idx, or remove it",
        refused(with(blank, "data.format=dataframe", "data.train.path=/t.parquet",
            "data.validation.labels=/v-labels.gz")));
    assertEquals("config key data.csv.header: set to true, but data.format = idx does not use it "
        + "(only csv reads it); set data.format = csv, or remove it",
        refused("data.csv.header=true"));
    assertEquals("config key data.dataframe.source: set, but data.format = idx does not use it "
        + "(only dataframe reads it); set data.format = dataframe, or remove it",
        refused("data.dataframe.source=orc"));
    // the options may hold credentials: named, their values not
    assertEquals("config key data.dataframe.options: set, but data.format = csv does not use it "
        + "(only dataframe reads it); set data.format = dataframe, or remove it",
        refused(with(blank, "data.format=csv", "data.train.path=/t.csv",
            "data.dataframe.options.password=hunter2")));
    assertTrue(refused("data.dataframe.label-col=y").startsWith("config key "
        + "data.dataframe.label-col: set, but data.format = idx"));
    assertTrue(refused("data.dataframe.features-col=pixels").startsWith("config key "
        + "data.dataframe.features-col: set, but data.format = idx"));
    // each format with its own keys, and the others empty or at their defaults, parses
    RunConfig c = parse(with(blank, "data.format=csv", "data.train.path=/t.csv",
        "data.test.path=/t.csv", "data.csv.header=true", "data.dataframe.source=parquet"));
    assertTrue(c.data().csvHeader());
    c = parse(with(blank, "data.format=dataframe", "data.train.path=/t.parquet",
        "data.dataframe.source=orc", "data.dataframe.options.mergeSchema=true",
        "data.dataframe.label-col=y", "data.dataframe.features-col=pixels",
        "data.csv.header=false"));
    assertEquals("y", c.data().frame().labelCol());
    parse("data.train.path=", "data.csv.header=false", "data.dataframe.label-col=label");
  }

  @Test
  void aValidationFractionBesideValidationFilesIsRefused() {
    // the test config: validation-fraction = 0.2
    assertEquals("config keys data.validation-fraction and data.validation.images and labels: "
        + "data.validation-fraction is set to 0.2, but data.validation.images and labels give "
        + "the validation data and nothing of data.train is held out; remove "
        + "data.validation-fraction (or set it to 0), or remove data.validation.images and labels",
        refused("data.validation.images=/v-images.gz", "data.validation.labels=/v-labels.gz"));
    String[] blank = {"data.train.images=", "data.train.labels=", "data.test.images=",
        "data.test.labels="};
    assertTrue(refused(with(blank, "data.format=csv", "data.train.path=/t.csv",
        "data.validation.path=/v.csv", "data.validation-fraction=0.3")).startsWith(
            "config keys data.validation-fraction and data.validation.path: "
            + "data.validation-fraction is set to 0.3, but data.validation.path give"));
    RunConfig c = parse("data.validation.images=/v-images.gz",
        "data.validation.labels=/v-labels.gz", "data.validation-fraction=0");
    assertEquals(0, c.data().validationFraction());
    // at its default, as in a config that does not set it, it parses
    parse("data.validation.images=/v-images.gz", "data.validation.labels=/v-labels.gz",
        "data.validation-fraction=0.1");
  }

  @Test
  void aListWhereASparkPropertyOrReaderOptionTakesOneStringIsRefused() {
    assertEquals("config key spark.conf.\"spark.jars\": expected a string, number or boolean "
        + "(passed on as one string), found a list; write the one string the property takes "
        + "(Spark's lists are comma-separated)",
        refused("spark.conf.\"spark.jars\"=[a.jar, b.jar]"));
    String[] frames = {"data.train.images=", "data.train.labels=", "data.test.images=",
        "data.test.labels=", "data.format=dataframe", "data.train.path=/t"};
    assertTrue(refused(with(frames, "data.dataframe.options.paths=[a, b]")).startsWith(
        "config key data.dataframe.options.paths: expected a string, number or boolean"));
    RunConfig c = parse(with(frames, "spark.conf.\"spark.jars\"=\"a.jar,b.jar\"",
        "spark.conf.\"spark.ui.enabled\"=false", "spark.conf.\"spark.task.cpus\"=2",
        "data.dataframe.options.mergeSchema=true"));
    assertEquals(java.util.Map.of("spark.jars", "a.jar,b.jar", "spark.ui.enabled", "false",
        "spark.task.cpus", "2"), c.spark().conf());
    assertEquals(java.util.Map.of("mergeSchema", "true"), c.data().frame().options());
  }

  @Test
  void theShippedConfigsParse() throws Exception {
    List<Path> confs;
    try (Stream<Path> s = Files.list(Path.of("..", "conf"))) {
      confs = s.filter(p -> p.toString().endsWith(".conf")).sorted().toList();
    }
    assertTrue(confs.size() >= 5, confs.toString());
    for (Path p : confs) {
      RunConfig.parse(Settings.load(p.toString(), List.of()));
      // adam in sgd's place: with nesterov, which adam does not read, put back to its default
      RunConfig.parse(Settings.load(p.toString(), List.of("train.optimizer.type=adam",
          "train.optimizer.nesterov=false")));
    }
    String fashion = Path.of("..", "conf", "fashion-mnist.conf").toString();
    BadInputException e = assertThrows(BadInputException.class, () -> RunConfig.parse(
        Settings.load(fashion, List.of("train.optimizer.type=adam"))));
    assertTrue(e.getMessage().startsWith("config key train.optimizer.nesterov: set to true, "
        + "but train.optimizer.type = adam does not use it"), e.getMessage());
  }

  static String[] with(String[] a, String... more) {
    List<String> l = new ArrayList<>(List.of(a));
    l.addAll(List.of(more));
    return l.toArray(new String[0]);
  }
}
