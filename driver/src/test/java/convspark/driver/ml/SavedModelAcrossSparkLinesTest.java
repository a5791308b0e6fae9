package convspark.driver.ml;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.driver.SparkTestSession;
import convspark.driver.metrics.Json;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * A Pipeline model (StringIndexer, VectorSizeHint, VectorAssembler, CnnClassifier) saved with the
 * Spark ML writer by the Spark 3.5 build and one saved by the Spark 4 build (both committed under
 * {@code src/test/resources/saved-models/spark-VERSION/}) load with {@code PipelineModel.load} on
 * whichever build runs this test and predict what they predicted when saved. CI runs it on both
 * builds, so each line reads the other's models.
 *
 * <p>To write the fixture again (after a format change), once per build:
 * {@code mvn [-Pspark-4] -pl driver -am test -Dtest=SavedModelAcrossSparkLinesTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Dconvspark.writeSavedModel=$PWD/driver/src/test/resources/saved-models}
 */
class SavedModelAcrossSparkLinesTest {
  /** The Spark versions whose saved models must load. */
  static final List<String> SAVED_BY = List.of("3.5.9", "4.2.0");
  /**
   * Probabilities may differ from the saved ones by float rounding only (another CPU can pick
   * another OpenBLAS kernel, summing in another order).
   */
  static final double TOLERANCE = 1e-5;

  static SparkSession spark;
  static Dataset<Row> heldOut;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
    heldOut = MlTestData.images(spark, 300, 2, 3).cache();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /** "id p0 p1 p2 p3 prediction" per held-out row, by id. */
  static List<String> score(PipelineModel model) {
    List<Row> rows = new ArrayList<>(model.transform(heldOut)
        .select("id", "probability", "prediction").collectAsList());
    rows.sort(Comparator.comparingLong(r -> r.getLong(0)));
    List<String> lines = new ArrayList<>();
    for (Row r : rows) {
      double[] p = ((Vector) r.getAs(1)).toArray();
      lines.add(String.format(Locale.ROOT, "%d %.9f %.9f %.9f %.9f %.1f", r.getLong(0), p[0], p[1],
          p[2], p[3], r.getDouble(2)));
    }
    return lines;
  }

  @Test
  void modelsSavedByEitherSparkLineLoadAndPredictAsWhenSaved() throws Exception {
    URL base = getClass().getResource("/saved-models");
    assertTrue(base != null, "no saved-models in the test resources");
    for (String version : SAVED_BY) {
      Path d = Path.of(base.toURI()).resolve("spark-" + version);
      Path model = d.resolve("model");
      assertTrue(Files.isDirectory(model), "missing fixture " + model);
      // it is what the Spark ML writer of that Spark version wrote (3.5: metadata/part-00000;
      // 4: metadata/part-00000-<uuid>-c000.txt)
      Path part;
      try (Stream<Path> files = Files.list(model.resolve("metadata"))) {
        part = files.filter(f -> f.getFileName().toString().startsWith("part-")).findFirst()
            .orElseThrow(() -> new AssertionError("no metadata/part-* in " + model));
      }
      JsonNode meta = Json.MAPPER.readTree(Files.readString(part).lines().findFirst()
          .orElseThrow());
      assertEquals("org.apache.spark.ml.PipelineModel", meta.path("class").asText());
      assertEquals(version, meta.path("sparkVersion").asText());

      PipelineModel loaded = PipelineModel.load(model.toString());
      List<String> expected = Files.readAllLines(d.resolve("expected.txt"));
      List<String> actual = score(loaded);
      assertEquals(expected.size(), actual.size(), version);
      for (int i = 0; i < expected.size(); i++) {
        String[] e = expected.get(i).split(" ");
        String[] a = actual.get(i).split(" ");
        assertEquals(e[0], a[0], version + " row " + i);
        for (int k = 1; k <= 4; k++) {
          assertEquals(Double.parseDouble(e[k]), Double.parseDouble(a[k]), TOLERANCE,
              "saved by Spark " + version + ", id " + e[0] + ", probability " + (k - 1));
        }
      }
      System.out.printf("model saved by Spark %s loaded on Spark %s: %d held-out predictions "
          + "as saved%n", version, spark.version(), actual.size());
    }
  }

  /** Writes this build's fixture: -Dconvspark.writeSavedModel=DIR (see the class comment). */
  @Test
  @EnabledIfSystemProperty(named = "convspark.writeSavedModel", matches = ".+")
  void writeSavedModel() throws Exception {
    Path d = Path.of(System.getProperty("convspark.writeSavedModel"))
        .resolve("spark-" + spark.version());
    Dataset<Row> train = MlTestData.images(spark, 480, 1, 2);
    PipelineModel model = CnnClassifierPipelineTest.pipeline(CnnClassifierPipelineTest
        .classifier()).fit(train);
    model.write().overwrite().save(d.resolve("model").toString());
    Files.write(d.resolve("expected.txt"), score(model));
  }
}
