package convspark.driver;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/** One local[2] Spark session for a test class (start in @BeforeAll, stop in @AfterAll). */
public final class SparkTestSession {
  private SparkTestSession() {}

  public static SparkSession start() {
    SparkConf conf = new SparkConf().setMaster("local[2]").setAppName("convspark-test")
        .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
        .set("spark.sql.shuffle.partitions", "2");
    SparkSession s = SparkSession.builder().config(conf).getOrCreate();
    s.sparkContext().setLogLevel("ERROR");
    return s;
  }

  public static JavaSparkContext jsc(SparkSession s) {
    return JavaSparkContext.fromSparkContext(s.sparkContext());
  }
}
