package convspark.driver.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.driver.SparkTestSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.attribute.AttributeGroup;
import org.apache.spark.ml.attribute.NominalAttribute;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.feature.StringIndexer;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.feature.VectorSizeHint;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.tuning.CrossValidator;
import org.apache.spark.ml.tuning.CrossValidatorModel;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CnnClassifier in a Spark ML Pipeline after StringIndexer and VectorAssembler: accuracy on a
 * held-out frame, save and load with identical predictions, and Spark-style errors naming the
 * column or param.
 */
class CnnClassifierPipelineTest {
  @TempDir static Path dir;
  static SparkSession spark;
  static Dataset<Row> train;
  static Dataset<Row> heldOut;
  static PipelineModel fitted;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
    train = MlTestData.images(spark, 480, 1, 2).cache();
    heldOut = MlTestData.images(spark, 300, 2, 3).cache();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static CnnClassifier classifier() {
    return new CnnClassifier()
        .setModelSpec(MlTestData.MODEL)
        .setEpochs(2)
        .setNumWorkers(2)
        .setGlobalBatch(32)
        .setBaseBatch(32)
        .setBaseLr(0.05)
        .setWarmupEpochs(1)
        .setNesterov(true)
        .setValidationFraction(0.1)
        .setSeed(7)
        .setExtraConfig("train.schedule = cosine, data.scale = 0.00392156862745098");
  }

  static Pipeline pipeline(CnnClassifier cnn) {
    return new Pipeline().setStages(new PipelineStage[] {
        new StringIndexer().setInputCol("letter").setOutputCol("label"),
        new VectorSizeHint().setInputCol("pixels").setSize(144),
        new VectorAssembler().setInputCols(new String[] {"pixels"}).setOutputCol("features"),
        cnn});
  }

  static synchronized PipelineModel fitted() {
    if (fitted == null) {
      fitted = pipeline(classifier()).fit(train);
    }
    return fitted;
  }

  /** (id, label, prediction, probability, rawPrediction) of every row, by id. */
  static List<Row> score(PipelineModel model) {
    List<Row> rows = new ArrayList<>(model.transform(heldOut)
        .select("id", "label", "prediction", "probability", "rawPrediction").collectAsList());
    rows.sort(Comparator.comparingLong(r -> r.getLong(0)));
    return rows;
  }

  @Test
  void pipelineFitsSavesLoadsAndPredictsIdentically() throws Exception {
    long t0 = System.nanoTime();
    PipelineModel model = fitted();
    List<Row> a = score(model);
    long right = a.stream().filter(r -> r.getDouble(1) == r.getDouble(2)).count();
    double acc = (double) right / a.size();
    assertEquals(300, a.size());
    assertTrue(acc >= 0.9, "held-out accuracy " + acc);
    // Spark ML conventions: vectors of K values, probabilities summing to 1, argmax prediction
    for (Row r : a) {
      Vector p = r.getAs(3);
      assertEquals(4, ((Vector) r.getAs(4)).size());
      assertEquals(1.0, p.toArray()[0] + p.toArray()[1] + p.toArray()[2] + p.toArray()[3],
          1e-9);
      assertEquals((double) p.argmax(), r.getDouble(2));
      assertEquals(((Vector) r.getAs(4)).argmax(), p.argmax());
    }
    // ML metadata: attribute groups of size K; the label's StringIndexer metadata survives
    StructType schema = model.transform(heldOut).schema();
    assertEquals(4, AttributeGroup.fromStructField(schema.apply("probability")).size());
    assertEquals("nominal", schema.apply("label").metadata().getMetadata("ml_attr")
        .getString("type"));
    CnnClassificationModel cnn = (CnnClassificationModel) model.stages()[3];
    assertTrue(cnn.hasSummary());
    assertEquals(2, ((Number) cnn.trainingSummary().get("epochs_run")).intValue());

    String path = dir.resolve("pipeline-model").toString();
    model.write().overwrite().save(path);
    PipelineModel loaded = PipelineModel.load(path);
    CnnClassificationModel back = (CnnClassificationModel) loaded.stages()[3];
    assertEquals(cnn.uid(), back.uid());
    assertEquals(cnn.getFeaturesCol(), back.getFeaturesCol());
    assertArrayEquals(cnn.checkpoint().params(), back.checkpoint().params());
    assertEquals(cnn.normalization(), back.normalization());
    assertEquals(a, score(loaded));
    System.out.printf("pipeline (fit if first), score, save, load, score: %.1f s; "
        + "held-out accuracy %.3f%n", (System.nanoTime() - t0) / 1e9, acc);
  }

  @Test
  @SuppressWarnings("unchecked")
  void aCrossValidatorFitsEveryCopyIntoARunDirectoryOfItsOwnUnderOutputDir() throws Exception {
    // outputDir refused a second fit ("exists and is not empty"), so a tuner, which fits copies
    // of the estimator many times, failed with it set
    Path out = Files.createDirectories(dir.resolve("cv-out"));
    Files.writeString(out.resolve("notes.txt"), "the caller's"); // kept beside the fits
    CnnClassifier cnn = classifier().setEpochs(1).setValidationFraction(0)
        .setOutputDir(out.toString());
    CrossValidatorModel cv = new CrossValidator().setEstimator(pipeline(cnn)).setNumFolds(2)
        .setEvaluator(new MulticlassClassificationEvaluator())
        .setEstimatorParamMaps(new ParamGridBuilder().addGrid(cnn.l2(), new double[] {0.0})
            .build()).fit(train);
    for (int n = 1; n <= 3; n++) { // two folds, then the best params on all rows
      assertTrue(Files.isRegularFile(out.resolve("fit-" + n).resolve("summary.json")), "fit-" + n);
    }
    assertTrue(Files.notExists(out.resolve("fit-4")));
    assertEquals("the caller's", Files.readString(out.resolve("notes.txt")));
    CnnClassificationModel best = (CnnClassificationModel) ((PipelineModel) cv.bestModel())
        .stages()[3];
    Map<String, Object> s = best.trainingSummary();
    assertEquals(out.resolve("fit-3").toString(), s.get("run_dir"));
    assertEquals(spark.sparkContext().master(), s.get("master"));
    // fit runs no test: no block of nulls
    assertTrue(!s.containsKey("test"), s.keySet().toString());
    // a copy: changing it changes nothing of the model
    ((Map<String, Object>) s.get("best_val")).put("epoch", -1);
    assertTrue(!Integer.valueOf(-1).equals(((Map<String, Object>) best.trainingSummary()
        .get("best_val")).get("epoch")));
    // a fit without outputDir names no checkpoint directory: its temporary one is deleted
    Map<String, Object> temp = ((CnnClassificationModel) fitted().stages()[3]).trainingSummary();
    assertTrue(!temp.containsKey("checkpoint_dir") && !temp.containsKey("run_dir"),
        temp.keySet().toString());
  }

  @Test
  void aLoadedClassifierReadsItsSavedTextAsDataNotAsTheCallersConfig() throws Exception {
    // a saved stage is a file anyone may have written: an include in it would have fit read
    // another file (or fetch a URL), and a substitution would copy the environment
    Path inc = Files.writeString(dir.resolve("extra-include.conf"), "train.schedule = cosine");
    String extra = "include required(file(\"" + inc + "\"))";
    CnnClassifier cnn = classifier().setExtraConfig(extra);
    cnn.runConfig(); // the caller's own text: full HOCON
    String path = dir.resolve("classifier-include").toString();
    cnn.write().overwrite().save(path);
    CnnClassifier back = CnnClassifier.load(path);
    BadInputException e = assertThrows(BadInputException.class, back::runConfig);
    assertTrue(e.getMessage().startsWith("CnnClassifier extraConfig: ")
        && e.getMessage().contains("refused"), e.getMessage());
    // so are the copies a CrossValidator fits
    assertThrows(BadInputException.class, () -> back.copy(ParamMap.empty()).runConfig());
    // a value the caller sets is theirs again
    back.setExtraConfig(extra + "\n").runConfig();
    // the same for a model spec
    Path empty = Files.writeString(dir.resolve("empty-include.conf"), "");
    String spec = MlTestData.MODEL + "\ninclude required(file(\"" + empty + "\"))";
    classifier().setModelSpec(spec).runConfig();
    classifier().setModelSpec(spec).write().overwrite().save(path);
    e = assertThrows(BadInputException.class, () -> CnnClassifier.load(path).runConfig());
    assertTrue(e.getMessage().startsWith("modelSpec: "), e.getMessage());
  }

  @Test
  void unfittedPipelineSavesAndLoadsWithItsParams() throws Exception {
    // nesterov back to its default: adam does not read it
    CnnClassifier cnn = classifier().setL2(1e-4).setOptimizer("adam").setNesterov(false);
    String path = dir.resolve("pipeline").toString();
    pipeline(cnn).write().overwrite().save(path);
    CnnClassifier back = (CnnClassifier) Pipeline.load(path).getStages()[3];
    assertEquals(cnn.uid(), back.uid());
    assertEquals(1e-4, back.getL2());
    assertEquals("adam", back.getOptimizer());
    assertEquals(MlTestData.MODEL, back.getModelSpec());
    assertEquals(cnn.runConfig().train(), back.runConfig().train());
  }

  @Test
  void paramsMapToConfigKeysAndExplicitParamsWinOverExtraConfig() throws Exception {
    CnnClassifier c = classifier().setNesterov(false).setExtraConfig("train.epochs = 9, "
        + "train.l2 = 0.001, train.optimizer.type = adam");
    // epochs is set explicitly: the param wins; l2 and optimizer are defaults: extraConfig wins
    var cfg = c.runConfig();
    assertEquals(2, cfg.train().epochs());
    assertEquals(0.001, cfg.train().l2());
    assertEquals("ADAM", cfg.train().optimizer().type().name());
    assertEquals("train.global-batch", c.configKeys().get("globalBatch"));
    // modelSpecPath: a run config's model block (its other keys are not used)
    Path conf = dir.resolve("run.conf");
    Files.writeString(conf, "train.epochs = 5\nmodel {\n" + MlTestData.MODEL + "}\n");
    var fromFile = classifier().setModelSpec("").setModelSpecPath(conf.toString()).runConfig();
    assertEquals(cfg.model(), fromFile.model());
    assertEquals(2, fromFile.train().epochs());
    // a modelSpecPath file that is not UTF-8 is named, not read with a replaced character
    Path latin1 = dir.resolve("latin1.conf");
    Files.write(latin1, ("# r\u00e9seau\nmodel {\n" + MlTestData.MODEL + "}\n")
        .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    BadInputException notUtf8 = assertThrows(BadInputException.class, () -> classifier()
        .setModelSpec("").setModelSpecPath(latin1.toString()).runConfig());
    assertEquals("modelSpecPath " + latin1 + ": line 1: byte 0xE9 is not UTF-8 (a file saved as "
        + "Latin-1 or Windows-1252?); save it as UTF-8", notUtf8.getMessage());
    // defaults are convspark's
    assertEquals(128, new CnnClassifier().getGlobalBatch());
  }

  static String message(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      b.append(c.getMessage()).append(" | ");
    }
    return b.toString();
  }

  @Test
  void missingAndWronglyTypedColumnsAreNamedAtFit() {
    Pipeline p = pipeline(classifier().setFeaturesCol("nope"));
    Exception e = assertThrows(BadInputException.class, () -> p.fit(train));
    assertTrue(e.getMessage().contains("Column nope") && e.getMessage().contains("does not "
        + "exist"), e.getMessage());

    e = assertThrows(BadInputException.class,
        () -> classifier().setFeaturesCol("letter").setLabelCol("y").fit(train));
    assertTrue(e.getMessage().startsWith("Column letter must be of type vector"),
        e.getMessage());
    assertTrue(e.getMessage().contains("but was actually of type string"), e.getMessage());

    e = assertThrows(BadInputException.class,
        () -> classifier().setFeaturesCol("pixels").setLabelCol("letter").fit(train));
    assertTrue(e.getMessage().startsWith("Column letter must be of type numeric"),
        e.getMessage());
  }

  @Test
  void wrongImageSizeIsNamedAtFitAndTransform() {
    String small = MlTestData.MODEL.replace("height = 12, width = 12", "height = 10, width = 10");
    // a Vector with ML metadata (VectorAssembler): checked from the schema
    Exception e = assertThrows(BadInputException.class,
        () -> pipeline(classifier().setModelSpec(small)).fit(train));
    assertTrue(e.getMessage().contains("Column features holds vectors of size 144 but the model"
        + " input 1x10x10 needs 100"), e.getMessage());
    // an array column: checked row by row, the job's error names the column
    e = assertThrows(BadInputException.class, () -> classifier().setModelSpec(small)
        .setFeaturesCol("arr").setLabelCol("y").fit(train));
    assertTrue(e.getMessage().contains("featuresCol arr") && e.getMessage().contains(
        "features have 144 values, the model input 1x10x10 needs 100"), e.getMessage());

    // transform: a row of the wrong size fails the job with the column's name
    CnnClassificationModel cnn = (CnnClassificationModel) fitted().stages()[3];
    Dataset<Row> wrong = heldOut.withColumn("arr", functions.slice(functions.col("arr"), 1, 100));
    Exception t = assertThrows(Exception.class,
        () -> cnn.copy(new org.apache.spark.ml.param.ParamMap()).setFeaturesCol("arr")
            .transform(wrong).collect());
    assertTrue(message(t).contains("Column arr (row 0 of partition")
        && message(t).contains("features have 100 values, the model input 1x12x12 needs 144"),
        message(t));
    // a value training would refuse (beyond 1e6 after data.scale) is not scored either
    Dataset<Row> huge = heldOut.withColumn("arr", functions.concat(functions.array(
        functions.lit(1e30f)), functions.slice(functions.col("arr"), 2, 143)));
    t = assertThrows(Exception.class,
        () -> cnn.copy(new org.apache.spark.ml.param.ParamMap()).setFeaturesCol("arr")
            .transform(huge).collect());
    assertTrue(message(t).contains("Column arr (row 0 of partition")
        && message(t).contains("feature 0 is 1.0E30"), message(t));
    // missing column and existing output column fail at transform, before any job
    e = assertThrows(BadInputException.class, () -> cnn.transform(heldOut));
    assertTrue(e.getMessage().contains("Column features (the features column) does not exist"),
        e.getMessage());
    e = assertThrows(BadInputException.class, () -> cnn.copy(
        new org.apache.spark.ml.param.ParamMap()).setFeaturesCol("pixels")
        .setPredictionCol("letter").transform(heldOut));
    assertEquals("Output column letter (param predictionCol) already exists.", e.getMessage());
    // Spark's analyzer matches names without case: a select of LETTER beside letter would fail
    // as ambiguous, not with a message naming the param
    e = assertThrows(BadInputException.class, () -> cnn.copy(
        new org.apache.spark.ml.param.ParamMap()).setFeaturesCol("pixels")
        .setProbabilityCol("LETTER").transform(heldOut));
    assertEquals("Output column LETTER (param probabilityCol) already exists as letter (Spark "
        + "compares column names without case unless spark.sql.caseSensitive is true).",
        e.getMessage());
  }

  @Test
  void aBadRowFoundInAValidationSplitIsNumberedAsTheCallersRowsAre() {
    // 480 rows in two partitions of 240, as the caller's DataFrame holds them; one bad label at
    // row 7 of partition 1. The split's own numbering (randomSplit sorts each partition before
    // it samples) is not where the caller would look.
    List<Row> rows = new ArrayList<>(train.select("y", "pixels").collectAsList());
    int at = rows.size() / 2 + 7;
    rows.set(at, RowFactory.create(99.0, rows.get(at).get(1)));
    Dataset<Row> bad = spark.createDataFrame(new JavaSparkContext(spark.sparkContext())
        .parallelize(rows, 2), train.select("y", "pixels").schema());
    for (double fraction : new double[] {0.25, 0.9}) { // the row left in training, or held out
      Exception e = assertThrows(BadInputException.class, () -> classifier().setEpochs(1)
          .setValidationFraction(fraction).setFeaturesCol("pixels").setLabelCol("y").fit(bad));
      assertTrue(e.getMessage().contains("row 7 of input partition 1: label 99.0")
          && !e.getMessage().contains("validation split"), e.getMessage());
    }
  }

  @Test
  void aFailedFitLeavesNothingCachedAndAnEmptySplitNamesTheParam() {
    train.count(); // the test frame's own cache is materialised first
    int cachedBefore = spark.sparkContext().getPersistentRDDs().size();
    // one label outside the 4 classes, in the last partition: the packing pass fails after
    // other partitions were packed and cached
    Dataset<Row> bad = train.withColumn("y", functions.when(functions.col("id")
        .equalTo(479), 99.0).otherwise(functions.col("y")));
    Exception e = assertThrows(BadInputException.class, () -> classifier()
        .setValidationFraction(0).setFeaturesCol("pixels").setLabelCol("y").fit(bad));
    // the packing pass (after the shuffle) names the row where the input holds it
    assertTrue(e.getMessage().contains("label 99.0") && e.getMessage().contains(" of input "
        + "partition "), e.getMessage());
    assertEquals(cachedBefore, spark.sparkContext().getPersistentRDDs().size(),
        "a failed fit unpersists what it cached: " + spark.sparkContext().getPersistentRDDs());
    // one row: a validation fraction leaves the training or the validation split empty
    e = assertThrows(BadInputException.class, () -> classifier().setEpochs(1)
        .setValidationFraction(0.5).setFeaturesCol("pixels").setLabelCol("y")
        .fit(train.limit(1)));
    assertTrue(e.getMessage().contains("param validationFraction = 0.5")
        && e.getMessage().contains("no samples"), e.getMessage());
    assertEquals(cachedBefore, spark.sparkContext().getPersistentRDDs().size());
  }

  @Test
  void aGlobalBatchLargerThanTheTrainingSplitNamesTheParam() {
    train.count();
    int cachedBefore = spark.sparkContext().getPersistentRDDs().size();
    // 480 rows less the 0.1 validation split: fewer than 480 to train on
    Exception e = assertThrows(BadInputException.class, () -> classifier().setEpochs(1)
        .setGlobalBatch(480).setFeaturesCol("pixels").setLabelCol("y").fit(train));
    assertTrue(e.getMessage().startsWith("config key train.global-batch (CnnClassifier param "
        + "globalBatch): expected at most the ") && e.getMessage().contains("found 480"),
        e.getMessage());
    assertEquals(cachedBefore, spark.sparkContext().getPersistentRDDs().size());
    // the whole frame in one batch is one full step an epoch
    CnnClassificationModel m = classifier().setEpochs(1).setGlobalBatch(480)
        .setValidationFraction(0).setFeaturesCol("pixels").setLabelCol("y").fit(train);
    assertEquals(1L, ((Number) m.trainingSummary().get("steps")).longValue());
  }

  @Test
  void aDivergedFitDoesNotNameTheTemporaryDirectoryItDeleted() {
    Exception e = assertThrows(convspark.worker.TrainingFailedException.class,
        () -> classifier().setEpochs(1).setBaseLr(1e6).setValidationFraction(0)
            .setFeaturesCol("pixels").setLabelCol("y").fit(train));
    String m = e.getMessage();
    assertTrue(m.contains("training diverged") && !m.contains("convspark-fit-")
        && m.endsWith("set param outputDir to keep them)"), m);
  }

  @Test
  void columnNamesWithDotsAreTopLevelColumns() {
    Dataset<Row> dotted = train.withColumnRenamed("pixels", "px.v").withColumnRenamed("y", "y.l");
    CnnClassificationModel m = classifier().setEpochs(1).setValidationFraction(0)
        .setFeaturesCol("px.v").setLabelCol("y.l").fit(dotted);
    assertEquals(480, m.transform(dotted).filter("prediction >= 0").count());
  }

  @Test
  void infiniteDoubleParamsAreRefusedWhenSet() {
    for (Runnable set : new Runnable[] {
        () -> new CnnClassifier().setBaseLr(Double.POSITIVE_INFINITY),
        () -> new CnnClassifier().setWarmupEpochs(Double.POSITIVE_INFINITY),
        () -> new CnnClassifier().setL1(Double.POSITIVE_INFINITY),
        () -> new CnnClassifier().setL2(Double.NaN)}) {
      assertThrows(IllegalArgumentException.class, set::run);
    }
    assertEquals(0.5, new CnnClassifier().setBaseLr(0.5).getBaseLr());
    assertEquals(0.0, new CnnClassifier().setL2(0).getL2());
  }

  @Test
  void invalidParamsFailWithTheirNames() {
    Exception e = assertThrows(IllegalArgumentException.class,
        () -> new CnnClassifier().setEpochs(0));
    assertTrue(e.getMessage().contains("epochs given invalid value 0"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new CnnClassifier().setScaling("cubic"));
    assertTrue(e.getMessage().contains("scaling given invalid value cubic"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new CnnClassifier().setLabelSmoothing(1.0));
    // every string param refuses null at set time rather than failing later with a bare NPE
    // (setScaling and setOptimizer did not): each setter of one String, found by reflection
    int setters = 0;
    for (Object stage : List.of(new CnnClassifier(), fitted().stages()[3])) {
      for (java.lang.reflect.Method m : stage.getClass().getMethods()) {
        if (!m.getName().startsWith("set") || m.getParameterCount() != 1
            || m.getParameterTypes()[0] != String.class) {
          continue;
        }
        java.lang.reflect.InvocationTargetException t = assertThrows(
            java.lang.reflect.InvocationTargetException.class,
            () -> m.invoke(stage, (Object) null), m.getName());
        String param = Character.toLowerCase(m.getName().charAt(3)) + m.getName().substring(4);
        assertTrue(t.getCause() instanceof IllegalArgumentException
            && t.getCause().getMessage().endsWith(" parameter " + param + " given invalid value "
            + "null."), m.getName() + ": " + t.getCause());
        setters++;
      }
    }
    assertTrue(setters >= 17, "string setters found: " + setters);
    e = assertThrows(IllegalArgumentException.class,
        () -> new CnnClassifier().setInferenceBatch(2_000_000));
    assertTrue(e.getMessage().contains("inferenceBatch given invalid value 2000000"),
        e.getMessage());

    e = assertThrows(IllegalArgumentException.class,
        () -> new CnnClassifier().transformSchema(train.schema()));
    assertTrue(e.getMessage().contains("set modelSpec"), e.getMessage());

    e = assertThrows(BadInputException.class, () -> classifier().setExtraConfig("train.foo = 1")
        .runConfig());
    assertTrue(e.getMessage().contains("CnnClassifier extraConfig: unknown config key "
        + "'train.foo'"), e.getMessage());

    // the columns are the params' own: extraConfig cannot point fit elsewhere
    e = assertThrows(BadInputException.class, () -> classifier()
        .setExtraConfig("data.dataframe.label-col = y").runConfig());
    assertEquals("CnnClassifier extraConfig: data.dataframe.label-col = y differs from param "
        + "labelCol = label; set the param instead", e.getMessage());
    classifier().setLabelCol("y").setExtraConfig("data.dataframe.label-col = y").runConfig();

    e = assertThrows(BadInputException.class, () -> classifier().setMomentum(0).runConfig());
    assertTrue(e.getMessage().contains("Nesterov needs train.optimizer.momentum > 0"),
        e.getMessage());

    // a param the optimizer does not read is refused as its config key is; at their defaults
    // (momentum 0.9, nesterov false) the sgd params do not stand in adam's way
    e = assertThrows(BadInputException.class, () -> classifier().setOptimizer("adam")
        .runConfig());
    assertEquals("config key train.optimizer.nesterov (CnnClassifier param nesterov): set to "
        + "true, but train.optimizer.type = adam does not use it (only sgd reads it); set "
        + "train.optimizer.type = sgd, or remove it", e.getMessage());
    e = assertThrows(BadInputException.class, () -> classifier().setOptimizer("adam")
        .setNesterov(false).setMomentum(0.5).runConfig());
    assertTrue(e.getMessage().startsWith("config key train.optimizer.momentum (CnnClassifier "
        + "param momentum): set to 0.5, but"), e.getMessage());
    e = assertThrows(BadInputException.class, () -> classifier().setExtraConfig(
        "train.optimizer.weight-decay = 0.01").runConfig());
    assertTrue(e.getMessage().startsWith("config key train.optimizer.weight-decay: set to "
        + "0.01, but train.optimizer.type = sgd"), e.getMessage());
    assertEquals("ADAM", new CnnClassifier().setModelSpec(MlTestData.MODEL).setOptimizer("adam")
        .setExtraConfig("train.optimizer.weight-decay = 0.01").runConfig().train().optimizer()
        .type().name());
    assertEquals("SGD", new CnnClassifier().setModelSpec(MlTestData.MODEL).runConfig().train()
        .optimizer().type().name());

    e = assertThrows(BadInputException.class, () -> classifier().setModelSpec(
        "input { channels = 1, height = 12, width = 12 }, layers = [ { type = conv } ]")
        .runConfig());
    assertTrue(e.getMessage().contains("model.layers[0]"), e.getMessage());

    // StringIndexer metadata with more classes than the model has outputs
    StructType five = new StructType()
        .add(NominalAttribute.defaultAttr().withName("label").withNumValues(5).toStructField())
        .add("features", new VectorUDT());
    e = assertThrows(BadInputException.class, () -> classifier().transformSchema(five));
    assertTrue(e.getMessage().contains("Column label has 5 classes (per its metadata) but the "
        + "model outputs 4"), e.getMessage());

    e = assertThrows(BadInputException.class,
        () -> classifier().setGlobalBatch(33).setFeaturesCol("pixels").setLabelCol("y")
            .fit(train));
    assertTrue(e.getMessage().contains("train.global-batch") && e.getMessage()
        .contains("does not divide evenly"), e.getMessage());
  }

  /** A residual net through the Estimator and Model: fit, transform, save, load, same scores. */
  @Test
  void residualNetFitsTransformsSavesAndLoads() throws Exception {
    String resnet = """
        input { channels = 1, height = 12, width = 12 }
        layers = [
          { type = conv, filters = 6, kernel = 3, padding = 1, bias = false }
          { type = batchnorm }
          { type = relu }
          { type = residual, layers = [
              { type = conv, filters = 8, kernel = 3, stride = 2, padding = 1, bias = false }
              { type = batchnorm }
              { type = relu }
              { type = conv, filters = 8, kernel = 3, padding = 1, bias = false }
              { type = batchnorm } ],
            shortcut = [ { type = conv, filters = 8, kernel = 1, stride = 2, bias = false }
                         { type = batchnorm } ] }
          { type = globalavgpool }
          { type = flatten }
          { type = dense, units = 4 }
        ]
        """;
    PipelineModel model = pipeline(classifier().setModelSpec(resnet).setEpochs(3)).fit(train);
    List<Row> a = score(model);
    assertEquals(300, a.size());
    long right = a.stream().filter(r -> r.getDouble(1) == r.getDouble(2)).count();
    // it learns (chance is 0.25); accuracy targets are benchmarks, not tests
    assertTrue(right >= 0.6 * a.size(), "held-out accuracy " + right / 300.0);
    String path = dir.resolve("resnet-model").toString();
    model.write().overwrite().save(path);
    assertEquals(a, score(PipelineModel.load(path)));
  }
}
