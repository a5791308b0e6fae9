package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import convspark.common.spec.Init;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fused batch norm + 2x2 max-pool + ReLU kernel ({@link BatchNormPoolRelu}): chosen for
 * exactly the sequences it covers, checked against finite differences, and equal to the separate
 * layers (forward output, parameter and input gradients, batch statistics) up to float rounding.
 * Every check runs in both layouts, NCHW and channels-last, the separate layers in the same
 * layout as the fused ones.
 */
class FusedBlockTest {
  private static final LayerSpec BN = new LayerSpec.BatchNorm(0.1, 1e-5);
  private static final LayerSpec POOL = new LayerSpec.MaxPool(2, 2, 0);
  private static final LayerSpec RELU = new LayerSpec.Act(Nonlinearity.RELU);

  private static ModelSpec convBlock(Shape in, LayerSpec... tail) {
    LayerSpec[] ls = new LayerSpec[tail.length + 1];
    ls[0] = new LayerSpec.Conv(3, 3, 1, 1, true, Init.HE);
    System.arraycopy(tail, 0, ls, 1, tail.length);
    return GradientCheckTest.spec(in, ls);
  }

  private static boolean fused(ModelSpec spec) {
    return Workspace.plan(new Network(spec), true).stream()
        .anyMatch(s -> s.layer() instanceof BatchNormPoolRelu
            || s.layer() instanceof ConvBnPoolRelu);
  }

  /** On a machine with narrower vectors nothing is fused (see VectorKernels.fusedKernelsPay). */
  @BeforeEach
  void fusedKernelsRunHere() {
    assumeTrue(!Kernels.VECTOR_API || VectorKernels.fusedKernelsPay(),
        "vectors narrower than 8 floats: the separate layers run, nothing fused to test");
  }

  @Test
  void theModuleIsThereInTests() {
    // without jdk.incubator.vector nothing is fused, and these tests would check nothing new
    assertTrue(Kernels.VECTOR_API, "run tests with --add-modules=jdk.incubator.vector");
  }

  @Test
  void fusesExactlyTheSequencesItCovers() {
    Shape in = new Shape(2, 6, 6);
    assertTrue(fused(convBlock(in, BN, POOL, RELU)));
    assertTrue(fused(convBlock(in, BN, RELU, POOL)));
    assertTrue(!fused(convBlock(in, BN, POOL)));
    assertTrue(!fused(convBlock(in, BN, new LayerSpec.MaxPool(3, 2, 1), RELU)));
    assertTrue(!fused(convBlock(in, BN, new LayerSpec.MaxPool(2, 1, 0), RELU)));
    assertTrue(!fused(convBlock(in, BN, POOL, new LayerSpec.Act(Nonlinearity.TANH))));
    assertTrue(!fused(convBlock(in, POOL, BN, RELU)));
    Network net = new Network(convBlock(in, BN, POOL, RELU));
    List<Workspace.Step> plan = Workspace.plan(net, true);
    assertEquals(List.of("conv+batchnorm+maxpool+relu", "flatten", "dense"),
        plan.stream().map(s -> s.name(net)).toList());
    // without a conv before it, the block alone
    Network bare = new Network(GradientCheckTest.spec(in, BN, RELU, POOL));
    assertEquals(List.of("batchnorm+relu+maxpool", "flatten", "dense"),
        Workspace.plan(bare, true).stream().map(s -> s.name(bare)).toList());
    assertEquals(net.layers().size(), Workspace.plan(net, false).size());
  }

  /**
   * Finite-difference checks of the fused path (the workspace of {@link GradientCheckTest#check}
   * fuses). The block sits on the input, whose values {@code check} spaces so that a step can
   * not reorder a pooling window; h = 3e-3 (floor 1e-2) keeps steps off ReLU's kink, and passes
   * for the separate layers too ({@code -Dconvspark.nn.fuse=false}), whose float32 rounding
   * fails the default h = 1e-2, floor 1e-3 on two of these cases.
   */
  private static void check(ModelSpec spec, int n, boolean training) {
    check(spec, n, training, 1e-2);
  }

  private static void check(ModelSpec spec, int n, boolean training, double floor) {
    assertTrue(fused(spec));
    inBothLayouts(spec, () -> GradientCheckTest.check(spec, n, training, 3e-3, floor));
  }

  /** Runs body with activations NCHW, then channels-last (checked to be so). */
  private static void inBothLayouts(ModelSpec spec, Runnable body) {
    for (String layout : new String[] {"nchw", "auto"}) {
      WithProperties.run(() -> {
        boolean cl = new Network(spec).newWorkspace(1).channelsLast();
        assertEquals(layout.equals("auto"), cl, "channels-last under " + layout);
        body.run();
      }, Workspace.LAYOUT_PROPERTY, layout);
    }
  }

  @Test
  void gradientCheckPoolThenRelu() {
    check(GradientCheckTest.spec(new Shape(2, 6, 6), BN, POOL, RELU), 2, true);
  }

  @Test
  void gradientCheckReluThenPool() {
    check(GradientCheckTest.spec(new Shape(2, 6, 6), BN, RELU, POOL), 2, true);
  }

  /** Odd sizes: the last row and column are in no window but still in the statistics. */
  @Test
  void gradientCheckOddSizes() {
    check(GradientCheckTest.spec(new Shape(2, 7, 5), BN, POOL, RELU), 2, true);
  }

  @Test
  void gradientCheckEvaluationMode() {
    check(GradientCheckTest.spec(new Shape(2, 6, 6), BN, POOL, RELU), 2, false);
  }

  /** Planes wider than a vector and not a multiple of it: vector body and scalar tail. */
  @Test
  void gradientCheckWidePlanes() {
    // floor 2e-2 (absolute tolerance 4e-4 on gradients near 0): with 8-lane vectors (AVX2,
    // -XX:UseAVX=2) the statistics' float32 rounding moves the loss by a few ulps (~1e-6) between
    // the +-h evaluations, i.e. ~2e-4 of numeric slope, which failed input 36 (analytic -0.00169,
    // numeric -0.00191) by 0.0026 over the default; fusedEqualsSeparateOnWidePlanes checks the
    // same planes' analytic gradients tightly against the separate layers at 8 and 16 lanes.
    check(GradientCheckTest.spec(new Shape(1, 2, 38), BN, POOL, RELU), 2, true, 2e-2);
  }

  /** Planes wider than a vector of 8 or 16 floats, with a tail, fused against separate. */
  @Test
  void fusedEqualsSeparateOnWidePlanes() {
    for (boolean training : new boolean[] {true, false}) {
      compare(GradientCheckTest.spec(new Shape(1, 2, 38), BN, POOL, RELU), 2, training);
      compare(GradientCheckTest.spec(new Shape(1, 2, 38), BN, POOL, RELU), 2, training, true);
      compare(GradientCheckTest.spec(new Shape(3, 4, 70), BN, RELU, POOL), 3, training);
    }
  }

  /** Behind a conv, as in the example network (the conv's input gradient goes through it). */
  @Test
  void gradientCheckBehindConv() {
    check(GradientCheckTest.spec(new Shape(2, 4, 4), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(3, 3, 1, 1, true, Init.HE), BN, POOL, RELU), 2, true);
  }

  @Test
  void fusedEqualsSeparateLayers() {
    for (boolean training : new boolean[] {true, false}) {
      for (ModelSpec spec : List.of(convBlock(new Shape(3, 14, 14), BN, POOL, RELU),
          convBlock(new Shape(3, 13, 9), BN, RELU, POOL),
          GradientCheckTest.spec(new Shape(4, 28, 28), new LayerSpec.Conv(8, 3, 1, 1, true,
              Init.HE), BN, POOL, RELU, new LayerSpec.Conv(16, 3, 1, 1, true, Init.HE), BN,
              POOL, RELU, new LayerSpec.Dropout(0.2)))) {
        compare(spec, 5, training);
      }
    }
  }

  /**
   * Joined with a batched conv in groups of one image ({@link ConvBnPoolRelu}; the conv is
   * 3x3/1/1, so Winograd's groups where the Vector API is present, else im2col's chunks).
   */
  @Test
  void behindConvInChunks() {
    WithProperties.run(() -> {
      ModelSpec spec = GradientCheckTest.spec(new Shape(8, 4, 4), new LayerSpec.Act(
          Nonlinearity.TANH), new LayerSpec.Conv(4, 3, 1, 1, true, Init.HE), BN, POOL, RELU);
      Network net = new Network(spec);
      assertTrue(Workspace.plan(net, true).get(1).layer() instanceof ConvBnPoolRelu);
      assertTrue(!((Conv2d) net.layers().get(1)).perImage());
      compare(spec, 3, true);
      check(spec, 2, true);
    }, Conv2d.CHUNK_FLOATS, "1200", Winograd.ROWS_PROPERTY, "1");
  }

  private static void compare(ModelSpec spec, int n, boolean training) {
    compare(spec, n, training, false);
  }

  /** spaced: the gradient check's inputs (evenly spaced magnitudes of both signs, shuffled). */
  private static void compare(ModelSpec spec, int n, boolean training, boolean spaced) {
    assertTrue(fused(spec));
    inBothLayouts(spec, () -> {
      // |mean| > std: the shifted statistics
      FusedVsSeparate r = FusedVsSeparate.run(spec, n, training, 3, spaced);
      // the same layout on both sides (dropout draws its mask by position in the buffer)
      assertEquals(r.workspaces()[0].channelsLast(), r.workspaces()[1].channelsLast(),
          "the fused and the separate layers in the same layout");
      close("logits", r.logits()[0], r.logits()[1]);
      close("parameter gradient", r.grads()[0], r.grads()[1]);
      close("input gradient", r.gin()[0], r.gin()[1]);
      close("batch statistics", r.stats()[0], r.stats()[1]);
    });
  }

  private static void close(String what, float[] fused, float[] separate) {
    double scale = 0;
    for (float v : separate) {
      scale = Math.max(scale, Math.abs(v));
    }
    for (int i = 0; i < fused.length; i++) {
      assertTrue(Math.abs(fused[i] - separate[i]) <= 1e-4 * scale + 1e-4 * Math.abs(separate[i]),
          what + " " + i + ": fused " + fused[i] + ", separate layers " + separate[i]);
    }
  }
}
