package convspark.common.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import convspark.common.nn.ParamRange;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Optimizer steps, regularisation and schedules against values computed by hand. */
class OptimizerTest {

  @Test
  void sgdMomentum() {
    Sgd sgd = new Sgd(1, 0.9, false);
    float[] p = {1f};
    sgd.step(p, new float[] {0.5f}, 0.1); // v = 0.5, p = 1 - 0.05 = 0.95
    assertEquals(0.95f, p[0], 1e-7);
    sgd.step(p, new float[] {0.5f}, 0.1); // v = 0.45 + 0.5 = 0.95, p = 0.95 - 0.095 = 0.855
    assertEquals(0.855f, p[0], 1e-6);
  }

  @Test
  void sgdNesterov() {
    Sgd sgd = new Sgd(1, 0.9, true);
    float[] p = {1f};
    sgd.step(p, new float[] {0.5f}, 0.1); // v = 0.5; p -= 0.1*(0.5 + 0.45) = 0.905
    assertEquals(0.905f, p[0], 1e-6);
    sgd.step(p, new float[] {0.5f}, 0.1); // v = 0.95; p -= 0.1*(0.5 + 0.855) = 0.7695
    assertEquals(0.7695f, p[0], 1e-6);
  }

  @Test
  void momentumCorrectionIsImplicit() {
    // Goyal et al. eq. (9) with momentum correction: u = m*(lr_t/lr_{t-1})*u + lr_t*g; p -= u.
    double m = 0.9;
    double[] lrs = {0.1, 0.2, 0.4, 0.05};
    double[] gs = {0.3, -0.2, 0.5, 0.1};
    double u = 0;
    double pRef = 1;
    double prevLr = lrs[0];
    Sgd sgd = new Sgd(1, m, false);
    float[] p = {1f};
    for (int t = 0; t < lrs.length; t++) {
      u = m * (lrs[t] / prevLr) * u + lrs[t] * gs[t];
      pRef -= u;
      prevLr = lrs[t];
      sgd.step(p, new float[] {(float) gs[t]}, lrs[t]);
      assertEquals(pRef, p[0], 1e-6);
    }
  }

  @Test
  void adamWithBiasCorrection() {
    Adam adam = new Adam(1, 0.9, 0.999, 1e-8, 0, List.of());
    float[] p = {1f};
    adam.step(p, new float[] {0.5f}, 0.01);
    // m = 0.05, v = 0.00025; mhat = 0.5, vhat = 0.25; p -= 0.01 * 0.5 / (0.5 + 1e-8)
    assertEquals(0.99f, p[0], 1e-7);
    adam.step(p, new float[] {-0.25f}, 0.01);
    double m = 0.9 * 0.05 + 0.1 * -0.25;
    double v = 0.999 * 0.00025 + 0.001 * 0.0625;
    double mhat = m / (1 - 0.81);
    double vhat = v / (1 - 0.999 * 0.999);
    assertEquals(0.99 - 0.01 * mhat / (Math.sqrt(vhat) + 1e-8), p[0], 1e-6);
  }

  @Test
  void adamWDecaysOnlyGivenRanges() {
    Adam adamw = new Adam(2, 0.9, 0.999, 1e-8, 0.1, List.of(new ParamRange(0, 1)));
    float[] p = {1f, 1f};
    adamw.step(p, new float[] {0f, 0f}, 0.5);
    assertEquals(0.95f, p[0], 1e-7); // 1 * (1 - 0.5 * 0.1); zero gradient: no Adam move
    assertEquals(1f, p[1], 1e-7);
  }

  @Test
  void regularization() {
    Regularization r = new Regularization(0.01, 0.1, List.of(new ParamRange(0, 2)));
    float[] p = {2f, -1f, 5f};
    assertEquals(0.1 * 5 + 0.01 * 3, r.penalty(p), 1e-9);
    float[] g = new float[3];
    r.addGradient(p, g);
    assertEquals(2 * 0.1 * 2 + 0.01, g[0], 1e-7);
    assertEquals(2 * 0.1 * -1 - 0.01, g[1], 1e-7);
    assertEquals(0f, g[2]); // outside the ranges (a bias)
    assertThrows(IllegalArgumentException.class, () -> new Regularization(-1, 0, List.of()));
  }

  @Test
  void scalingRule() {
    assertEquals(0.8, ScalingRule.LINEAR.scale(0.1, 64, 512), 1e-12);
    assertEquals(0.1 * Math.sqrt(8), ScalingRule.SQRT.scale(0.1, 64, 512), 1e-12);
    assertEquals(2.8284, ScalingRule.SQRT.factor(64, 512), 1e-4);
    assertEquals(0.1, ScalingRule.NONE.scale(0.1, 64, 512), 1e-12);
  }

  @Test
  void warmupThenCosine() {
    LrSchedule s = new LrSchedule(0.1, 64, 512, ScalingRule.LINEAR, 2, LrSchedule.Decay.COSINE,
        10, 0, 0, 0.0);
    int spe = 100;
    assertEquals(0.1, s.lr(0, spe), 1e-12); // warmup starts at the base rate
    assertEquals(0.1 + 0.7 * 0.5, s.lr(100, spe), 1e-12); // half way: epoch 1 of 2
    assertEquals(0.8, s.lr(200, spe), 1e-12); // warmup ends at k * base
    assertEquals(0.4, s.lr(600, spe), 1e-12); // cosine half way through epochs 2..10
    assertEquals(0.0, s.lr(1000, spe), 1e-12);
  }

  /** k = 1/4: the scaled rate is below the base rate, and warmup never runs above it. */
  @Test
  void warmupBelowTheBaseBatchHoldsTheScaledRate() {
    LrSchedule s = new LrSchedule(0.1, 256, 64, ScalingRule.LINEAR, 5, LrSchedule.Decay.CONSTANT,
        10, 0, 0, 0.0);
    for (long step : new long[] {0, 1, 250, 499, 500, 900}) {
      assertEquals(0.025, s.lr(step, 100), 1e-12, "step " + step);
    }
  }

  @Test
  void stepDecay() {
    LrSchedule s = new LrSchedule(0.1, 64, 256, ScalingRule.SQRT, 0, LrSchedule.Decay.STEP,
        10, 3, 0.1, 0);
    assertEquals(0.2, s.lr(0, 10), 1e-12);
    assertEquals(0.2, s.lr(29, 10), 1e-12);
    assertEquals(0.02, s.lr(30, 10), 1e-12);
    assertEquals(0.002, s.lr(60, 10), 1e-12);
  }
}
