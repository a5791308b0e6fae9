package convspark.driver.exec;

import convspark.common.BadInputException;
import convspark.common.spec.Shape;
import convspark.driver.data.Frames;
import convspark.driver.data.Normalization;
import convspark.worker.SampleBlock;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * DataFrame rows on the executors: packing each partition's rows into one normalised block, and
 * the two passes of {@link Normalization.Moments} over the rows. Rows are (label, features)
 * pairs, parsed by {@link Frames#label} and {@link Frames#features}.
 */
public final class RowBlocks {
  private RowBlocks() {}

  /**
   * Packs the (label, features) rows of {@code rows} into one cached block per partition of
   * {@code partitions}, normalised with {@code norm}.
   *
   * @throws BadInputException when there are no rows ({@code source} names the data)
   */
  public static Distributed.Blocks pack(JavaRDD<Row> rows, int partitions, Frames.Kind kind,
      Shape shape, int classes, Normalization norm, String source, String name) {
    // each row keeps where it came from, so that a block's order after the shuffle (the order
    // in which its pieces arrive from the executors) does not decide the block's sample order
    JavaRDD<Tuple2<Long, Row>> keyed = rows.mapPartitionsWithIndex(
        (Integer part, Iterator<Row> it) -> new Iterator<Tuple2<Long, Row>>() {
          private long i;

          @Override
          public boolean hasNext() {
            return it.hasNext();
          }

          @Override
          public Tuple2<Long, Row> next() {
            return new Tuple2<>(origin(part, i++), it.next());
          }
        }, true);
    JavaRDD<SampleBlock> rdd = keyed.repartition(partitions)
        .mapPartitions(new Pack(kind, shape, classes, norm, source))
        .setName(name).persist(StorageLevel.MEMORY_ONLY());
    List<Integer> sizes;
    try {
      sizes = rdd.map(SampleBlock::count).collect();
    } catch (Exception e) { // SparkException too, which Scala throws undeclared
      rdd.unpersist(false); // a bad row fails the pass: the partitions packed so far go too
      throw e;
    }
    long total = 0;
    int max = 0;
    for (int s : sizes) {
      total += s;
      max = Math.max(max, s);
    }
    if (total == 0) {
      rdd.unpersist(false);
      throw new BadInputException(source + ": no samples");
    }
    return new Distributed.Blocks(rdd, total, max, null);
  }

  /** Where a row came from: its input partition and its index there, as one ordered key. */
  static long origin(int partition, long row) {
    return ((long) partition << 40) | row;
  }

  /**
   * Packs a partition's rows into one block, scaled and normalised, validating each row; the
   * samples are put in the order of the rows' origins, whatever order the shuffle delivered.
   */
  record Pack(Frames.Kind kind, Shape shape, int classes, Normalization norm, String source)
      implements FlatMapFunction<Iterator<Tuple2<Long, Row>>, SampleBlock> {

    @Override
    public Iterator<SampleBlock> call(Iterator<Tuple2<Long, Row>> rows) {
      // an OutOfMemoryError would make Spark end the JVM (the driver's, in local mode)
      return TaskOutOfMemoryException.guard(() -> "packing the rows of " + source, () -> null,
          () -> run(rows));
    }

    private Iterator<SampleBlock> run(Iterator<Tuple2<Long, Row>> rows) {
      int size = shape.size();
      float[] f = new float[size * 256];
      int[] y = new int[256];
      long[] keys = new long[256];
      int n = 0;
      while (rows.hasNext()) {
        Tuple2<Long, Row> kr = rows.next();
        Row r = kr._2();
        if (n == y.length) {
          y = Arrays.copyOf(y, n * 2);
          keys = Arrays.copyOf(keys, n * 2);
          f = Arrays.copyOf(f, n * 2 * size);
        }
        keys[n] = kr._1();
        String where = source + " row " + (keys[n] & ((1L << 40) - 1)) + " of input partition "
            + (keys[n] >>> 40);
        y[n] = Frames.label(r, 0, classes, where);
        Frames.features(r, 1, kind, shape, f, n * size, where);
        Frames.checkMagnitude(f, n * size, size, norm.scale(), where);
        n++;
      }
      Integer[] order = new Integer[n];
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      long[] k = keys;
      Arrays.sort(order, (a, b) -> Long.compare(k[a], k[b]));
      float[] fs = new float[n * size];
      int[] ys = new int[n];
      for (int i = 0; i < n; i++) {
        System.arraycopy(f, order[i] * size, fs, i * size, size);
        ys[i] = y[order[i]];
      }
      norm.applyInPlace(fs, 0, n, shape.channels(), shape.spatial());
      return List.of(new SampleBlock(n, size, fs, ys)).iterator();
    }
  }

  /**
   * Finds the first bad row of {@code rows}, the (label, features) rows of a DataFrame that a
   * validation split was cut from, and throws its error numbered as that DataFrame's rows are
   * ("row i of input partition p"): a split's own numbering (Spark's {@code randomSplit} sorts
   * each partition before it samples) cannot be found in the caller's data. One pass, run only
   * after a split has failed; returns if every row passes, and the caller then reports the split's
   * error as it was.
   */
  public static void locate(Dataset<Row> rows, Frames.Kind kind, Shape shape, int classes,
      float scale, String source) {
    List<String> firsts = rows.javaRDD().mapPartitionsWithIndex(
        (Integer part, Iterator<Row> it) -> {
          float[] buf = new float[shape.size()];
          long i = 0;
          while (it.hasNext()) {
            Row r = it.next();
            String where = source + " row " + i++ + " of input partition " + part;
            try {
              Frames.label(r, 0, classes, where);
              Frames.features(r, 1, kind, shape, buf, 0, where);
              Frames.checkMagnitude(buf, 0, buf.length, scale, where);
            } catch (BadInputException e) {
              return List.of(e.getMessage()).iterator();
            }
          }
          return List.<String>of().iterator();
        }, true).collect();
    if (!firsts.isEmpty()) {
      throw new BadInputException(firsts.get(0));
    }
  }

  /**
   * Per-channel mean and std of the scaled features of {@code df}'s (label, features) rows,
   * estimated on the executors with {@link Normalization.Moments}: one job per pass, partitions
   * merged in partition order.
   */
  public static Normalization fit(Dataset<Row> df, Frames.Kind kind, Shape shape, float scale,
      String source) {
    JavaRDD<Row> rows = df.javaRDD();
    Normalization.Moments first = pass(rows, kind, shape, scale, null, source);
    if (first.samples() == 0) {
      throw new BadInputException(source + ": no samples");
    }
    double[] mean = first.means(scale);
    Normalization n = pass(rows, kind, shape, scale, mean, source)
        .result(scale, mean, first.samples());
    if (n == null) {
      throw new BadInputException(source + ": feature values too large to normalize");
    }
    return n;
  }

  /** Pass 1 of {@link Normalization.Moments} ({@code mean} null) or pass 2 over the rows. */
  private static Normalization.Moments pass(JavaRDD<Row> rows, Frames.Kind kind, Shape shape,
      float scale, double[] mean, String source) {
    int ch = shape.channels();
    int hw = shape.spatial();
    List<Normalization.Moments> parts = rows.mapPartitions((Iterator<Row> it) -> {
      Normalization.Moments m = new Normalization.Moments(ch, hw);
      float[] buf = new float[shape.size()];
      long i = 0;
      while (it.hasNext()) {
        // the input's own partitions (this pass runs before the shuffle into blocks)
        String where = source + " row " + i++ + " of input partition "
            + TaskContext.getPartitionId();
        Frames.features(it.next(), 1, kind, shape, buf, 0, where);
        Frames.checkMagnitude(buf, 0, buf.length, scale, where);
        if (mean == null) {
          m.addSums(buf, 0, 1);
        } else {
          m.addSquares(buf, 0, 1, scale, mean);
        }
      }
      return List.of(m).iterator();
    }).collect();
    Normalization.Moments total = new Normalization.Moments(ch, hw);
    for (Normalization.Moments m : parts) {
      total.merge(m);
    }
    return total;
  }
}
