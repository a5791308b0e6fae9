package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
 * The fused batch norm + ReLU kernel ({@link BatchNormRelu}): chosen for exactly that pair, at
 * the top level and inside residual chains; checked against finite differences; and bit for bit
 * equal to the two separate layers (logits, parameter and input gradients, batch statistics).
 */
class BatchNormReluTest {
  private static final LayerSpec BN = new LayerSpec.BatchNorm(0.1, 1e-5);
  private static final LayerSpec RELU = new LayerSpec.Act(Nonlinearity.RELU);
  private static final LayerSpec TANH = new LayerSpec.Act(Nonlinearity.TANH);

  @BeforeEach
  void needsTheModule() {
    assumeTrue(Kernels.VECTOR_API, "--add-modules=jdk.incubator.vector is not set");
  }

  private static LayerSpec conv(int filters, int stride) {
    return new LayerSpec.Conv(filters, 3, stride, 1, false, Init.HE);
  }

  /** A stem conv-BN-ReLU, then a block whose body has a BN-ReLU pair and a projection. */
  private static ModelSpec residualNet(Shape in) {
    LayerSpec.Residual block = new LayerSpec.Residual(
        List.of(conv(4, 2), BN, RELU, conv(4, 1), BN),
        List.of(new LayerSpec.Conv(4, 1, 2, 0, false, Init.HE), BN), Nonlinearity.RELU);
    return GradientCheckTest.spec(in, conv(3, 1), BN, RELU, block);
  }

  @Test
  void fusesExactlyBatchNormThenRelu() {
    Shape in = new Shape(2, 6, 6);
    Network net = new Network(GradientCheckTest.spec(in, conv(3, 1), BN, RELU, conv(3, 1), BN,
        TANH, conv(3, 1), RELU, BN));
    assertEquals(List.of("conv", "batchnorm+relu", "conv", "batchnorm", "tanh", "conv", "relu",
        "batchnorm", "flatten", "dense"),
        Workspace.plan(net, true).stream().map(s -> s.name(net)).toList());
    assertEquals(net.layers().size(), Workspace.plan(net, false).size());
    Residual r = (Residual) new Network(residualNet(in)).layers().get(3);
    List<Layer> body = Workspace.chain(r.body());
    assertEquals(4, body.size());
    assertTrue(body.get(1) instanceof BatchNormRelu);
    assertTrue(body.get(3) instanceof BatchNorm);
    assertEquals(r.shortcut(), Workspace.chain(r.shortcut()));
  }

  /**
   * Finite differences through the fused pair, in training (behind a conv) and in evaluation
   * (on the check's spaced inputs, with a smaller step: behind a conv some pre-activations lie
   * within a step of ReLU's kink, and the separate layers fail there the same way). Inside a
   * residual block, where every parameter moves the batch statistics and so every
   * pre-activation, ReLU's kink fails finite differences for the separate layers as well; there
   * the fused path is held bit for bit to the separate layers below, and those to PyTorch (the
   * residual fixture of the driver's TorchParityTest has the same BN-ReLU bodies).
   */
  @Test
  void gradientCheckTrainingAndEvaluation() {
    GradientCheckTest.check(GradientCheckTest.spec(new Shape(2, 5, 5), TANH, conv(3, 1), BN,
        RELU), 3, true, 3e-3, 1e-2);
    GradientCheckTest.check(GradientCheckTest.spec(new Shape(2, 6, 6), BN, RELU), 2, false,
        1e-3, 1e-2);
  }

  @Test
  void fusedEqualsSeparateLayersBitForBit() {
    // planes wider than a vector with a tail (7x7 = 49, 14x14 = 196) and a dense batch norm
    for (boolean training : new boolean[] {true, false}) {
      compare(residualNet(new Shape(2, 14, 14)), 5, training);
      compare(GradientCheckTest.spec(new Shape(3, 7, 7), conv(4, 1), BN, RELU,
          new LayerSpec.FlattenSpec(), new LayerSpec.Dense(20, true, Init.HE), BN, RELU), 4,
          training);
    }
  }

  private static void compare(ModelSpec spec, int n, boolean training) {
    float[][] logits = new float[2][];
    float[][] grads = new float[2][];
    float[][] gin = new float[2][];
    float[][] stats = new float[2][];
    String before = System.getProperty(Workspace.FUSE_PROPERTY);
    try {
      for (int v = 0; v < 2; v++) {
        // residual blocks choose their kernels when the network is built
        System.setProperty(Workspace.FUSE_PROPERTY, v == 0 ? "true" : "false");
        Network net = new Network(spec);
        float[] params = net.initParams(11);
        SplittableRandom rng = new SplittableRandom(3);
        for (ParamRange r : net.otherParamRanges()) {
          for (int i = r.offset(); i < r.offset() + r.length(); i++) {
            params[i] = (float) rng.nextDouble(-1.5, 1.5); // negative gammas too
          }
        }
        float[] state = net.initState();
        for (int i = 0; i < state.length; i++) {
          state[i] = (float) (0.2 + rng.nextDouble());
        }
        float[] x = new float[n * net.inputShape().size()];
        for (int i = 0; i < x.length; i++) {
          x[i] = (float) rng.nextGaussian();
        }
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
          labels[i] = rng.nextInt(net.classes());
        }
        Workspace ws = net.newWorkspace(n, v == 0);
        // fused in both places, or in neither (else the comparison would be of like with like)
        assertEquals(v == 0, ws.steps().stream().anyMatch(
            s -> s.layer() instanceof BatchNormRelu));
        for (Layer l : net.layers()) {
          if (l instanceof Residual r) {
            assertEquals(v == 0, r.bodySteps().stream().anyMatch(
                s -> s instanceof BatchNormRelu));
          }
        }
        System.arraycopy(x, 0, ws.input(), 0, x.length);
        System.arraycopy(labels, 0, ws.labels(), 0, n);
        grads[v] = new float[params.length];
        stats[v] = new float[net.stateCount()];
        ws.trainStep(new Pass(params, grads[v], state, training, 9L, stats[v]), n, 0.1);
        logits[v] = ws.logits().clone();
        float[] gl = new float[logits[v].length];
        SoftmaxCrossEntropy.lossAndGrad(logits[v], labels, 0, n, net.classes(), 0.1, gl);
        gin[v] = ws.backwardToInput(new Pass(params, new float[params.length], state, training,
            9L, null), n, gl, new float[x.length]);
      }
    } finally {
      if (before == null) {
        System.clearProperty(Workspace.FUSE_PROPERTY);
      } else {
        System.setProperty(Workspace.FUSE_PROPERTY, before);
      }
    }
    assertArrayEquals(logits[1], logits[0], "logits");
    assertArrayEquals(grads[1], grads[0], "parameter gradient");
    assertArrayEquals(gin[1], gin[0], "input gradient");
    assertArrayEquals(stats[1], stats[0], "batch statistics");
  }
}
