package convspark.common.optim;

/**
 * SGD with momentum, optionally Nesterov, in PyTorch's form: {@code v = mu*v + g}, then {@code p
 * -= lr*v} (or {@code p -= lr*(g + mu*v)} for Nesterov).
 *
 * <p>Goyal et al. (2017) write momentum as {@code u = mu*u + lr*g; p -= u} and note that when the
 * learning rate changes, {@code u} must be rescaled by {@code lr_new/lr_old} ("momentum
 * correction"). Keeping the learning rate outside the velocity, as here, is exactly that rule
 * applied at every step, so schedules and warmup need no separate correction (see {@code
 * SgdTest#momentumCorrectionIsImplicit}).
 */
public final class Sgd implements Optimizer {
  private final double momentum;
  private final boolean nesterov;
  private final float[] velocity;
  private long steps;

  public Sgd(int size, double momentum, boolean nesterov) {
    if (momentum < 0 || momentum >= 1) {
      throw new IllegalArgumentException("momentum must be in [0, 1), found " + momentum);
    }
    if (nesterov && momentum == 0) {
      throw new IllegalArgumentException("Nesterov momentum needs momentum > 0");
    }
    this.momentum = momentum;
    this.nesterov = nesterov;
    this.velocity = new float[momentum > 0 ? size : 0];
  }

  @Override
  public void stepRange(float[] params, float[] grad, double lr, int from, int to) {
    float flr = (float) lr;
    if (momentum == 0) {
      for (int i = from; i < to; i++) {
        params[i] -= flr * grad[i];
      }
    } else {
      float mu = (float) momentum;
      float[] v = velocity;
      for (int i = from; i < to; i++) {
        float vi = mu * v[i] + grad[i];
        v[i] = vi;
        params[i] -= flr * (nesterov ? grad[i] + mu * vi : vi);
      }
    }
  }

  @Override
  public void endStep() {
    steps++;
  }

  @Override
  public String name() {
    return "sgd";
  }

  @Override
  public float[][] state() {
    return new float[][] {velocity};
  }

  @Override
  public long steps() {
    return steps;
  }

  @Override
  public void loadState(float[][] state, long steps) {
    if (state.length != 1 || state[0].length != velocity.length) {
      throw new IllegalArgumentException("SGD state does not match: expected one array of "
          + velocity.length + " values");
    }
    System.arraycopy(state[0], 0, velocity, 0, velocity.length);
    this.steps = steps;
  }
}
