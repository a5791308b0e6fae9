package convspark.common.optim;

import convspark.common.nn.ParamRange;
import java.util.List;

/**
 * L2 (penalty {@code l2 * sum w^2}, gradient {@code 2 * l2 * w}) and L1 (penalty {@code l1 *
 * sum |w|}, subgradient {@code l1 * sign(w)}) over the given parameter ranges: by default the
 * conv and dense weights, not biases or batch-norm parameters.
 *
 * <p>Note: PyTorch's {@code weight_decay = d} adds {@code d * w} to the gradient, i.e. it equals
 * {@code l2 = d / 2} here.
 */
public record Regularization(double l1, double l2, List<ParamRange> ranges) {
  public Regularization {
    if (!(l1 >= 0) || !(l2 >= 0)) {
      throw new IllegalArgumentException("l1 and l2 must be >= 0, found l1=" + l1 + " l2=" + l2);
    }
    ranges = List.copyOf(ranges);
  }

  public boolean isZero() {
    return l1 == 0 && l2 == 0;
  }

  /** The penalty added to the mean loss. */
  public double penalty(float[] params) {
    if (isZero()) {
      return 0;
    }
    double sq = 0;
    double abs = 0;
    for (ParamRange r : ranges) {
      for (int i = r.offset(); i < r.offset() + r.length(); i++) {
        sq += (double) params[i] * params[i];
        abs += Math.abs(params[i]);
      }
    }
    return l2 * sq + l1 * abs;
  }

  /** Adds the penalty's gradient to {@code grad}. */
  public void addGradient(float[] params, float[] grad) {
    addGradient(params, grad, 0, grad.length);
  }

  /** Adds the penalty's gradient to elements [from, to) of {@code grad}. */
  public void addGradient(float[] params, float[] grad, int from, int to) {
    if (isZero()) {
      return;
    }
    float a = (float) (2 * l2);
    float b = (float) l1;
    for (ParamRange r : ranges) {
      int start = Math.max(from, r.offset());
      int end = Math.min(to, r.offset() + r.length());
      if (b == 0) {
        // L2 only (the usual case): a loop the JIT vectorises; a * w + 0 * signum(w) == a * w
        for (int i = start; i < end; i++) {
          grad[i] += a * params[i];
        }
      } else {
        for (int i = start; i < end; i++) {
          float w = params[i];
          grad[i] += a * w + b * Math.signum(w);
        }
      }
    }
  }
}
