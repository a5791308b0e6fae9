package convspark.worker;

import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.SoftmaxCrossEntropy;
import convspark.common.nn.Workspace;
import java.io.Serializable;

/**
 * Inference-mode evaluation of a block (no dropout, running batch-norm statistics): summed loss
 * (with the same label smoothing as training, so train and validation losses compare), correct
 * count and the confusion matrix (row = true class, column = predicted). Mergeable in place.
 */
public final class Evaluation implements Serializable {
  private static final long serialVersionUID = 1L;
  public final int classes;
  public final long[] confusion;
  public double lossSum;
  public long count;
  public long correct;

  public Evaluation(int classes) {
    this.classes = classes;
    this.confusion = new long[classes * classes];
  }

  public Evaluation merge(Evaluation o) {
    for (int i = 0; i < confusion.length; i++) {
      confusion[i] += o.confusion[i];
    }
    lossSum += o.lossSum;
    count += o.count;
    correct += o.correct;
    return this;
  }

  public double accuracy() {
    return count == 0 ? Double.NaN : (double) correct / count;
  }

  public double meanLoss() {
    return count == 0 ? Double.NaN : lossSum / count;
  }

  /** Accuracy of each true class (NaN for a class with no samples). */
  public double[] perClassAccuracy() {
    double[] a = new double[classes];
    for (int c = 0; c < classes; c++) {
      long total = 0;
      for (int p = 0; p < classes; p++) {
        total += confusion[c * classes + p];
      }
      a[c] = total == 0 ? Double.NaN : (double) confusion[c * classes + c] / total;
    }
    return a;
  }

  /** Evaluates every sample of {@code block} in batches of {@code batch}. */
  public static Evaluation of(SampleBlock block, Network net, float[] params, float[] state,
      int batch, double labelSmoothing) {
    int classes = net.classes();
    Evaluation ev = new Evaluation(classes);
    WorkspaceCache.Entry entry = WorkspaceCache.borrow(net, batch);
    try {
      Workspace ws = entry.workspace;
      Pass pass = Pass.inference(params, state);
      int size = block.sampleSize();
      for (int start = 0; start < block.count(); start += batch) {
        int n = Math.min(batch, block.count() - start);
        System.arraycopy(block.features(), start * size, ws.input(), 0, n * size);
        float[] logits = ws.forward(pass, n);
        ev.lossSum += SoftmaxCrossEntropy.lossAndGrad(logits, block.labels(), start, n, classes,
            labelSmoothing, null);
        for (int i = 0; i < n; i++) {
          int pred = SoftmaxCrossEntropy.argmax(logits, i * classes, classes);
          int y = block.labels()[start + i];
          ev.confusion[y * classes + pred]++;
          if (pred == y) {
            ev.correct++;
          }
        }
        ev.count += n;
      }
    } finally {
      WorkspaceCache.giveBack(net, batch, entry);
    }
    return ev;
  }
}
