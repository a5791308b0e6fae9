package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.spec.Init;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Layout changes by vector gathers ({@link Conv2d#GATHER_PROPERTY}) give the same bits as one
 * float at a time: Winograd's NCHW and channels-last buffers (whole and partial vectors of
 * channels, even and odd planes, output gradients that fill the buffer or not) and the polyphase
 * split and merge of stride-2 and stride-3 convs, whole and in groups of images.
 */
class GatherTest {
  /** Logits, parameter gradient and input gradient of one training step. */
  record Step(float[] out, float[] grads, float[] gin) {}

  @Test
  void winogradLayoutChanges() {
    Object[][] cases = {{new Shape(16, 14, 14), 32}, {new Shape(32, 7, 7), 24},
        {new Shape(8, 9, 4), 24}, {new Shape(40, 6, 10), 48}, {new Shape(17, 5, 5), 16}};
    for (Object[] c : cases) {
      LayerSpec conv = new LayerSpec.Conv((Integer) c[1], 3, 1, 1, true, Init.HE);
      for (String chunk : new String[] {null, "20"}) {
        same((Shape) c[0], conv, net -> assertTrue(WinogradTest.winograd(net, 1)),
            Winograd.ROWS_PROPERTY, chunk);
      }
    }
  }

  @Test
  void polyphaseSplitAndMerge() {
    Object[][] cases = {{new Shape(16, 28, 28), new LayerSpec.Conv(8, 3, 2, 1, false, Init.HE)},
        {new Shape(8, 14, 10), new LayerSpec.Conv(16, 3, 2, 1, true, Init.HE)},
        {new Shape(12, 9, 9), new LayerSpec.Conv(4, 3, 3, 1, true, Init.HE)},
        {new Shape(32, 6, 6), new LayerSpec.Conv(8, 3, 2, 1, 4, false, Init.HE)}};
    for (Object[] c : cases) {
      for (String chunk : new String[] {null, "2000"}) {
        same((Shape) c[0], (LayerSpec) c[1], net -> { }, Conv2d.CHUNK_FLOATS, chunk);
      }
    }
  }

  private static void same(Shape in, LayerSpec conv, Consumer<Network> check, String... props) {
    String[] on = append(props, Conv2d.GATHER_PROPERTY, "true");
    String[] off = append(props, Conv2d.GATHER_PROPERTY, "false");
    Step g = step(in, conv, check, on);
    Step s = step(in, conv, check, off);
    String at = in + " -> " + conv + " " + String.join(" ", props);
    assertArrayEquals(s.out, g.out, at + ": logits");
    assertArrayEquals(s.grads, g.grads, at + ": parameter gradient");
    assertArrayEquals(s.gin, g.gin, at + ": input gradient");
  }

  private static String[] append(String[] a, String key, String value) {
    String[] r = java.util.Arrays.copyOf(a, a.length + 2);
    r[a.length] = key;
    r[a.length + 1] = value;
    return r;
  }

  /**
   * One training step of tanh, then {@code conv}, on 5 random images, under the properties;
   * {@code check} sees the network first.
   */
  static Step step(Shape in, LayerSpec conv, Consumer<Network> check, String... props) {
    ModelSpec spec = GradientCheckTest.spec(in, new LayerSpec.Act(Nonlinearity.TANH), conv);
    int n = 5;
    Step[] r = new Step[1];
    WithProperties.run(() -> {
      Network net = new Network(spec);
      check.accept(net);
      float[] params = net.initParams(5);
      SplittableRandom rng = new SplittableRandom(9);
      Workspace ws = net.newWorkspace(n);
      for (int i = 0; i < n * in.size(); i++) {
        ws.input()[i] = (float) rng.nextGaussian();
      }
      for (int i = 0; i < n; i++) {
        ws.labels()[i] = rng.nextInt(net.classes());
      }
      float[] grads = new float[params.length];
      ws.trainStep(new Pass(params, grads, net.initState(), true, 1L, null), n, 0.0);
      float[] out = ws.logits().clone();
      float[] gl = new float[out.length];
      SoftmaxCrossEntropy.lossAndGrad(out, ws.labels(), 0, n, net.classes(), 0.0, gl);
      float[] gin = ws.backwardToInput(new Pass(params, new float[params.length],
          net.initState(), true, 1L, null), n, gl, new float[n * in.size()]);
      assertEquals(n * net.classes(), out.length);
      r[0] = new Step(out, grads, gin);
    }, props);
    return r[0];
  }
}
