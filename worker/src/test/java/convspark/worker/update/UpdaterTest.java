package convspark.worker.update;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.nn.ParamRange;
import convspark.common.optim.LrSchedule;
import convspark.common.optim.ScalingRule;
import convspark.common.spec.ModelSpec;
import convspark.worker.ModelState;
import convspark.worker.TrainingFailedException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

/**
 * The update rule against hand-computed values on a dense 3 -> 2 layer (6 weights at offset 0,
 * 2 biases after them): averaging by the global count, L1/L2 on weights only or on everything,
 * clipping, the finite check, and optimizer state carried by {@link ModelState}.
 */
class UpdaterTest {
  static final Network NET = new Network(ModelSpec.parse("""
      input { channels = 3, height = 1, width = 1 }
      layers = [ { type = flatten }, { type = dense, units = 2 } ]
      """));
  static final OptimizerSettings PLAIN_SGD =
      new OptimizerSettings(OptimizerSettings.Type.SGD, 0, false, 0.9, 0.999, 1e-8, 0);

  static LrSchedule constant(double lr) {
    return new LrSchedule(lr, 1, 1, ScalingRule.NONE, 0, LrSchedule.Decay.CONSTANT, 1, 1, 1, 0);
  }

  static ModelState state(float[] params) {
    return Updater.start(rule(0, 0, false, 0, PLAIN_SGD), NET, params, NET.initState());
  }

  static UpdateRule rule(double l1, double l2, boolean all, double clip, OptimizerSettings o) {
    return new UpdateRule(o, l1, l2, all, clip, constant(0.5));
  }

  static float[] params() {
    return new float[] {1, -2, 3, -4, 5, -6, 0.5f, -0.5f};
  }

  @Test
  void layoutIsWeightsThenBiases() {
    assertEquals(8, NET.paramCount());
    assertEquals(new ParamRange(0, 6), NET.weightRanges().get(0));
  }

  @Test
  void dividesTheSumByTheGlobalCountBeforeTheStep() {
    ModelState m = state(params());
    float[] sum = {4, 4, 4, 4, 4, 4, 8, -8};
    new Updater(rule(0, 0, false, 0, PLAIN_SGD), NET, "ckpt")
        .apply(sum, 4, 2.0, new float[0], m, 0, 0, 10);
    // p -= 0.5 * sum / 4
    assertArrayEquals(new float[] {0.5f, -2.5f, 2.5f, -4.5f, 4.5f, -6.5f, -0.5f, 0.5f},
        m.params());
    assertEquals(1, m.optimizerSteps());
  }

  @Test
  void l1AndL2ApplyToWeightsOnlyUnlessRegularizeAll() {
    float[] zero = new float[8];
    ModelState weightsOnly = state(params());
    new Updater(rule(0.1, 0.25, false, 0, PLAIN_SGD), NET, "ckpt")
        .apply(zero, 1, 0, new float[0], weightsOnly, 0, 0, 10);
    // w -= 0.5 * (2 * 0.25 * w + 0.1 * sign(w)): w = 1 -> 1 - 0.5 * 0.6 = 0.7
    assertEquals(0.7f, weightsOnly.params()[0], 1e-6);
    assertEquals(-1.45f, weightsOnly.params()[1], 1e-6);
    assertEquals(0.5f, weightsOnly.params()[6], 0f);
    assertEquals(-0.5f, weightsOnly.params()[7], 0f);
    ModelState all = state(params());
    new Updater(rule(0.1, 0.25, true, 0, PLAIN_SGD), NET, "ckpt")
        .apply(zero, 1, 0, new float[0], all, 0, 0, 10);
    assertEquals(0.7f, all.params()[0], 1e-6);
    // bias 0.5 -> 0.5 - 0.5 * (0.25 + 0.1) = 0.325
    assertEquals(0.325f, all.params()[6], 1e-6);
    assertEquals(-0.325f, all.params()[7], 1e-6);
  }

  @Test
  void clipsTheAveragedGradientToTheConfiguredNorm() {
    float[] sum = {3, 0, 0, 0, 0, 0, 0, 4}; // norm 5 after dividing by count 1
    ModelState clipped = state(params());
    new Updater(rule(0, 0, false, 1.0, PLAIN_SGD), NET, "ckpt")
        .apply(sum, 1, 0, new float[0], clipped, 0, 0, 10);
    // the gradient is scaled to norm 1: (0.6, ..., 0.8); p -= 0.5 * g
    assertEquals(1 - 0.3f, clipped.params()[0], 1e-6);
    assertEquals(-0.5f - 0.4f, clipped.params()[7], 1e-6);
    ModelState unclipped = state(params());
    new Updater(rule(0, 0, false, 10.0, PLAIN_SGD), NET, "ckpt")
        .apply(sum, 1, 0, new float[0], unclipped, 0, 0, 10);
    assertEquals(1 - 1.5f, unclipped.params()[0], 1e-6);
    // L2 0.05 adds 0.1 w after clipping (PyTorch: clip_grad_norm_, then weight_decay in step)
    ModelState decayed = state(params());
    new Updater(rule(0, 0.05, false, 1.0, PLAIN_SGD), NET, "ckpt")
        .apply(sum, 1, 0, new float[0], decayed, 0, 0, 10);
    assertEquals(1 - 0.5f * (0.6f + 0.1f), decayed.params()[0], 1e-6);
    assertEquals(-2 - 0.5f * (0.1f * -2), decayed.params()[1], 1e-6);
    assertEquals(-0.5f - 0.4f, decayed.params()[7], 1e-6, "biases are not decayed");
  }

  @Test
  void aNonFiniteLossOrGradientStopsWithAMessageNamingTheStepAndTheCheckpoints() {
    Updater u = new Updater(rule(0, 0, false, 0, PLAIN_SGD), NET, "/runs/x");
    ModelState m = state(params());
    TrainingFailedException e = assertThrows(TrainingFailedException.class,
        () -> u.apply(new float[8], 2, Double.NaN, new float[0], m, 7, 1, 10));
    assertEquals("training diverged at step 7 (epoch 2): loss is not finite (learning rate "
        + "0.5000); lower train.base-lr or set train.clip-grad-norm; the last good checkpoint "
        + "in /runs/x is kept", e.getMessage());
    float[] bad = new float[8];
    bad[3] = Float.POSITIVE_INFINITY;
    TrainingFailedException g = assertThrows(TrainingFailedException.class,
        () -> u.apply(bad, 2, 1.0, new float[0], m, 7, 1, 10));
    assertTrue(g.getMessage().contains("gradient is not finite"), g.getMessage());
    assertArrayEquals(params(), m.params());
  }

  @Test
  void anEmptyStepChangesNothing() {
    ModelState m = state(params());
    new Updater(rule(0.1, 0.1, true, 0, PLAIN_SGD), NET, "ckpt")
        .apply(new float[8], 0, 0, new float[0], m, 0, 0, 10);
    assertArrayEquals(params(), m.params());
    assertEquals(0, m.optimizerSteps());
  }

  @Test
  void optimizerStateTravelsWithTheModelStateSoReplicasStayIdentical() throws Exception {
    OptimizerSettings adam =
        new OptimizerSettings(OptimizerSettings.Type.ADAM, 0, false, 0.9, 0.999, 1e-8, 0.01);
    UpdateRule r = rule(0, 0.01, false, 0, adam);
    float[] g1 = {1, 2, 3, 4, 5, 6, 7, 8};
    float[] g2 = {-1, 0.5f, 3, -4, 2, 6, 0, 1};
    // one updater, two steps
    ModelState one = Updater.start(r, NET, params(), NET.initState());
    Updater u = new Updater(r, NET, "ckpt");
    u.apply(g1, 2, 1, new float[0], one, 0, 0, 10);
    u.apply(g2, 2, 1, new float[0], one, 1, 0, 10);
    // a step, then the state serialized (as to an executor) and stepped by another updater
    ModelState two = Updater.start(r, NET, params(), NET.initState());
    new Updater(r, NET, "ckpt").apply(g1, 2, 1, new float[0], two, 0, 0, 10);
    ModelState moved = roundTrip(two);
    assertNotEquals(0f, moved.optimizerState()[0][0]);
    new Updater(r, NET, "ckpt").apply(g2, 2, 1, new float[0], moved, 1, 0, 10);
    assertArrayEquals(one.params(), moved.params());
    assertArrayEquals(one.optimizerState()[1], moved.optimizerState()[1]);
    assertEquals(2, moved.optimizerSteps());
  }

  static ModelState roundTrip(ModelState m) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(m);
    }
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return (ModelState) in.readObject();
    }
  }

  @Test
  void squaredNormIsTheSumOfSquaresForEveryLengthModuloFour() {
    java.util.SplittableRandom rng = new java.util.SplittableRandom(5);
    for (int n : new int[] {0, 1, 2, 3, 4, 5, 7, 8, 1001, 421834}) {
      float[] g = new float[n];
      double plain = 0;
      for (int i = 0; i < n; i++) {
        g[i] = (float) rng.nextGaussian();
        plain += (double) g[i] * g[i];
      }
      assertEquals(plain, Updater.squaredNorm(g),
          1e-12 * Math.max(1, plain), "length " + n);
    }
    float[] big = {Float.MAX_VALUE, Float.MAX_VALUE, 1, 2, 3};
    assertTrue(Double.isFinite(Updater.squaredNorm(big)));
    big[4] = Float.NaN;
    assertTrue(Double.isNaN(Updater.squaredNorm(big)));
  }
}
