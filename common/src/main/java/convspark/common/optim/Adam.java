package convspark.common.optim;

import convspark.common.nn.ParamRange;
import java.util.List;

/**
 * Adam (Kingma and Ba) with bias correction; with {@code decoupledDecay > 0} it is AdamW
 * (Loshchilov and Hutter): {@code p -= lr * decay * p} on the given ranges, outside the
 * adaptive update.
 */
public final class Adam implements Optimizer {
  private final double beta1;
  private final double beta2;
  private final double epsilon;
  private final double decoupledDecay;
  private final List<ParamRange> decayRanges;
  private final float[] m;
  private final float[] v;
  private long steps;

  public Adam(int size, double beta1, double beta2, double epsilon, double decoupledDecay,
      List<ParamRange> decayRanges) {
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
      throw new IllegalArgumentException("Adam betas must be in [0, 1), found " + beta1 + ", "
          + beta2);
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
    this.decoupledDecay = decoupledDecay;
    this.decayRanges = List.copyOf(decayRanges);
    this.m = new float[size];
    this.v = new float[size];
  }

  @Override
  public void stepRange(float[] params, float[] grad, double lr, int from, int to) {
    long t = steps + 1;
    if (decoupledDecay > 0) {
      float f = (float) (1 - lr * decoupledDecay);
      for (ParamRange r : decayRanges) {
        int end = Math.min(to, r.offset() + r.length());
        for (int i = Math.max(from, r.offset()); i < end; i++) {
          params[i] *= f;
        }
      }
    }
    double c1 = 1 - Math.pow(beta1, t);
    double c2 = 1 - Math.pow(beta2, t);
    float b1 = (float) beta1;
    float b2 = (float) beta2;
    // 1 - beta in double, then rounded, as PyTorch passes it (1 - 0.999f in float is 1.3e-5 off)
    float ob1 = (float) (1 - beta1);
    float ob2 = (float) (1 - beta2);
    float stepSize = (float) (lr / c1);
    float sqrtC2 = (float) Math.sqrt(c2);
    float eps = (float) epsilon;
    for (int i = from; i < to; i++) {
      float g = grad[i];
      float mi = b1 * m[i] + ob1 * g;
      float vi = b2 * v[i] + ob2 * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= stepSize * mi / ((float) Math.sqrt(vi) / sqrtC2 + eps);
    }
  }

  @Override
  public void endStep() {
    steps++;
  }

  @Override
  public String name() {
    return "adam";
  }

  @Override
  public float[][] state() {
    return new float[][] {m, v};
  }

  @Override
  public long steps() {
    return steps;
  }

  @Override
  public void loadState(float[][] state, long steps) {
    if (state.length != 2 || state[0].length != m.length || state[1].length != v.length) {
      throw new IllegalArgumentException("Adam state does not match: expected two arrays of "
          + m.length + " values");
    }
    System.arraycopy(state[0], 0, m, 0, m.length);
    System.arraycopy(state[1], 0, v, 0, v.length);
    this.steps = steps;
  }
}
