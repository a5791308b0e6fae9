package convspark.driver.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import convspark.common.BadInputException;
import convspark.driver.SparkTestSession;
import convspark.driver.metrics.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CnnClassifier's validationIndicatorCol (Spark ML's convention): the rows where the column is
 * false train, those where it is true validate; a bad column, a null in it, an empty side or a
 * validationFraction beside it fail with one line naming the param.
 */
class ValidationIndicatorColTest {
  @TempDir static Path dir;
  static SparkSession spark;
  static Dataset<Row> train;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
    train = MlTestData.images(spark, 480, 1, 2).cache();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** The pipeline test's classifier on (y, pixels), validationFraction unset, the column set. */
  static CnnClassifier classifier(String indicator) {
    CnnClassifier c = CnnClassifierPipelineTest.classifier().setFeaturesCol("pixels")
        .setLabelCol("y");
    c.clear(c.validationFraction());
    return c.setValidationIndicatorCol(indicator);
  }

  /** {@link #train} with column isVal = id % every == 0. */
  static Dataset<Row> marked(int every) {
    return train.withColumn("isVal", functions.col("id").mod(every).equalTo(0));
  }

  @Test
  void fitTrainsOnTheFalseRowsAndValidatesOnTheTrueRows() {
    for (int every : new int[] {5, 4}) {
      // every other validation row mislabelled: a net trained on the training rows scores
      // about half of the validation rows right (the other rows, nearly all)
      Column flip = functions.col("id").mod(2 * every).equalTo(0);
      Dataset<Row> df = marked(every).withColumn("y", functions.when(flip,
          functions.col("y").plus(1).mod(4)).otherwise(functions.col("y")));
      long valRows = 480 / every;
      CnnClassificationModel m = classifier("isVal").fit(df);
      assertEquals(Long.toString(480 - valRows), m.checkpoint().meta().get("train-samples"));
      // the model has the best validation epoch's weights: scored on the true rows, it has
      // that epoch's validation accuracy and loss (over other rows, another accuracy and loss)
      @SuppressWarnings("unchecked")
      Map<String, Object> best = (Map<String, Object>) m.trainingSummary().get("best_val");
      double acc = ((Number) best.get("accuracy")).doubleValue();
      double loss = ((Number) best.get("loss")).doubleValue();
      List<Row> scored = m.transform(df.filter(functions.col("isVal")))
          .select("y", "prediction", "probability").collectAsList();
      assertEquals(valRows, scored.size());
      long right = scored.stream().filter(r -> r.getDouble(0) == r.getDouble(1)).count();
      double logLoss = scored.stream().mapToDouble(
          r -> -Math.log(((Vector) r.getAs(2)).apply((int) r.getDouble(0)))).sum() / valRows;
      assertEquals((double) right / valRows, acc, 1e-12, "validation accuracy");
      assertEquals(logLoss, loss, 1e-4 * loss, "validation loss");
      assertTrue(acc > 0.3 && acc < 0.7, "validation accuracy " + acc);
      // the summary's config holds no validation fraction, which nothing used
      JsonNode config = (JsonNode) m.trainingSummary().get("config");
      assertEquals(0.0, config.get("data").get("validation-fraction").asDouble(-1),
          "summary.json's data.validation-fraction");
    }
  }

  @Test
  void theParamSavesAndLoadsWithTheStageAndSetsNoConfigKey() throws Exception {
    CnnClassifier cnn = classifier("isVal");
    assertFalse(cnn.configKeys().containsKey("validationIndicatorCol"));
    assertEquals(cnn.keyedParams().size(), cnn.configKeys().size());
    assertEquals(CnnClassifierPipelineTest.classifier().runConfig().train(),
        cnn.runConfig().train());
    String path = dir.resolve("pipeline").toString();
    CnnClassifierPipelineTest.pipeline(cnn).write().overwrite().save(path);
    CnnClassifier back = (CnnClassifier) Pipeline.load(path).getStages()[3];
    assertEquals("isVal", back.getValidationIndicatorCol());
    assertFalse(back.isSet(back.validationFraction()));
    // a classifier saved before the param existed: no such entry in its metadata
    String alone = dir.resolve("classifier").toString();
    new CnnClassifier().setModelSpec(MlTestData.MODEL).write().overwrite().save(alone);
    Path meta = Path.of(alone, "metadata", "part-00000");
    ObjectNode m = (ObjectNode) Json.MAPPER.readTree(Files.readString(meta));
    assertTrue(((ObjectNode) m.get("defaultParamMap")).remove("validationIndicatorCol") != null);
    Files.writeString(meta, Json.write(m) + "\n");
    Files.deleteIfExists(Path.of(alone, "metadata", ".part-00000.crc"));
    CnnClassifier old = CnnClassifier.load(alone);
    assertEquals("", old.getValidationIndicatorCol());
    assertEquals(MlTestData.MODEL, old.getModelSpec());
  }

  static BadInputException failsToFit(CnnClassifier c, Dataset<Row> df) {
    return assertThrows(BadInputException.class, () -> c.fit(df));
  }

  static void startsWith(String prefix, Exception e) {
    assertTrue(e.getMessage().startsWith(prefix), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
  }

  @Test
  void aColumnOfAnotherTypeIsRefused() {
    Dataset<Row> df = train.withColumn("isVal", functions.col("id").mod(5));
    startsWith("Column isVal (param validationIndicatorCol) must be of type boolean (true: "
        + "validation, false: training) but was actually of type bigint",
        failsToFit(classifier("isVal"), df));
    // in a Pipeline too, where transformSchema checks it before any stage fits
    Exception e = assertThrows(BadInputException.class, () -> CnnClassifierPipelineTest
        .pipeline(classifier("isVal").setFeaturesCol("features").setLabelCol("label"))
        .fit(df.withColumn("isVal", functions.lit("yes"))));
    startsWith("Column isVal (param validationIndicatorCol) must be of type boolean", e);
    assertTrue(e.getMessage().endsWith("actually of type string"), e.getMessage());
  }

  @Test
  void aMissingColumnIsRefused() {
    startsWith("Column nope (param validationIndicatorCol) does not exist; available columns: "
        + "[id, letter, y, pixels, arr, isVal]", failsToFit(classifier("nope"), marked(5)));
  }

  @Test
  void aValidationFractionBesideTheColumnIsRefused() {
    CnnClassifier c = classifier("isVal").setValidationFraction(0.2);
    startsWith("CnnClassifier: set param validationIndicatorCol (= isVal) or validationFraction "
        + "(= 0.2), not both", failsToFit(c, marked(5)));
    CnnClassifier viaExtra = classifier("isVal")
        .setExtraConfig("data.validation-fraction = 0.3, data.scale = 0.00392156862745098");
    startsWith("CnnClassifier extraConfig: data.validation-fraction = 0.3 would be ignored: param "
        + "validationIndicatorCol (= isVal) gives the validation rows; set one of them",
        failsToFit(viaExtra, marked(5)));
    // an explicit 0 says the same as the column
    classifier("isVal").setValidationFraction(0).transformSchema(marked(5).schema());
  }

  @Test
  void aNullInTheColumnFailsTheFit() {
    train.count();
    int cachedBefore = spark.sparkContext().getPersistentRDDs().size();
    Column isVal = functions.col("id").mod(5).equalTo(0);
    for (long at : new long[] {3, 475}) { // a training row, a row in the other partition
      Dataset<Row> df = train.withColumn("isVal", functions.when(functions.col("id")
          .equalTo(at), functions.lit(null).cast("boolean")).otherwise(isVal));
      BadInputException e = failsToFit(classifier("isVal"), df);
      assertEquals("Column isVal (param validationIndicatorCol) holds null in a row; every row "
          + "must be true (validation) or false (training)", e.getMessage());
      assertEquals(cachedBefore, spark.sparkContext().getPersistentRDDs().size());
    }
  }

  @Test
  void aColumnWithNoTrueOrNoFalseRowIsRefused() {
    startsWith("the rows of the CnnClassifier input (labelCol y, featuresCol pixels) where isVal "
        + "is true (param validationIndicatorCol = isVal): no samples",
        failsToFit(classifier("isVal"), train.withColumn("isVal", functions.lit(false))));
    startsWith("CnnClassifier input (labelCol y, featuresCol pixels), its rows where isVal is "
        + "false (param validationIndicatorCol = isVal): no samples",
        failsToFit(classifier("isVal"), train.withColumn("isVal", functions.lit(true))));
  }
}
