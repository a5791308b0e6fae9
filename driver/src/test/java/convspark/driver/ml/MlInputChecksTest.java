package convspark.driver.ml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.SparkTestSession;
import convspark.driver.data.Normalization;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.apache.spark.ml.evaluation.BinaryClassificationEvaluator;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Spark ML API's checks of what it is given (weights, params, extraConfig, images) and its
 * output conventions, beside {@link CnnClassifierPipelineTest}'s end-to-end pipeline.
 */
class MlInputChecksTest {
  @TempDir static Path dir;
  static SparkSession spark;

  /** Two classes from four features: a dense layer on a 1x2x2 input. */
  static final String BINARY = """
      input { channels = 1, height = 2, width = 2 }
      layers = [
        { type = flatten }
        { type = dense, units = 2 }
      ]
      """;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static Checkpoint checkpoint(String spec, float[] params) {
    ModelSpec s = ModelSpec.parse(spec);
    Network net = new Network(s);
    return new Checkpoint(s.render(), 1, 1, params != null ? params : net.initParams(3),
        net.initState(), "none", new float[0][], 0, Normalization.scaleOnly(1f, 1).toMeta());
  }

  static Dataset<Row> randomRows(int n) {
    Random r = new Random(5);
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      rows.add(RowFactory.create((long) i, Vectors.dense(r.nextGaussian() * 3,
          r.nextGaussian() * 3, r.nextGaussian() * 3, r.nextGaussian() * 3)));
    }
    StructType s = new StructType().add("id", DataTypes.LongType)
        .add("features", new VectorUDT());
    return spark.createDataFrame(rows, s);
  }

  @Test
  void binaryEvaluatorReadsTheModelsAucFromRawPrediction() {
    // labels = the model's own decisions: a perfect classifier, AUC 1. BinaryClassification-
    // Evaluator ranks rows by element 1 of rawPrediction; raw logits gave 0.57 here
    Dataset<Row> scored = CnnClassificationModel.fromCheckpoint(checkpoint(BINARY, null))
        .transform(randomRows(400));
    List<Row> rows = new ArrayList<>();
    for (Row r : scored.collectAsList()) {
      Vector p = r.getAs("probability");
      Vector raw = r.getAs("rawPrediction");
      assertEquals(0, raw.apply(0) + raw.apply(1), 1e-9, "logits less their mean");
      assertEquals(p.argmax(), raw.argmax());
      rows.add(RowFactory.create(p.apply(1) > 0.5 ? 1.0 : 0.0, raw));
    }
    StructType s = new StructType().add("label", DataTypes.DoubleType)
        .add("rawPrediction", new VectorUDT());
    assertEquals(1.0, new BinaryClassificationEvaluator()
        .evaluate(spark.createDataFrame(rows, s)), 1e-12);
  }

  @Test
  void weightsThatAreNotFiniteAreRefused() {
    float[] p = new Network(ModelSpec.parse(BINARY)).initParams(3);
    p[5] = Float.NaN;
    BadInputException e = assertThrows(BadInputException.class,
        () -> CnnClassificationModel.fromCheckpoint(checkpoint(BINARY, p)));
    assertTrue(e.getMessage().contains("parameter") && e.getMessage().contains("NaN"),
        e.getMessage());
  }

  @Test
  void anInferenceBatchTooLargeForJavaArraysFailsOnTheDriverNamingTheParam() {
    // 16,384 x 2 x 2 values per sample: 40,000 samples overflow an int-indexed buffer
    String wide = """
        input { channels = 1, height = 2, width = 2 }
        layers = [
          { type = conv, filters = 16384, kernel = 3, padding = 1 }
          { type = flatten }
          { type = dense, units = 2 }
        ]
        """;
    CnnClassificationModel m = CnnClassificationModel.fromCheckpoint(checkpoint(wide, null))
        .setInferenceBatch(40000);
    BadInputException e = assertThrows(BadInputException.class,
        () -> m.transform(randomRows(3)));
    assertTrue(e.getMessage().contains("param inferenceBatch"), e.getMessage());
    m.setInferenceBatch(8);
    assertEquals(3, m.transform(randomRows(3)).count());
  }

  @Test
  void aFewRowsScoreUnderTheLargestInferenceBatch() {
    // scoring sizes its workspace by the rows pending, not by the param: 3 rows under an
    // inferenceBatch of 1,000,000 allocated a million samples' activations (4 GB for the conv
    // output alone: 256 filters of 2x2) and ran out of memory in the test JVM's 3 GB heap
    String spec = """
        input { channels = 1, height = 2, width = 2 }
        layers = [
          { type = conv, filters = 256, kernel = 3, padding = 1 }
          { type = flatten }
          { type = dense, units = 3 }
        ]
        """;
    CnnClassificationModel m = CnnClassificationModel.fromCheckpoint(checkpoint(spec, null));
    List<Row> whole = m.copy(ParamMap.empty()).setInferenceBatch(1_000_000)
        .transform(randomRows(5)).select("id", "prediction", "probability").collectAsList();
    // batches of 2: two full ones and a tail of 1 in each partition's rows
    List<Row> inTwos = m.copy(ParamMap.empty()).setInferenceBatch(2)
        .transform(randomRows(5)).select("id", "prediction", "probability").collectAsList();
    assertEquals(5, whole.size());
    for (int i = 0; i < 5; i++) {
      assertEquals(inTwos.get(i).getLong(0), whole.get(i).getLong(0));
      assertEquals(inTwos.get(i).getDouble(1), whole.get(i).getDouble(1));
      assertArrayEquals(((Vector) inTwos.get(i).get(2)).toArray(),
          ((Vector) whole.get(i).get(2)).toArray(), 1e-6);
    }
  }

  @Test
  void aModelSpecWithoutAModelNamesTheParamAndTheFile() throws Exception {
    // these fell through to "no model; set modelSpec ... or modelSpecPath" with the path set,
    // or to RunConfig's "config key model: missing" and "model: unknown key 'train'", which name
    // neither
    Path empty = Files.writeString(dir.resolve("empty-spec.conf"), "# nothing yet\n");
    Path run = Files.writeString(dir.resolve("run-without-model.conf"), "train { epochs = 3 }");
    String[][] cases = {
        {null, empty.toString(), "modelSpecPath " + empty + ": holds no model; expected the "
            + "model block's HOCON (input { channels, height, width }, layers = [...]) or a "
            + "convspark run config with a model block"},
        {null, run.toString(), "modelSpecPath " + run + ": holds no model block (found train); "},
        {"model {}", null, "modelSpec: its model block has neither input nor layers; "},
        {"# a comment", null, "modelSpec: holds no model; "},
        {"  ", null, "CnnClassifier: no model; set modelSpec"}};
    for (String[] c : cases) {
      CnnClassifier cnn = new CnnClassifier();
      if (c[0] != null) {
        cnn.setModelSpec(c[0]);
      } else {
        cnn.setModelSpecPath(c[1]);
      }
      RuntimeException e = assertThrows(RuntimeException.class, cnn::runConfig);
      assertTrue(e.getMessage().startsWith(c[2]), e.getMessage());
    }
  }

  @Test
  void aBadValueFromExtraConfigIsBlamedOnExtraConfigNotOnAParamNobodySet() {
    BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
        .setModelSpec(BINARY).setExtraConfig("train.epochs = 0").runConfig());
    assertTrue(e.getMessage().startsWith("config key train.epochs (CnnClassifier extraConfig): "),
        e.getMessage());
  }

  @Test
  void anEmptyInputIsNamedAsEmptyNotItsValidationSplit() {
    // the split of an empty frame is empty too: the error blamed "what the validation split
    // left (param validationFraction = 0.1)"
    Dataset<Row> empty = spark.createDataFrame(new ArrayList<Row>(), new StructType()
        .add("label", DataTypes.DoubleType).add("features", new VectorUDT()));
    BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
        .setModelSpec(BINARY).setEpochs(1).setGlobalBatch(2).setNumWorkers(1).fit(empty));
    assertEquals("CnnClassifier input (labelCol label, featuresCol features): no samples",
        e.getMessage());
  }

  @Test
  void tooFewTaskSlotsForTheRingNameTheParamNumWorkers() {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      rows.add(RowFactory.create((double) (i % 2), Vectors.dense(i, 1, 2, 3)));
    }
    Dataset<Row> df = spark.createDataFrame(rows, new StructType()
        .add("label", DataTypes.DoubleType).add("features", new VectorUDT()));
    BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
        .setModelSpec(BINARY).setEpochs(1).setGlobalBatch(4).setNumWorkers(4)
        .setValidationFraction(0).setExtraConfig("train.engine = ring").fit(df));
    assertTrue(e.getMessage().contains("train.workers (CnnClassifier param numWorkers) gives 4 "
        + "partitions"), e.getMessage());
  }

  @Test
  void extraConfigKeysThatFitWouldIgnoreAreRefused() {
    for (String[] c : new String[][] {
        {"data.validation.path = \"/data/val.parquet\"", "validationFraction"},
        {"data.test.path = \"/data/test.parquet\"", "transform"},
        {"data.format = csv", "DataFrame"},
        {"data.train.path = \"/data/train.csv\"", "DataFrame"},
        {"predict.inference-batch = 7", "inferenceBatch"},
        {"spark.master = \"local[1]\"", "SparkSession"}}) {
      CnnClassifier k = new CnnClassifier().setModelSpec(MlTestData.MODEL).setExtraConfig(c[0]);
      BadInputException e = assertThrows(BadInputException.class, k::runConfig, c[0]);
      String key = c[0].substring(0, c[0].indexOf(' '));
      assertTrue(e.getMessage().contains(key) && e.getMessage().contains(c[1]), e.getMessage());
    }
    BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
        .setModelSpec(MlTestData.MODEL)
        .setExtraConfig("model { input { channels = 3, height = 8, width = 8 } }").runConfig());
    assertTrue(e.getMessage().contains("modelSpec"), e.getMessage());
    // what fit uses still passes
    assertEquals(0.5, new CnnClassifier().setModelSpec(MlTestData.MODEL)
        .setExtraConfig("data.scale = 0.5, data.normalize.mode = none, "
            + "data.validation-fraction = 0.2").runConfig().data().scale(), 1e-12);
  }

  @Test
  void aLocalBatchOfOneBeforeADenseBatchNormIsRefusedNamingTheParam() {
    List<Row> rows = new ArrayList<>();
    Random r = new Random(3);
    for (int i = 0; i < 40; i++) {
      rows.add(RowFactory.create((double) (i % 2), Vectors.dense(r.nextGaussian(),
          r.nextGaussian(), r.nextGaussian(), r.nextGaussian())));
    }
    Dataset<Row> df = spark.createDataFrame(rows, new StructType()
        .add("label", DataTypes.DoubleType).add("features", new VectorUDT()));
    String spec = BINARY.replace("{ type = flatten }",
        "{ type = flatten }\n  { type = dense, units = 4 }\n  { type = batchnorm }");
    // 2 workers given (checked before any Spark job), or picked by fit (local[2]: 2)
    for (int workers : new int[] {2, 0}) {
      BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
          .setModelSpec(spec).setGlobalBatch(2).setNumWorkers(workers).setEpochs(1)
          .setValidationFraction(0).fit(df));
      assertTrue(e.getMessage().startsWith("config key train.global-batch (CnnClassifier param "
          + "globalBatch): 2 over 2 workers leaves a local batch of 1, and model.layers[2] "
          + "(batchnorm on 4x1x1)"), e.getMessage());
    }
  }

  @Test
  void loadingAPathThatHoldsNoSavedStageNamesThePath() throws Exception {
    // Hadoop's "Input path does not exist" is a checked IOException that Spark throws
    // unchecked: it escaped as is, without saying that the path is not a saved stage
    Path file = Files.writeString(dir.resolve("not-a-model.txt"), "hello");
    Path empty = Files.createDirectories(dir.resolve("empty-dir"));
    for (String path : new String[] {dir.resolve("no-such-model").toString(), file.toString(),
        empty.toString()}) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> CnnClassificationModel.load(path), path);
      assertTrue(e.getMessage().startsWith(path + ": not a saved Spark ML stage (no readable "
          + "metadata: "), e.getMessage());
      e = assertThrows(BadInputException.class, () -> CnnClassifier.load(path), path);
      assertTrue(e.getMessage().startsWith(path + ": not a saved Spark ML stage"),
          e.getMessage());
    }
    // a saved stage of another class names the class found
    String model = dir.resolve("saved-model").toString();
    CnnClassificationModel.fromCheckpoint(checkpoint(BINARY, null)).write().overwrite()
        .save(model);
    BadInputException e = assertThrows(BadInputException.class,
        () -> CnnClassifier.load(model));
    assertEquals(model + ": expected a saved convspark.driver.ml.CnnClassifier but found class "
        + "name convspark.driver.ml.CnnClassificationModel", e.getMessage());
  }

  @Test
  void anOutputDirFitCannotUseIsRefusedNamingTheParamBeforeAnyPassOverTheData()
      throws Exception {
    // a NaN in the last row: any pass over the data fails on it, so the error shows which
    // check came first (the normalisation pass ran before outputDir was looked at)
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      rows.add(RowFactory.create((double) (i % 2), Vectors.dense(i, 1, 2, i == 3 ? Double.NaN
          : 3)));
    }
    Dataset<Row> df = spark.createDataFrame(rows, new StructType()
        .add("label", DataTypes.DoubleType).add("features", new VectorUDT()));
    Path file = Files.writeString(dir.resolve("out-file"), "x");
    for (String[] c : new String[][] {
        {file.toString(), "exists and is not a directory"},
        {file.resolve("sub").toString(), "cannot create it: "}}) {
      BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
          .setModelSpec(BINARY).setEpochs(1).setGlobalBatch(2).setNumWorkers(1)
          .setValidationFraction(0).setOutputDir(c[0]).fit(df), c[0]);
      assertTrue(e.getMessage().startsWith("CnnClassifier outputDir " + c[0] + ": " + c[1]),
          e.getMessage());
    }
    assertEquals("x", Files.readString(file));
    // a directory that holds something takes the fit in a new fit-N beside it; this fit fails
    // on the NaN, before it writes anything, and leaves no empty fit-1 behind
    Path full = Files.createDirectories(dir.resolve("out-full"));
    Files.writeString(full.resolve("summary.json"), "{}");
    BadInputException e = assertThrows(BadInputException.class, () -> new CnnClassifier()
        .setModelSpec(BINARY).setEpochs(1).setGlobalBatch(2).setNumWorkers(1)
        .setValidationFraction(0).setOutputDir(full.toString()).fit(df));
    assertTrue(e.getMessage().contains("NaN"), e.getMessage());
    assertEquals(List.of(full.resolve("summary.json")), Files.list(full).toList());
  }

  @Test
  void anOldMllibVectorColumnIsNamedAsSuchWithTheConversion() {
    // its simpleString is "vector" too: the message said it must be a vector but was a vector
    List<Row> rows = List.of(RowFactory.create(0.0,
        org.apache.spark.mllib.linalg.Vectors.dense(1, 2, 3, 4)));
    Dataset<Row> old = spark.createDataFrame(rows, new StructType()
        .add("label", DataTypes.DoubleType)
        .add("features", new org.apache.spark.mllib.linalg.VectorUDT()));
    String expected = "Column features holds org.apache.spark.mllib.linalg vectors (the old "
        + "RDD-based API); convert it to org.apache.spark.ml.linalg vectors with "
        + "MLUtils.convertVectorColumnsToML(dataset, \"features\")";
    BadInputException e = assertThrows(BadInputException.class, () -> CnnClassificationModel
        .fromCheckpoint(checkpoint(BINARY, null)).transform(old));
    assertEquals(expected, e.getMessage());
    e = assertThrows(BadInputException.class, () -> new CnnClassifier().setModelSpec(BINARY)
        .fit(old));
    assertEquals(expected, e.getMessage());
    // converted as the message says, it scores
    assertEquals(1, CnnClassificationModel.fromCheckpoint(checkpoint(BINARY, null))
        .transform(org.apache.spark.mllib.util.MLUtils.convertVectorColumnsToML(old,
            "features"))
        .count());
  }

  @Test
  void anImageOfTheWrongSizeIsNamedByItsFile() throws Exception {
    Path imgs = Files.createDirectories(dir.resolve("imgs"));
    for (int i = 0; i < 4; i++) {
      int side = i == 2 ? 3 : 2;
      ImageIO.write(new BufferedImage(side, side, BufferedImage.TYPE_BYTE_GRAY), "png",
          imgs.resolve("img-" + i + ".png").toFile());
    }
    CnnClassificationModel m = CnnClassificationModel.fromCheckpoint(checkpoint(BINARY, null))
        .copy(new ParamMap()).setFeaturesCol("image");
    Dataset<Row> in = spark.read().format("image").load(imgs.toString());
    Throwable t = assertThrows(Exception.class, () -> m.transform(in).collectAsList());
    String msg = null;
    for (; t != null; t = t.getCause()) {
      if (t instanceof BadInputException) {
        msg = t.getMessage();
      }
    }
    assertTrue(msg != null && msg.contains("img-2.png") && msg.contains("1x3x3"), "" + msg);
  }
}
