package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.spec.Init;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import org.junit.jupiter.api.Test;

/**
 * 3x3 stride-1 convs through Winograd F(2x2, 3x3) ({@link Winograd}): chosen for exactly that
 * geometry in the batched strategy, checked against finite differences, and equal to im2col
 * ({@code -Dconvspark.conv.winograd=false}) to float rounding on even and odd planes, whole and
 * in chunks, with and without bias.
 */
class WinogradTest {
  static boolean winograd(Network net, int layer) {
    return net.layers().get(layer).newContext(4) instanceof Winograd.Ctx;
  }

  @Test
  void chosenForThreeByThreeStrideOneBatchedConvsOnly() {
    Network net = new Network(GradientCheckTest.spec(new Shape(8, 6, 6),
        new LayerSpec.Conv(4, 3, 1, 1, true, Init.HE),     // 72-deep columns: Winograd
        new LayerSpec.Conv(4, 3, 2, 1, true, Init.HE),     // stride 2: im2col
        new LayerSpec.Conv(8, 3, 1, 1, true, Init.HE),     // 36-deep: one GEMM per image
        new LayerSpec.Conv(4, 3, 1, 0, true, Init.HE),     // no padding: im2col
        new LayerSpec.Conv(4, 1, 1, 0, true, Init.HE)));   // 1x1: im2col
    assertTrue(winograd(net, 0));
    for (int l = 1; l < 5; l++) {
      assertTrue(!winograd(net, l), "layer " + l);
    }
  }

  @Test
  void gradientCheckEvenOddAndInGroups() {
    GradientCheckTest.check(spec(new Shape(8, 6, 6), true), 2, true);
    GradientCheckTest.check(spec(new Shape(8, 5, 7), false), 2, true);
    // 2 x 4 tiles: groups of 2, 2, 1
    WithProperties.run(() -> GradientCheckTest.check(spec(new Shape(8, 3, 7), true), 5, true),
        Winograd.ROWS_PROPERTY, "10");
  }

  /** tanh first, so that the conv computes an input gradient. */
  private static ModelSpec spec(Shape in, boolean bias) {
    return GradientCheckTest.spec(in, new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(6, 3, 1, 1, bias, Init.HE));
  }

  @Test
  void equalsIm2colToFloatRounding() {
    for (Shape in : new Shape[] {new Shape(16, 14, 14), new Shape(32, 7, 7),
        new Shape(8, 9, 4)}) {
      for (String chunk : new String[] {null, "20"}) {
        compare(in, chunk);
      }
    }
  }

  private static void compare(Shape in, String chunk) {
    LayerSpec conv = new LayerSpec.Conv(24, 3, 1, 1, true, Init.HE);
    GatherTest.Step w = GatherTest.step(in, conv, net -> assertTrue(winograd(net, 1)),
        Winograd.PROPERTY, "true", Winograd.ROWS_PROPERTY, chunk);
    GatherTest.Step i = GatherTest.step(in, conv, net -> assertTrue(!winograd(net, 1)),
        Winograd.PROPERTY, "false", Winograd.ROWS_PROPERTY, chunk);
    String at = in + " columns per group " + chunk;
    close(at + " logits", w.out(), i.out());
    close(at + " parameter gradient", w.grads(), i.grads());
    close(at + " input gradient", w.gin(), i.gin());
  }

  private static void close(String what, float[] a, float[] b) {
    double scale = 0;
    for (float v : b) {
      scale = Math.max(scale, Math.abs(v));
    }
    for (int i = 0; i < a.length; i++) {
      assertTrue(Math.abs(a[i] - b[i]) <= 2e-5 * scale, what + " " + i + ": winograd " + a[i]
          + ", im2col " + b[i] + " (largest " + scale + ")");
    }
  }
}
