package convspark.common.nn;

/**
 * Softmax cross-entropy with label smoothing, computed stably: each row's maximum is subtracted
 * before exponentiation and the loss uses log-sum-exp, so logits of +-1e4 stay finite.
 *
 * <p>With smoothing epsilon the target is (1 - eps) on the true class plus eps/C on every class
 * (as PyTorch's {@code label_smoothing}). The loss is the <b>sum</b> over the batch (in double),
 * and the gradient written is that of the sum, {@code softmax - target} per row, so that the
 * driver can normalise by the global sample count.
 */
public final class SoftmaxCrossEntropy {
  private SoftmaxCrossEntropy() {}

  /**
   * @param logits n x classes, row-major
   * @param labels class index per sample, read from {@code labels[labelOff + i]}
   * @param grad where d(sum loss)/d(logits) goes (n x classes); null to skip
   * @return the summed loss
   */
  public static double lossAndGrad(float[] logits, int[] labels, int labelOff, int n,
      int classes, double smoothing, float[] grad) {
    double total = 0;
    double off = smoothing / classes;
    double on = 1.0 - smoothing + off;
    for (int i = 0; i < n; i++) {
      int b = i * classes;
      float max = Float.NEGATIVE_INFINITY;
      for (int c = 0; c < classes; c++) {
        max = Math.max(max, logits[b + c]);
      }
      double sum = 0;
      for (int c = 0; c < classes; c++) {
        sum += Math.exp((double) logits[b + c] - max);
      }
      double logSum = Math.log(sum) + max;
      int y = labels[labelOff + i];
      double rowLoss = 0;
      for (int c = 0; c < classes; c++) {
        double t = c == y ? on : off;
        double logp = logits[b + c] - logSum;
        rowLoss -= t * logp;
        if (grad != null) {
          grad[b + c] = (float) (Math.exp(logp) - t);
        }
      }
      total += rowLoss;
    }
    return total;
  }

  /** Number of rows whose arg-max equals the label. */
  public static int countCorrect(float[] logits, int[] labels, int labelOff, int n, int classes) {
    int correct = 0;
    for (int i = 0; i < n; i++) {
      if (argmax(logits, i * classes, classes) == labels[labelOff + i]) {
        correct++;
      }
    }
    return correct;
  }

  /** Index of the largest of {@code len} values from {@code off}. */
  public static int argmax(float[] v, int off, int len) {
    int best = 0;
    for (int c = 1; c < len; c++) {
      if (v[off + c] > v[off + best]) {
        best = c;
      }
    }
    return best;
  }
}
