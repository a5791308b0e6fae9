package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.driver.SparkTestSession;
import convspark.driver.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.ml.linalg.VectorUDT;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Training from DataFrame sources (data.format = dataframe): Parquet with an array column, and
 * Parquet with an ML Vector column; bad columns fail with Spark-style messages naming them.
 */
class CliDataFrameTest {
  @TempDir static Path dir;
  static Path conf;

  @BeforeAll
  static void data() throws Exception {
    SparkSession spark = SparkTestSession.start();
    try {
      for (String split : new String[] {"train", "test"}) {
        int n = split.equals("train") ? 1200 : 300;
        int[] labels = new int[n];
        byte[][] images = TestData.generate(n, split.equals("train") ? 1 : 2, labels);
        List<Row> arrays = new ArrayList<>();
        List<Row> vectors = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          List<Float> a = new ArrayList<>();
          double[] v = new double[images[i].length];
          for (int p = 0; p < images[i].length; p++) {
            a.add((float) (images[i][p] & 0xff));
            v[p] = images[i][p] & 0xff;
          }
          arrays.add(RowFactory.create((double) labels[i], a, "x" + i));
          vectors.add(RowFactory.create(labels[i], Vectors.dense(v)));
        }
        StructType arraySchema = new StructType()
            .add("y", DataTypes.DoubleType)
            .add("pixels", DataTypes.createArrayType(DataTypes.FloatType))
            .add("name", DataTypes.StringType);
        StructType vectorSchema = new StructType()
            .add("label", DataTypes.IntegerType)
            .add("features", new VectorUDT());
        Dataset<Row> da = spark.createDataFrame(arrays, arraySchema).repartition(3);
        da.write().parquet(dir.resolve(split + "-array.parquet").toString());
        spark.createDataFrame(vectors, vectorSchema).repartition(2).write()
            .parquet(dir.resolve(split + "-vector.parquet").toString());
      }
    } finally {
      spark.stop();
    }
    conf = dir.resolve("df.conf");
    // no IDX files: data.*.images and labels are keys data.format = dataframe does not read
    Path none = Path.of("");
    Files.writeString(conf, TestData.config(none, none, none, none)
        + "\ndata.format = dataframe\n");
  }

  static CliTrainTest.Run train(Path out, String... sets) {
    List<String> a = new ArrayList<>(List.of("train", "--config", conf.toString(), "--out",
        out.toString()));
    for (String s : sets) {
      a.add("--set");
      a.add(s);
    }
    return CliTrainTest.run(a.toArray(new String[0]));
  }

  @Test
  void trainsFromParquetWithAnArrayColumn() throws Exception {
    Path out = dir.resolve("run-array");
    CliTrainTest.Run r = train(out, "data.train.path=" + dir.resolve("train-array.parquet"),
        "data.test.path=" + dir.resolve("test-array.parquet"), "data.dataframe.label-col=y",
        "data.dataframe.features-col=pixels", "train.epochs=3");
    assertEquals(0, r.code(), r.err());
    JsonNode s = CliTrainTest.summary(out);
    assertTrue(s.get("test").get("accuracy").asDouble() >= 0.9, s.toString());
    assertEquals(300, s.get("test").get("count").asInt());
  }

  @Test
  void aResumedRunFitsTheSameNormalisationAgainAndABatchBeyondTheSplitIsRefused() {
    Path out = dir.resolve("run-array-resume");
    List<String> args = new ArrayList<>(List.of("train", "--config", conf.toString(), "--out",
        out.toString()));
    for (String s : new String[] {"data.train.path=" + dir.resolve("train-array.parquet"),
        "data.dataframe.label-col=y", "data.dataframe.features-col=pixels", "train.epochs=2",
        "data.test.path=\"\"", "data.test.images=\"\"", "data.test.labels=\"\""}) {
      args.add("--set");
      args.add(s);
    }
    List<String> first = new ArrayList<>(args);
    first.addAll(List.of("--stop-after", "1"));
    CliTrainTest.Run r = CliTrainTest.run(first.toArray(new String[0]));
    assertEquals(0, r.code(), r.err());
    // the auto statistics, fitted again by distributed passes over the same split, are the
    // checkpoint's: the run continues
    List<String> resume = new ArrayList<>(args);
    resume.add("--resume");
    r = CliTrainTest.run(resume.toArray(new String[0]));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("resumed from"), r.out());
    // 1200 rows less the validation split: fewer than 1024 to train on (refused by the trainer,
    // which alone knows a DataFrame split's size)
    List<String> big = new ArrayList<>(args);
    big.set(4, dir.resolve("run-array-big-batch").toString());
    big.addAll(List.of("--set", "train.global-batch=1024"));
    r = CliTrainTest.run(big.toArray(new String[0]));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("config key train.global-batch: expected at most the ")
        && r.err().contains("found 1024"), r.err());
  }

  @Test
  void trainsFromParquetWithAVectorColumn() throws Exception {
    Path out = dir.resolve("run-vector");
    CliTrainTest.Run r = train(out, "data.train.path=" + dir.resolve("train-vector.parquet"),
        "data.test.path=" + dir.resolve("test-vector.parquet"), "train.epochs=3");
    assertEquals(0, r.code(), r.err());
    JsonNode test = CliTrainTest.summary(out).get("test");
    assertTrue(test.get("accuracy").asDouble() >= 0.9);

    // evaluate reads the same DataFrame test split and scores it as training's test pass did
    CliTrainTest.Run ev = CliTrainTest.run("evaluate", "--config", conf.toString(), "--set",
        "data.test.path=" + dir.resolve("test-vector.parquet"), "--checkpoint", out.toString());
    assertEquals(0, ev.code(), ev.err());
    String line = ev.out().lines().filter(l -> l.startsWith("samples")).findFirst()
        .orElseThrow(() -> new AssertionError(ev.out()));
    assertEquals(String.format("samples %d  loss %.4f  accuracy %.4f",
        test.get("count").asInt(), test.get("loss").asDouble(),
        test.get("accuracy").asDouble()), line);
  }

  @Test
  void missingAndWronglyTypedColumnsAreNamed() {
    CliTrainTest.Run r = train(dir.resolve("run-bad1"),
        "data.train.path=" + dir.resolve("train-array.parquet"),
        "data.test.path=" + dir.resolve("test-array.parquet"), "data.dataframe.label-col=y");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("Column features") && r.err().contains("does not exist"),
        r.err());
    r = train(dir.resolve("run-bad2"), "data.train.path=" + dir.resolve("train-array.parquet"),
        "data.test.path=" + dir.resolve("test-array.parquet"), "data.dataframe.label-col=y",
        "data.dataframe.features-col=name");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("Column name must be"), r.err());
  }

  @Test
  void wrongImageSizeIsNamed() {
    CliTrainTest.Run r = train(dir.resolve("run-bad3"),
        "data.train.path=" + dir.resolve("train-vector.parquet"),
        "data.test.path=" + dir.resolve("test-vector.parquet"), "model.input.height=10",
        "model.input.width=10", "data.normalize.mode=none");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("144 values") && r.err().contains("1x10x10"), r.err());
    // every row is bad: the first is named as the Parquet input holds it, not by its place in
    // the validation split's (sorted) partitions
    assertTrue(r.err().contains("train-vector.parquet row 0 of input partition 0: ")
        && !r.err().contains("validation split"), r.err());
  }
}
