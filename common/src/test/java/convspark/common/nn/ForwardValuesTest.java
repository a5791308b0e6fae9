package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.spec.Init;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Forward values against small cases computed by hand. */
class ForwardValuesTest {
  static final float[] X33 = {1, 2, 3, 4, 5, 6, 7, 8, 9};

  @Test
  void convStride1() {
    Conv2d c = new Conv2d(new Shape(1, 3, 3), 1, 2, 1, 0, true, Init.HE, 0);
    float[] params = {1, 0, 0, 1, 0.5f};
    float[] y = new float[4];
    c.forward(Pass.inference(params, new float[0]), c.newContext(1), X33, y, 1);
    assertArrayEquals(new float[] {6.5f, 8.5f, 12.5f, 14.5f}, y);
  }

  @Test
  void convStride2Padding1() {
    Conv2d c = new Conv2d(new Shape(1, 3, 3), 1, 2, 2, 1, true, Init.HE, 0);
    assertEquals(new Shape(1, 2, 2), c.outShape());
    float[] params = {1, 0, 0, 1, 0.5f};
    float[] y = new float[4];
    c.forward(Pass.inference(params, new float[0]), c.newContext(1), X33, y, 1);
    assertArrayEquals(new float[] {1.5f, 3.5f, 7.5f, 14.5f}, y);
  }

  @Test
  void convTwoChannelsTwoFiltersTwoImages() {
    // filter 0 sums channel 0's 1x1 pixel, filter 1 = 2*ch1 - ch0; kernel 1
    Conv2d c = new Conv2d(new Shape(2, 1, 2), 2, 1, 1, 0, false, Init.HE, 0);
    float[] params = {1, 0, -1, 2};
    float[] x = {1, 2, 3, 4, /* image 2 */ 5, 6, 7, 8};
    float[] y = new float[8];
    c.forward(Pass.inference(params, new float[0]), c.newContext(2), x, y, 2);
    assertArrayEquals(new float[] {1, 2, 5, 6, 5, 6, 9, 10}, y);
  }

  /**
   * Forward output, weight gradient and input gradient of same-padded stride-1 convs (the
   * shifted-copy im2col/col2im) against direct loops: kernels 3 and 5, per image and batched, in
   * one chunk and in several.
   */
  @Test
  void samePaddedConvAgainstDirectLoops() {
    // channels, kernel, height, width, filters, groups (grouped: per image, batched, depthwise)
    int[][] cases = {{2, 3, 6, 5, 3, 1}, {8, 3, 7, 9, 4, 1}, {3, 5, 6, 6, 2, 1},
        {8, 1, 4, 5, 3, 1}, {8, 3, 7, 9, 4, 2}, {16, 3, 5, 6, 8, 2}, {4, 3, 6, 5, 8, 4}};
    for (String chunk : new String[] {"1000000", "400"}) {
      WithProperties.run(() -> {
        for (int[] t : cases) {
          directConvCase(t[0], t[1], t[2], t[3], t[4], t[5]);
        }
      }, Conv2d.CHUNK_FLOATS, chunk);
    }
  }

  private static void directConvCase(int ch, int k, int h, int w, int oc, int groups) {
    int n = 3;
    int p = (k - 1) / 2;
    Conv2d c = new Conv2d(new Shape(ch, h, w), oc, k, 1, p, groups, true, Init.HE, 0);
    java.util.SplittableRandom rng = new java.util.SplittableRandom(ch * 100 + k);
    float[] params = new float[c.paramCount()];
    for (int i = 0; i < params.length; i++) {
      params[i] = (float) rng.nextDouble(-1, 1);
    }
    float[] x = new float[n * ch * h * w];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) rng.nextDouble(-1, 1);
    }
    float[] gy = new float[n * oc * h * w];
    for (int i = 0; i < gy.length; i++) {
      gy[i] = (float) rng.nextDouble(-1, 1);
    }
    float[] y = new float[gy.length];
    float[] gx = new float[x.length];
    float[] grads = new float[params.length];
    Pass pass = new Pass(params, grads, new float[0], true, 1, null);
    Layer.Context ctx = c.newContext(n);
    c.forward(pass, ctx, x, y, n);
    c.backward(pass, ctx, x, y, gy, gx, n);
    double[] ey = new double[y.length];
    double[] egx = new double[x.length];
    double[] egw = new double[params.length];
    int cg = ch / groups; // input channels per group
    int ckk = cg * k * k;
    for (int i = 0; i < n; i++) {
      for (int o = 0; o < oc; o++) {
        for (int yy = 0; yy < h; yy++) {
          for (int xx = 0; xx < w; xx++) {
            int yi = ((i * oc + o) * h + yy) * w + xx;
            double acc = params[oc * ckk + o];
            egw[oc * ckk + o] += gy[yi];
            int c0 = o / (oc / groups) * cg; // the group's first input channel
            for (int cc = c0; cc < c0 + cg; cc++) {
              for (int kh = 0; kh < k; kh++) {
                for (int kw = 0; kw < k; kw++) {
                  int ih = yy + kh - p;
                  int iw = xx + kw - p;
                  if (ih < 0 || ih >= h || iw < 0 || iw >= w) {
                    continue;
                  }
                  int xi = ((i * ch + cc) * h + ih) * w + iw;
                  int wi = ((o * cg + cc - c0) * k + kh) * k + kw;
                  acc += params[wi] * x[xi];
                  egx[xi] += params[wi] * gy[yi];
                  egw[wi] += x[xi] * gy[yi];
                }
              }
            }
            ey[yi] = acc;
          }
        }
      }
    }
    String where = ch + "x" + h + "x" + w + " k" + k + " -> " + oc + " groups " + groups;
    for (int i = 0; i < y.length; i++) {
      assertEquals(ey[i], y[i], 1e-4, where + " output " + i);
    }
    for (int i = 0; i < x.length; i++) {
      assertEquals(egx[i], gx[i], 1e-4, where + " input gradient " + i);
    }
    for (int i = 0; i < params.length; i++) {
      assertEquals(egw[i], grads[i], 1e-4, where + " parameter gradient " + i);
    }
  }

  @Test
  void maxAndAvgPool() {
    float[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    MaxPool2d mp = new MaxPool2d(new Shape(1, 4, 4), 2, 2, 0);
    float[] y = new float[4];
    mp.forward(Pass.inference(new float[0], new float[0]), mp.newContext(1), x, y, 1);
    assertArrayEquals(new float[] {6, 8, 14, 16}, y);
    AvgPool2d ap = new AvgPool2d(new Shape(1, 4, 4), 2, 2, 2);
    ap.forward(Pass.inference(new float[0], new float[0]), ap.newContext(1), x, y, 1);
    assertArrayEquals(new float[] {3.5f, 5.5f, 11.5f, 13.5f}, y);
    // floor mode: 3x3 max pool stride 2 on 4x4 gives 1x1
    MaxPool2d mp3 = new MaxPool2d(new Shape(1, 4, 4), 3, 2, 0);
    assertEquals(new Shape(1, 1, 1), mp3.outShape());
  }

  @Test
  void batchNormTrainAndEval() {
    // one channel, 4 samples of 1 value: 1, 2, 3, 4 -> mean 2.5, biased var 1.25
    BatchNorm bn = new BatchNorm(Shape.vector(1), 0.1, 0.0, 0, 0);
    float[] params = {2f, 1f}; // gamma, beta
    float[] state = {0f, 1f};
    float[] stats = new float[2];
    float[] x = {1, 2, 3, 4};
    float[] y = new float[4];
    bn.forward(new Pass(params, null, state, true, 0, stats), bn.newContext(4), x, y, 4);
    double inv = 1 / Math.sqrt(1.25);
    for (int i = 0; i < 4; i++) {
      assertEquals(2 * (x[i] - 2.5) * inv + 1, y[i], 1e-5);
    }
    // count-weighted batch mean 4*2.5, unbiased variance 4*(5/3)
    assertEquals(10f, stats[0], 1e-5);
    assertEquals(4 * 5.0 / 3, stats[1], 1e-5);
    bn.updateRunningStats(state, new float[] {2.5f, 5f / 3});
    assertEquals(0.25f, state[0], 1e-6);
    assertEquals(0.9 + 0.1 * 5.0 / 3, state[1], 1e-6);
    // eval mode uses the running stats
    bn.forward(Pass.inference(params, state), bn.newContext(4), x, y, 4);
    assertEquals(2 * (1 - 0.25) / Math.sqrt(state[1]) + 1, y[0], 1e-5);
  }

  @Test
  void softmaxCrossEntropyWithLabelSmoothing() {
    float[] logits = {1, 2, 3};
    float[] g = new float[3];
    double loss = SoftmaxCrossEntropy.lossAndGrad(logits, new int[] {2}, 0, 1, 3, 0.3, g);
    double lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    double[] t = {0.1, 0.1, 0.8};
    double expect = 0;
    for (int c = 0; c < 3; c++) {
      expect -= t[c] * (logits[c] - lse);
      assertEquals(Math.exp(logits[c] - lse) - t[c], g[c], 1e-6);
    }
    assertEquals(expect, loss, 1e-9);
    // hand value: lse = 3.40760596; loss = 3.40760596 - (0.1*1 + 0.1*2 + 0.8*3) = 0.70760596
    assertEquals(0.70760596, loss, 1e-7);
  }

  @Test
  void softmaxCrossEntropyStaysFiniteForHugeLogits() {
    float[] logits = {1e4f, -1e4f, 0f, -1e4f, 1e4f, 1e4f};
    float[] g = new float[6];
    double loss = SoftmaxCrossEntropy.lossAndGrad(logits, new int[] {1, 0}, 0, 2, 3, 0.0, g);
    assertTrue(Double.isFinite(loss));
    // row 0: lse = 1e4, true logit -1e4 -> 2e4; row 1: lse = 1e4 + log 2, true logit -1e4
    assertEquals(4e4 + Math.log(2), loss, 1e-3);
    for (float v : g) {
      assertTrue(Float.isFinite(v));
    }
    assertEquals(1f, g[0], 1e-6);
    assertEquals(-1f, g[1], 1e-6);
  }

  @Test
  void dropoutIsInvertedAndIdentityAtInference() {
    Dropout d = new Dropout(Shape.vector(10000), 0.25, 0);
    float[] x = new float[10000];
    java.util.Arrays.fill(x, 1f);
    float[] y = new float[10000];
    d.forward(new Pass(new float[0], null, new float[0], true, 5, null), d.newContext(1), x, y, 1);
    int kept = 0;
    for (float v : y) {
      if (v != 0) {
        assertEquals(1 / 0.75f, v, 1e-6);
        kept++;
      }
    }
    assertEquals(7500, kept, 200);
    d.forward(Pass.inference(new float[0], new float[0]), d.newContext(1), x, y, 1);
    assertArrayEquals(x, y);
  }

  /**
   * The mask follows its documented rule exactly (so a seed gives the same masks as before the
   * branch-free rewrite): four 16-bit uniforms per {@code SplittableRandom.nextLong()} of the
   * seed {@code pass seed * 0x9E3779B97F4A7C15 + index}, low bits first, a unit dropped when its
   * 16 bits are below round(rate * 65536). 10,003 units: the last draw is used in part.
   */
  @Test
  void dropoutMaskFollowsItsRule() {
    int len = 10003;
    double rate = 0.2;
    Dropout d = new Dropout(Shape.vector(len), rate, 12);
    float[] x = new float[len];
    for (int i = 0; i < len; i++) {
      x[i] = 1 + i % 7;
    }
    float[] y = new float[len];
    d.forward(new Pass(new float[0], null, new float[0], true, 99, null), d.newContext(1), x, y,
        1);
    java.util.SplittableRandom rng = new java.util.SplittableRandom(99 * 0x9E3779B97F4A7C15L + 12);
    int threshold = (int) Math.round(rate * 65536);
    float scale = (float) (1.0 / (1.0 - rate));
    long bits = 0;
    for (int i = 0; i < len; i++) {
      if (i % 4 == 0) {
        bits = rng.nextLong();
      }
      long u = (bits >>> (16 * (i % 4))) & 0xFFFF;
      assertEquals(u >= threshold ? x[i] * scale : 0f, y[i], "unit " + i);
    }
  }

  /**
   * relu(conv1x1(x) + x) with weight 2, bias -3 on x = [1, 2]: the body gives [-1, 1], the sum
   * [0, 3], the output [0, 3]. Backward from [1, 1]: the sum's gradient is [0, 1] (ReLU at 0
   * passes nothing), so dW = 0*1 + 1*2 = 2, db = 1, and dx = body (2 * [0, 1]) + identity [0, 1]
   * = [0, 3].
   */
  @Test
  void residualIdentityBlockByHand() {
    LayerSpec.Residual spec = new LayerSpec.Residual(
        List.of(new LayerSpec.Conv(1, 1, 1, 0, true, Init.HE)), List.of(), Nonlinearity.RELU);
    Layer r = Layers.bind(spec, new Shape(1, 1, 2), 0, 0, 0);
    assertEquals(new Shape(1, 1, 2), r.outShape());
    assertEquals(2, r.paramCount());
    float[] params = {2, -3};
    float[] grads = new float[2];
    Layer.Context ctx = r.newContext(1);
    Pass pass = new Pass(params, grads, new float[0], true, 0L, null);
    float[] y = new float[2];
    r.forward(pass, ctx, new float[] {1, 2}, y, 1);
    assertArrayEquals(new float[] {0, 3}, y);
    float[] gx = new float[2];
    r.backward(pass, ctx, new float[] {1, 2}, y, new float[] {1, 1}, gx, 1);
    assertArrayEquals(new float[] {2, 1}, grads);
    assertArrayEquals(new float[] {0, 3}, gx);
  }

  /**
   * A projection shortcut and no activation: x = [1, 2; 3, 4] (1x2x2); body conv 1x1 stride 2
   * weight 1 bias 0.5 reads x[0,0] = 1 and gives 1.5; shortcut conv 1x1 stride 2 weight 3, no
   * bias, gives 3; the output is 4.5. Backward from [2]: dW_body = 2*1, db = 2, dW_shortcut = 2*1,
   * dx = [2*1 + 2*3, 0; 0, 0].
   */
  @Test
  void residualProjectionBlockByHand() {
    LayerSpec.Residual spec = new LayerSpec.Residual(
        List.of(new LayerSpec.Conv(1, 1, 2, 0, true, Init.HE)),
        List.of(new LayerSpec.Conv(1, 1, 2, 0, false, Init.HE)), null);
    Layer r = Layers.bind(spec, new Shape(1, 2, 2), 0, 0, 0);
    assertEquals(new Shape(1, 1, 1), r.outShape());
    float[] params = {1, 0.5f, 3};
    float[] grads = new float[3];
    Layer.Context ctx = r.newContext(1);
    Pass pass = new Pass(params, grads, new float[0], true, 0L, null);
    float[] x = {1, 2, 3, 4};
    float[] y = new float[1];
    r.forward(pass, ctx, x, y, 1);
    assertArrayEquals(new float[] {4.5f}, y);
    float[] gx = new float[4];
    r.backward(pass, ctx, x, y, new float[] {2}, gx, 1);
    assertArrayEquals(new float[] {2, 2, 2}, grads);
    assertArrayEquals(new float[] {8, 0, 0, 0}, gx);
  }
}
