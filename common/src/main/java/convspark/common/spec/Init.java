package convspark.common.spec;

import java.util.SplittableRandom;

/** Weight initialisation schemes. All draw from the seeded generator they are given. */
public enum Init {
  /** He/Kaiming normal: N(0, 2/fanIn), for ReLU networks. */
  HE,
  /** Xavier/Glorot uniform: U(-a, a), a = sqrt(6/(fanIn+fanOut)), for sigmoid/tanh. */
  XAVIER,
  /** PyTorch's default for Linear/Conv2d weights: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
  TORCH;

  public void fill(float[] w, int off, int len, int fanIn, int fanOut, SplittableRandom rng) {
    switch (this) {
      case HE -> {
        double std = Math.sqrt(2.0 / fanIn);
        for (int i = 0; i < len; i++) {
          w[off + i] = (float) (gaussian(rng) * std);
        }
      }
      case XAVIER -> {
        double a = Math.sqrt(6.0 / (fanIn + fanOut));
        for (int i = 0; i < len; i++) {
          w[off + i] = (float) ((rng.nextDouble() * 2 - 1) * a);
        }
      }
      case TORCH -> {
        double a = 1.0 / Math.sqrt(fanIn);
        for (int i = 0; i < len; i++) {
          w[off + i] = (float) ((rng.nextDouble() * 2 - 1) * a);
        }
      }
      default -> throw new AssertionError(this);
    }
  }

  /** Standard normal by Box-Muller (SplittableRandom has no nextGaussian before Java 17's API). */
  public static double gaussian(SplittableRandom rng) {
    double u1 = 1.0 - rng.nextDouble();
    double u2 = rng.nextDouble();
    return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}
