package convspark.driver.exec;

import convspark.common.BadInputException;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.driver.data.Frames;
import convspark.driver.data.Normalization;
import convspark.worker.WorkspaceCache;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;

/**
 * Executor side of {@code CnnClassificationModel.transform}: scores a partition batch by batch.
 */
public record Scorer(Network net, Normalization norm, Broadcast<Weights> weights,
    Frames.Kind kind, int featuresIdx, String featuresCol, int width, int batch, boolean raw,
    boolean prob, boolean pred) implements MapPartitionsFunction<Row, Row> {

  @Override
  public Iterator<Row> call(Iterator<Row> rows) {
    return new Batches(rows);
  }

  /**
   * The rows one forward pass takes when {@code n} rows are pending: the power of two at or
   * above {@code n}, at most {@code batch}. A partition of a few rows borrows a small workspace,
   * not one for the whole inference batch (10 rows under an inferenceBatch of 1,000,000 ran out
   * of memory), and a partition's batches use at most two sizes: the full batch and its tail's.
   */
  static int passRows(int n, int batch) {
    return n <= 1 ? 1 : (int) Math.min(batch, Long.highestOneBit((long) n - 1) << 1);
  }

  /** Pulls up to {@code batch} rows, scores them with one forward pass, emits them. */
  private final class Batches implements Iterator<Row> {
    private final Iterator<Row> rows;
    private Row[] pending = new Row[Math.min(batch, 256)];
    private final int k = net.classes();
    private double[] logits = new double[0];
    private final int partition;
    private WorkspaceCache.Entry entry;
    private int entryRows;
    private int n;
    private int pos;
    private long seen;

    Batches(Iterator<Row> rows) {
      this.rows = rows;
      TaskContext tc = TaskContext.get();
      this.partition = tc == null ? 0 : tc.partitionId();
      if (tc != null) {
        tc.addTaskCompletionListener((TaskCompletionListener) ctx -> release());
      }
    }

    private void release() {
      if (entry != null) {
        WorkspaceCache.giveBack(net, entryRows, entry);
        entry = null;
      }
    }

    @Override
    public boolean hasNext() {
      if (pos < n) {
        return true;
      }
      if (!rows.hasNext()) {
        release();
        return false;
      }
      try {
        fill();
      } catch (OutOfMemoryError e) {
        // an Error would make Spark end the JVM (the driver's, in local mode); the workspace,
        // perhaps the cause, is dropped rather than given back to the cache
        entry = null;
        throw TaskOutOfMemoryException.of(e, "scoring, partition " + partition, "a smaller "
            + "predict.inference-batch (CnnClassificationModel's inferenceBatch; " + batch
            + " now)");
      }
      return pos < n;
    }

    private void fill() {
      n = 0;
      pos = 0;
      while (n < batch && rows.hasNext()) {
        if (n == pending.length) {
          pending = java.util.Arrays.copyOf(pending, (int) Math.min(batch, 2L * n));
        }
        pending[n++] = rows.next();
      }
      int passRows = passRows(n, batch);
      if (entry == null || entryRows != passRows) {
        release();
        entry = WorkspaceCache.borrow(net, passRows);
        entryRows = passRows;
      }
      if (logits.length < n * k) {
        logits = new double[passRows * k];
      }
      Workspace ws = entry.workspace;
      var shape = net.inputShape();
      int size = shape.size();
      float[] x = ws.input();
      for (int i = 0; i < n; i++) {
        String where = "Column " + featuresCol + " (row " + seen + " of partition " + partition
            + ")";
        Frames.features(pending[i], featuresIdx, kind, shape, x, i * size, where);
        // the bound training applies: a row fit would refuse is not scored either
        Frames.checkMagnitude(x, i * size, size, norm.scale(), where);
        seen++;
      }
      norm.applyInPlace(x, 0, n, shape.channels(), shape.spatial());
      Weights w = weights.value();
      float[] out = ws.forward(Pass.inference(w.params(), w.state()), n);
      for (int i = 0; i < n * k; i++) {
        logits[i] = out[i];
      }
    }

    @Override
    public Row next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      int i = pos++;
      Row r = pending[i];
      pending[i] = null;
      Object[] v = new Object[width + (raw ? 1 : 0) + (prob ? 1 : 0) + (pred ? 1 : 0)];
      for (int j = 0; j < width; j++) {
        v[j] = r.get(j);
      }
      int c = width;
      int off = i * k;
      if (raw) {
        // the logits less their mean: the same softmax and argmax, and with two classes element
        // 1 ranks rows by the probability of class 1 (what BinaryClassificationEvaluator reads)
        double mean = 0;
        for (int j = 0; j < k; j++) {
          mean += logits[off + j];
        }
        mean /= k;
        double[] z = new double[k];
        for (int j = 0; j < k; j++) {
          z[j] = logits[off + j] - mean;
        }
        v[c++] = Vectors.dense(z);
      }
      int best = 0;
      for (int j = 1; j < k; j++) {
        if (logits[off + j] > logits[off + best]) {
          best = j;
        }
      }
      if (prob) {
        v[c++] = Vectors.dense(softmax(logits, off, k));
      }
      if (pred) {
        v[c] = (double) best;
      }
      return RowFactory.create(v);
    }
  }

  /** Softmax of {@code z[off..off+k)}, computed in double, stable for large logits. */
  public static double[] softmax(double[] z, int off, int k) {
    double max = Double.NEGATIVE_INFINITY;
    for (int j = 0; j < k; j++) {
      max = Math.max(max, z[off + j]);
    }
    double[] p = new double[k];
    double sum = 0;
    for (int j = 0; j < k; j++) {
      p[j] = Math.exp(z[off + j] - max);
      sum += p[j];
    }
    for (int j = 0; j < k; j++) {
      p[j] /= sum;
    }
    return p;
  }
}
