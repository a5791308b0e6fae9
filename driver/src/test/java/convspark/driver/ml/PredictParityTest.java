package convspark.driver.ml;

import convspark.driver.CliRunner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.driver.SparkTestSession;
import convspark.driver.TestData;
import convspark.driver.data.IdxReader;
import convspark.driver.data.ImageSet;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.ml.linalg.Vector;
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
 * One checkpoint, three ways to score it: {@link CnnClassificationModel#transform}, the CLI's
 * {@code predict} (idx input to Parquet, a Parquet DataFrame source to CSV, an image directory
 * to Parquet), and a plain
 * single-process forward pass through {@link Network} and {@link Workspace}. They agree.
 */
class PredictParityTest {
  @TempDir static Path dir;
  static Path ckpt;
  static Path conf;
  static Path testFrame;
  static Path images;
  static ImageSet test;
  static CnnClassificationModel model;
  /** transform's output on the test set, by index: prediction, probability. */
  static List<Row> transformed;

  static final int N = 200;
  static final int K = TestData.CLASSES;

  @BeforeAll
  static void fitAndScore() throws Exception {
    Path[] idx = TestData.writeIdx(dir, "test", N, 2);
    test = IdxReader.read(idx[0].toString(), idx[1].toString(), new Configuration());
    SparkSession spark = SparkTestSession.start();
    try {
      // a briefly trained model; label smoothing keeps its probabilities away from 0 and 1
      model = new CnnClassifier().setModelSpec(MlTestData.MODEL)
          .setFeaturesCol("arr").setLabelCol("y").setEpochs(1).setNumWorkers(2)
          .setGlobalBatch(32).setBaseBatch(32).setBaseLr(0.02).setValidationFraction(0)
          .setLabelSmoothing(0.3)
          .setExtraConfig("data.scale = 0.00392156862745098")
          .fit(MlTestData.images(spark, 320, 1, 2));
      ckpt = dir.resolve("model.ckpt");
      Files.write(ckpt, model.checkpoint().toBytes());
      // the same images as idx[], as a Parquet DataFrame source (id, y, arr)
      testFrame = dir.resolve("test.parquet");
      MlTestData.images(spark, N, 2, 3).select("id", "y", "arr").write()
          .parquet(testFrame.toString());
      // and as an image directory (grayscale PNGs) for source = image
      images = dir.resolve("images");
      Files.createDirectories(images);
      for (int i = 0; i < N; i++) {
        BufferedImage img = new BufferedImage(test.width(), test.height(),
            BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < test.height(); y++) {
          for (int x = 0; x < test.width(); x++) {
            img.getRaster().setSample(x, y, 0,
                (int) test.pixels()[i * test.sampleSize() + y * test.width() + x]);
          }
        }
        ImageIO.write(img, "png", images.resolve(String.format("img-%03d.png", i)).toFile());
      }
      List<Row> rows = new ArrayList<>();
      for (int i = 0; i < N; i++) {
        float[] px = new float[test.sampleSize()];
        System.arraycopy(test.pixels(), i * px.length, px, 0, px.length);
        rows.add(RowFactory.create((long) i, test.labels()[i], px));
      }
      StructType schema = new StructType().add("index", DataTypes.LongType)
          .add("label", DataTypes.IntegerType)
          .add("features", DataTypes.createArrayType(DataTypes.FloatType));
      Dataset<Row> in = spark.createDataFrame(rows, schema).repartition(3);
      transformed = model.setFeaturesCol("features").setInferenceBatch(64).transform(in)
          .orderBy("index").select("index", "label", "prediction", "probability")
          .collectAsList();
    } finally {
      spark.stop();
    }
    conf = dir.resolve("predict.conf");
    Files.writeString(conf, """
        data {
          format = idx
          test { images = "%s", labels = "%s" }
        }
        spark.master = "local[2]"
        """.formatted(idx[0], idx[1]));
  }

  static CliRunner.Run cli(String... args) {
    return CliRunner.run(args);
  }

  /** Rows of the CSV part files Spark wrote into {@code dirOut}, header first. */
  static List<String[]> csv(Path dirOut) throws Exception {
    List<String[]> rows = new ArrayList<>();
    String[] header = null;
    try (Stream<Path> s = Files.list(dirOut)) {
      for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".csv")).sorted()
          .toList()) {
        List<String> lines = Files.readAllLines(p);
        header = lines.get(0).split(",");
        for (String l : lines.subList(1, lines.size())) {
          rows.add(l.split(","));
        }
      }
    }
    rows.sort(Comparator.comparingLong(r -> Long.parseLong(r[0])));
    rows.add(0, header);
    return rows;
  }

  /** Softmax probabilities of a plain single-process forward pass over the whole test set. */
  static double[][] forward(Checkpoint c) {
    Network net = new Network(model.network().spec());
    Workspace ws = net.newWorkspace(N);
    System.arraycopy(test.pixels(), 0, ws.input(), 0, test.pixels().length);
    model.normalization().applyInPlace(ws.input(), 0, N, test.channels(),
        test.height() * test.width());
    float[] logits = ws.forward(Pass.inference(c.params(), c.state()), N);
    double[][] p = new double[N][];
    for (int i = 0; i < N; i++) {
      double[] z = new double[K];
      for (int j = 0; j < K; j++) {
        z[j] = logits[i * K + j];
      }
      p[i] = convspark.driver.exec.Scorer.softmax(z, 0, K);
    }
    return p;
  }

  static int argmax(double[] p) {
    int best = 0;
    for (int j = 1; j < p.length; j++) {
      if (p[j] > p[best]) {
        best = j;
      }
    }
    return best;
  }

  @Test
  void transformCliAndSingleProcessForwardPassAgree() throws Exception {
    Path parquet = dir.resolve("pred.parquet");
    CliRunner.Run r = cli("predict", "--checkpoint", ckpt.toString(), "--config", conf.toString(),
        "--output", parquet.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("predicted " + N + " rows") && r.out().contains("rows/s"),
        r.out());

    // a DataFrame source (Parquet: id, y, arr) to CSV
    Path csvOut = dir.resolve("pred.csv");
    r = cli(TestData.noIdxArgs("predict", "--checkpoint", ckpt.toString(), "--config",
        conf.toString(), "--set", "data.format=dataframe", "--set", "data.test.path=" + testFrame,
        "--set", "data.dataframe.features-col=arr", "--set", "data.dataframe.label-col=y",
        "--output", csvOut.toString()));
    assertEquals(0, r.code(), r.err());
    List<String[]> csv = csv(csvOut);
    assertEquals(List.of("id", "y", "prediction", "p0", "p1", "p2", "p3"),
        List.of(csv.get(0)));
    assertEquals(N + 1, csv.size());

    // an image directory (source = image): the features column is found, the file is the id
    Path imageOut = dir.resolve("pred-images");
    r = cli(TestData.noIdxArgs("predict", "--checkpoint", ckpt.toString(), "--config",
        conf.toString(), "--set", "data.format=dataframe", "--set",
        "data.dataframe.source=image", "--set", "data.test.path=" + images, "--output",
        imageOut.toString(), "--format", "parquet"));
    assertEquals(0, r.code(), r.err());

    // the existing output is not replaced without --overwrite
    r = cli("predict", "--checkpoint", ckpt.toString(), "--config", conf.toString(),
        "--output", parquet.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("exists; pass --overwrite"), r.err());

    List<Row> fromCli;
    List<Row> fromImages;
    SparkSession spark = SparkTestSession.start();
    try {
      Dataset<Row> p = spark.read().parquet(parquet.toString());
      assertEquals(List.of("index", "label", "prediction", "probability"),
          List.of(p.schema().fieldNames()));
      assertEquals("array<double>", p.schema().apply("probability").dataType().simpleString());
      fromCli = p.orderBy("index").collectAsList();
      Dataset<Row> im = spark.read().parquet(imageOut.toString());
      assertEquals(List.of("origin", "prediction", "probability"),
          List.of(im.schema().fieldNames()));
      fromImages = new ArrayList<>(im.collectAsList());
      fromImages.sort(Comparator.comparing(x -> x.getString(0)));
    } finally {
      spark.stop();
    }

    double[][] single = forward(model.checkpoint());
    int changed = 0;
    for (int i = 0; i < N; i++) {
      Row t = transformed.get(i);
      Row c = fromCli.get(i);
      String[] v = csv.get(i + 1);
      assertEquals((long) i, t.getLong(0));
      assertEquals((long) i, c.getLong(0));
      assertEquals(test.labels()[i], c.getInt(1));
      assertEquals(i, Long.parseLong(v[0]));
      assertEquals(test.labels()[i], (int) Double.parseDouble(v[1]));
      double[] pt = ((Vector) t.get(3)).toArray();
      List<Double> pc = c.getList(3);
      assertEquals(argmax(single[i]), t.getDouble(2), "row " + i);
      assertEquals(t.getDouble(2), c.getDouble(2), "row " + i);
      assertEquals(t.getDouble(2), Double.parseDouble(v[2]), "row " + i);
      Row m = fromImages.get(i);
      assertTrue(m.getString(0).endsWith(String.format("img-%03d.png", i)), m.getString(0));
      assertEquals(t.getDouble(2), m.getDouble(1), "image " + i);
      for (int j = 0; j < K; j++) {
        assertEquals(pt[j], (Double) m.getList(2).get(j), 1e-6, "image " + i);
        // batch composition may change BLAS summation order in the last bits only
        assertEquals(single[i][j], pt[j], 1e-6, "row " + i);
        assertEquals(pt[j], pc.get(j), 1e-6, "row " + i);
        assertEquals(pc.get(j), Double.parseDouble(v[3 + j]), 1e-6, "row " + i);
      }
      if (pt[argmax(pt)] < 0.99) {
        changed++;
      }
    }
    assertTrue(changed > 0, "every probability is ~1: the comparison would prove little");
  }
}
