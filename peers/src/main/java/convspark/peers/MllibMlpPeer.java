package convspark.peers;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.classification.MultilayerPerceptronClassificationModel;
import org.apache.spark.ml.classification.MultilayerPerceptronClassifier;
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;

/**
 * "What Spark gives you today": Spark MLlib's MultilayerPerceptronClassifier, layers [784, 256,
 * 128, 10] (sigmoid hidden layers, softmax output: MLlib's only choice), L-BFGS (its default
 * solver), block size 128, seed 42, on Fashion-MNIST with the same input preparation as
 * convspark (pixels / 255, normalised with the training split's mean and std); all 60,000
 * training images (no validation split), tested on the 10,000 test images.
 *
 * <p>Usage: {@code MllibMlpPeer MASTER MAX_ITER [MAX_TRAIN_IMAGES]}. Wall time is from the start
 * of the Spark session to the test accuracy (data reading, DataFrame creation, fit, test);
 * the JVM start is excluded, as in convspark's summary.json.
 */
public final class MllibMlpPeer {
  private MllibMlpPeer() {}

  public static void main(String[] args) throws Exception {
    String master = args[0];
    int maxIter = Integer.parseInt(args[1]);
    int maxTrain = args.length > 2 ? Integer.parseInt(args[2]) : 0;
    long w0 = System.nanoTime();
    SparkSession spark = SparkSession.builder().master(master).appName("mllib-mlp-peer")
        .config("spark.ui.enabled", "false").getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    // The driver computes the normalisation; the executors read their slices of the IDX files
    // themselves (no 400 MB of rows shipped inside tasks).
    FashionMnist stats = FashionMnist.load(FashionMnist.DIR, "train", maxTrain);
    double[] ms = FashionMnist.meanStd(stats);
    int trainCount = stats.count;
    stats = null;
    int parts = spark.sparkContext().defaultParallelism();
    Dataset<Row> trainDf = frame(spark, "train", trainCount, parts, ms)
        .persist(StorageLevel.MEMORY_AND_DISK());
    Dataset<Row> testDf = frame(spark, "t10k", 10000, parts, ms);
    trainDf.count();
    int[] layers = {784, 256, 128, 10};
    MultilayerPerceptronClassifier mlp = new MultilayerPerceptronClassifier()
        .setLayers(layers).setMaxIter(maxIter).setSeed(42).setBlockSize(128)
        .setLabelCol("label").setFeaturesCol("features");
    long f0 = System.nanoTime();
    MultilayerPerceptronClassificationModel model = mlp.fit(trainDf);
    double fitSecs = (System.nanoTime() - f0) / 1e9;
    double acc = new MulticlassClassificationEvaluator().setMetricName("accuracy")
        .evaluate(model.transform(testDf));
    double wall = (System.nanoTime() - w0) / 1e9;
    int iters = model.summary() != null ? model.summary().totalIterations() : -1;
    double lastLoss = Double.NaN;
    if (model.summary() != null && model.summary().objectiveHistory().length > 0) {
      double[] h = model.summary().objectiveHistory();
      lastLoss = h[h.length - 1];
    }
    String blas = blas();
    System.out.printf("mllib-mlp: test accuracy %.4f; fit %.1f s (%d iterations, final loss "
        + "%.4f); wall %.1f s; %s, %d partitions; %s%n", acc, fitSecs, iters, lastLoss, wall,
        master, parts, blas);
    new Out().put("peer", "mllib-mlp").put("master", master).put("layers", "784,256,128,10")
        .put("max_iter", maxIter).put("iterations", iters).put("train_images", trainCount)
        .put("test_accuracy", acc).put("fit_seconds", fitSecs).put("wall_seconds", wall)
        .put("final_loss", lastLoss).put("spark", spark.version()).put("blas", blas).print();
    spark.stop();
  }

  /** Rows (label, features) of the first {@code count} samples of a split, read in parts. */
  private static Dataset<Row> frame(SparkSession spark, String split, int count, int parts,
      double[] ms) {
    List<int[]> ranges = new ArrayList<>();
    for (int p = 0; p < parts; p++) {
      ranges.add(new int[] {(int) ((long) count * p / parts),
          (int) ((long) count * (p + 1) / parts)});
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    JavaRDD<Row> rows = jsc.parallelize(ranges, parts).flatMap(r -> {
      FashionMnist d = FashionMnist.load(FashionMnist.DIR, split, r[1]);
      d.normalize(ms[0], ms[1]);
      List<Row> out = new ArrayList<>(r[1] - r[0]);
      for (int i = r[0]; i < r[1]; i++) {
        double[] v = new double[FashionMnist.PIXELS];
        for (int j = 0; j < v.length; j++) {
          v[j] = d.images[i * FashionMnist.PIXELS + j];
        }
        out.add(RowFactory.create((double) d.labels[i], Vectors.dense(v)));
      }
      return out.iterator();
    });
    StructType schema = new StructType(new StructField[] {
        DataTypes.createStructField("label", DataTypes.DoubleType, false),
        DataTypes.createStructField("features", SQLDataTypes.VectorType(), false)});
    return spark.createDataFrame(rows, schema);
  }

  /** The BLAS MLlib's level-3 calls go to (dev.ludovic.netlib's NativeBLAS, else Java). */
  static String blas() {
    try {
      Object b = dev.ludovic.netlib.blas.NativeBLAS.getInstance();
      return "MLlib BLAS: " + b.getClass().getSimpleName() + " ("
          + System.getProperty("dev.ludovic.netlib.blas.nativeLib", "libblas.so.3") + ")";
    } catch (Throwable e) {
      return "MLlib BLAS: Java (" + dev.ludovic.netlib.blas.BLAS.getInstance().getClass()
          .getSimpleName() + "; native unavailable: " + e.getMessage() + ")";
    }
  }
}
