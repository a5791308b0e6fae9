package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.spec.Init;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Channels-last activations ({@link Workspace#LAYOUT_PROPERTY}): chosen exactly when every layer
 * has the path; the same logits, loss, parameter and input gradients and batch statistics as
 * NCHW to float rounding, in training and evaluation, for residual nets (Winograd, im2col with
 * stride 2, 1x1 projections, direct 1x1 convs, global pooling) on one- and three-channel inputs,
 * and for nets like the example one (convs joined with fused batch norm, max-pool and ReLU, a
 * flatten that reorders a spatial tensor), and for max-pools outside the fused block (padded,
 * overlapping, unfused); and finite differences through every channels-last path ({@link FusedBlockTest} checks the fused pooling blocks in both layouts).
 */
class LayoutTest {
  private static LayerSpec conv(int f, int k, int s, int p, boolean bias) {
    return new LayerSpec.Conv(f, k, s, p, bias, Init.HE);
  }

  private static LayerSpec bn() {
    return new LayerSpec.BatchNorm(0.1, 1e-5);
  }

  private static LayerSpec act(Nonlinearity a) {
    return new LayerSpec.Act(a);
  }

  /** A small ResNet: stem, identity block, projection block with stride 2, global pooling. */
  static ModelSpec resnet(Shape in, int width) {
    return resnet(in, width, Nonlinearity.RELU);
  }

  /**
   * The same with activation {@code a} (tanh for finite differences: a step across ReLU's kink
   * inside the net breaks them, in either layout).
   */
  static ModelSpec resnet(Shape in, int width, Nonlinearity a) {
    LayerSpec identity = new LayerSpec.Residual(List.of(conv(width, 3, 1, 1, false), bn(),
        act(a), conv(width, 3, 1, 1, false), bn()), List.of(), a);
    LayerSpec projection = new LayerSpec.Residual(List.of(conv(2 * width, 3, 2, 1, false), bn(),
        act(a), conv(2 * width, 3, 1, 1, true), bn()),
        List.of(conv(2 * width, 1, 2, 0, false), bn()), a);
    return GradientCheckTest.spec(in, conv(width, 3, 1, 1, false), bn(), act(a), identity,
        projection, new LayerSpec.GlobalAvgPool());
  }

  /**
   * Odd planes, a 5x5 conv (im2col), a 1x1 stride-1 conv with bias, a 1x1 conv with padding 1
   * (border windows wholly in the padding), tanh, dropout.
   */
  static ModelSpec odd(Shape in) {
    return GradientCheckTest.spec(in, conv(6, 5, 1, 2, true), act(Nonlinearity.TANH),
        conv(8, 1, 1, 0, true), bn(), act(Nonlinearity.SIGMOID), conv(4, 1, 1, 1, true),
        act(Nonlinearity.TANH), conv(5, 3, 2, 1, true), new LayerSpec.Dropout(0.0),
        new LayerSpec.GlobalAvgPool());
  }

  /**
   * The example network's kind: two conv blocks of batch norm, 2x2 max-pool and ReLU (fused, and
   * joined with their convs), dropout, and a flatten of a spatial tensor into a dense layer.
   */
  static ModelSpec pooled(Shape in, int w1, int w2) {
    LayerSpec pool = new LayerSpec.MaxPool(2, 2, 0);
    LayerSpec relu = act(Nonlinearity.RELU);
    return GradientCheckTest.spec(in, conv(w1, 3, 1, 1, true), bn(), pool, relu,
        conv(w2, 3, 1, 1, true), bn(), relu, pool, new LayerSpec.Dropout(0.0));
  }

  /**
   * Convs on one channel (their columns planar, as NCHW's): the first with bias, a second one
   * inside the net (its input gradient) with stride 2 through the input's phases.
   */
  static ModelSpec oneChannel(Shape in, Nonlinearity a) {
    return GradientCheckTest.spec(in, conv(1, 3, 1, 1, true), act(Nonlinearity.TANH),
        conv(4, 3, 2, 1, true), bn(), act(a), conv(6, 3, 1, 0, false));
  }

  record Run(boolean channelsLast, float[] logits, double loss, float[] grads, float[] gin,
      float[] stats) {}

  static Run run(ModelSpec spec, String layout, boolean training, int n) {
    Run[] out = new Run[1];
    WithProperties.run(() -> {
      Network net = new Network(spec);
      SplittableRandom rng = new SplittableRandom(11);
      float[] params = GradientCheckTest.randomParams(net, 4, rng);
      float[] state = GradientCheckTest.randomState(net, rng);
      Workspace ws = net.newWorkspace(n);
      for (int i = 0; i < n * spec.input().size(); i++) {
        ws.input()[i] = (float) rng.nextGaussian();
      }
      for (int i = 0; i < n; i++) {
        ws.labels()[i] = rng.nextInt(net.classes());
      }
      float[] grads = new float[params.length];
      float[] stats = new float[state.length];
      Workspace.Outcome o = ws.trainStep(new Pass(params, grads, state, training, 3L, stats), n,
          0.1);
      float[] logits = ws.logits().clone();
      float[] gl = new float[logits.length];
      SoftmaxCrossEntropy.lossAndGrad(logits, ws.labels(), 0, n, net.classes(), 0.0, gl);
      float[] gin = ws.backwardToInput(new Pass(params, new float[params.length], state,
          training, 3L, null), n, gl, new float[n * spec.input().size()]);
      out[0] = new Run(ws.channelsLast(), logits, o.lossSum(), grads, gin, stats);
    }, Workspace.LAYOUT_PROPERTY, layout);
    return out[0];
  }

  private static void same(ModelSpec spec, boolean training, int n) {
    Run a = run(spec, "nchw", training, n);
    Run b = run(spec, "auto", training, n);
    assertTrue(!a.channelsLast() && b.channelsLast(), "layouts " + a.channelsLast() + " "
        + b.channelsLast());
    String at = spec.input() + (training ? " training" : " evaluation");
    close(at + " logits", b.logits(), a.logits());
    assertEquals(a.loss(), b.loss(), 1e-5 * Math.abs(a.loss()), at + " loss");
    close(at + " parameter gradient", b.grads(), a.grads());
    close(at + " input gradient", b.gin(), a.gin());
    close(at + " batch statistics", b.stats(), a.stats());
  }

  private static void close(String what, float[] got, float[] want) {
    double scale = 0;
    for (float v : want) {
      scale = Math.max(scale, Math.abs(v));
    }
    assertEquals(want.length, got.length, what);
    for (int i = 0; i < got.length; i++) {
      assertTrue(Math.abs(got[i] - want[i]) <= 1e-4 * scale, what + " [" + i + "]: channels-last "
          + got[i] + ", NCHW " + want[i] + " (largest " + scale + ")");
    }
  }

  @Test
  void residualNetsMatchNchw() {
    for (Shape in : new Shape[] {new Shape(1, 8, 8), new Shape(3, 6, 6)}) {
      same(resnet(in, 8), true, 3);
      same(resnet(in, 8), false, 2);
    }
    // widths that fill whole vectors (Winograd copies rows as they are)
    same(resnet(new Shape(1, 8, 8), 16), true, 2);
  }

  @Test
  void oddPlanesAndIm2colConvsMatchNchw() {
    same(odd(new Shape(2, 7, 5)), true, 3);
    same(odd(new Shape(1, 9, 9)), false, 2);
  }

  /**
   * Widths of whole vectors and with a tail (20: 16 + 4, or 2 x 8 + 4), odd planes (the last
   * row and column in no pooling window), one and two input channels.
   */
  @Test
  void pooledNetsMatchNchw() {
    same(pooled(new Shape(1, 12, 12), 16, 20), true, 3);
    same(pooled(new Shape(2, 11, 9), 8, 20), true, 2);
    same(pooled(new Shape(1, 11, 9), 20, 16), false, 2);
  }

  @Test
  void oneChannelConvsMatchNchw() {
    same(oneChannel(new Shape(1, 8, 8), Nonlinearity.RELU), true, 3);
    same(oneChannel(new Shape(1, 10, 6), Nonlinearity.RELU), false, 2);
    WithProperties.run(() -> same(oneChannel(new Shape(1, 8, 8), Nonlinearity.RELU), true, 3),
        Conv2d.CHUNK_FLOATS, "100");
  }

  /** A flatten of a spatial tensor after a fused batch norm and ReLU. */
  @Test
  void flattenReordersSpatialTensors() {
    ModelSpec spec = GradientCheckTest.spec(new Shape(2, 5, 5), act(Nonlinearity.TANH),
        conv(3, 1, 1, 0, true), bn(), act(Nonlinearity.RELU));
    same(spec, true, 3);
    same(spec, false, 2);
  }

  @Test
  void inChunks() {
    WithProperties.run(() -> same(pooled(new Shape(1, 10, 10), 16, 20), true, 4),
        Conv2d.CHUNK_FLOATS, "900", Winograd.ROWS_PROPERTY, "20");
    WithProperties.run(() -> same(resnet(new Shape(1, 8, 8), 8), true, 5),
        Conv2d.CHUNK_FLOATS, "600", Winograd.ROWS_PROPERTY, "20");
  }

  /**
   * Max-pools outside a fused block: padded (windows hanging over the border), 3x3 with stride 2
   * (overlapping windows), 2x2 after a plain activation, on odd planes; and the example net's
   * kind unfused, where every max-pool stands alone.
   */
  @Test
  void standaloneMaxPoolsMatchNchw() {
    ModelSpec padded = GradientCheckTest.spec(new Shape(2, 9, 7), conv(12, 3, 1, 1, true), bn(),
        new LayerSpec.MaxPool(2, 2, 1), act(Nonlinearity.RELU), conv(20, 3, 1, 1, true),
        new LayerSpec.MaxPool(3, 2, 1), act(Nonlinearity.TANH), new LayerSpec.MaxPool(2, 2, 0),
        new LayerSpec.Dropout(0.0));
    same(padded, true, 3);
    same(padded, false, 2);
    WithProperties.run(() -> same(pooled(new Shape(1, 11, 9), 8, 20), true, 2),
        Workspace.FUSE_PROPERTY, "false");
  }

  @Test
  void onlyWhenEveryLayerCan() {
    ModelSpec pooled = GradientCheckTest.spec(new Shape(1, 8, 8), conv(4, 3, 1, 1, true),
        new LayerSpec.MaxPool(2, 2, 0));
    assertTrue(run(pooled, "auto", true, 2).channelsLast());
    ModelSpec flat = GradientCheckTest.spec(new Shape(1, 4, 4), conv(4, 3, 1, 1, true));
    assertTrue(run(flat, "auto", true, 2).channelsLast());
    assertTrue(run(pooled(new Shape(1, 8, 8), 4, 4), "auto", true, 2).channelsLast());
    // unfused, the max-pools stand alone and have their own channels-last path
    WithProperties.run(() -> assertTrue(run(pooled(new Shape(1, 8, 8), 4, 4), "auto", true, 2)
        .channelsLast()), Workspace.FUSE_PROPERTY, "false");
    // average pooling with more than one output pixel has none
    ModelSpec averaged = GradientCheckTest.spec(new Shape(1, 8, 8), conv(4, 3, 1, 1, true),
        new LayerSpec.AvgPool(2, 2));
    assertTrue(!run(averaged, "auto", true, 2).channelsLast());
    ModelSpec grouped = GradientCheckTest.spec(new Shape(4, 4, 4),
        new LayerSpec.Conv(4, 3, 1, 1, 2, true, Init.HE), new LayerSpec.GlobalAvgPool());
    assertTrue(!run(grouped, "auto", true, 2).channelsLast());
    assertTrue(run(resnet(new Shape(1, 8, 8), 8), "auto", true, 2).channelsLast());
  }

  /**
   * An average pool with one output pixel whose window does not cover its input (2x2 on 3x3,
   * 3x3 on 4x4) averages only the window's pixels: it stays in NCHW, where the global path
   * would average the whole plane; a window of the whole plane runs channels-last.
   */
  @Test
  void windowedAveragePoolsWithOneOutputPixelAreNotGlobal() {
    for (int[] sizes : new int[][] {{5, 2}, {6, 3}}) {
      ModelSpec spec = GradientCheckTest.spec(new Shape(1, sizes[0], sizes[0]),
          conv(4, 3, 1, 0, true), new LayerSpec.AvgPool(sizes[1], sizes[1]));
      Run nchw = run(spec, "nchw", true, 2);
      Run auto = run(spec, "auto", true, 2);
      assertTrue(!auto.channelsLast(), "avgpool " + sizes[1] + " on " + (sizes[0] - 2));
      close("avgpool " + sizes[1] + " logits", auto.logits(), nchw.logits());
      close("avgpool " + sizes[1] + " input gradient", auto.gin(), nchw.gin());
    }
    same(GradientCheckTest.spec(new Shape(1, 5, 5), conv(4, 3, 1, 0, true),
        new LayerSpec.AvgPool(3, 3)), true, 2);
  }

  /** Finite differences through the channels-last paths (checked to run channels-last above). */
  @Test
  void gradientCheckChannelsLast() {
    for (ModelSpec spec : new ModelSpec[] {resnet(new Shape(1, 6, 6), 4, Nonlinearity.TANH),
        resnet(new Shape(3, 4, 4), 8, Nonlinearity.TANH), odd(new Shape(2, 5, 3)),
        oneChannel(new Shape(1, 6, 6), Nonlinearity.TANH),
        // a max-pool on the spaced inputs, where a small step swaps no window's winner
        GradientCheckTest.spec(new Shape(2, 7, 5), new LayerSpec.MaxPool(3, 2, 1),
            conv(4, 3, 1, 1, true), act(Nonlinearity.TANH), conv(3, 3, 1, 0, true))}) {
      assertTrue(run(spec, "auto", true, 2).channelsLast(), spec.input().toString());
      GradientCheckTest.check(spec, 2, true, 3e-3, 1e-2);
      GradientCheckTest.check(spec, 2, false, 3e-3, 1e-2);
    }
  }


}
