package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.spec.LayerSpec;
import convspark.common.spec.Init;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference gradient checks (centred differences, as Deeplearning4j's GradientCheckUtil):
 * for each layer type, a small network [layer under test, ..., dense] is evaluated with the
 * softmax cross-entropy (label smoothing 0.1) and every parameter gradient and every input
 * gradient is compared with (L(x+h) - L(x-h)) / 2h. Relative error |a-n| / max(|a|+|n|, floor)
 * must stay under 2e-2 with h = 1e-2 in float32 (the forward is float32, so tighter h would
 * measure rounding, not the derivative); with floor 1e-3 tiny gradients are compared absolutely.
 * An element that misses at h is tried again at h/2, 2h, h/4 and 4h and passes if one agrees
 * (a kink within h, or rounding that h amplifies, which differs with the machine's vector
 * width); at most 2% of the elements may need that, and a wrong gradient misses at every step.
 */
class GradientCheckTest {
  static final double H = 1e-2;
  static final double TOL = 2e-2;
  static final double FLOOR = 1e-3;

  static ModelSpec spec(Shape in, LayerSpec... layers) {
    List<LayerSpec> ls = new ArrayList<>(List.of(layers));
    ls.add(new LayerSpec.FlattenSpec());
    ls.add(new LayerSpec.Dense(3, true, Init.XAVIER));
    return new ModelSpec(in, ls);
  }

  static double loss(Network net, Workspace ws, float[] params, float[] state, float[] x,
      int[] labels, int n, boolean training) {
    System.arraycopy(x, 0, ws.input(), 0, x.length);
    float[] logits = ws.forward(new Pass(params, null, state, training, 7L, null), n);
    return SoftmaxCrossEntropy.lossAndGrad(logits, labels, 0, n, net.classes(), 0.1, null);
  }

  static void check(ModelSpec spec, int n, boolean training) {
    check(spec, n, training, H, FLOOR);
  }

  /**
   * {@code h}: the finite-difference step; {@code floor}: below this size gradients are compared
   * absolutely (a deep float32 net's loss carries ~1e-7 relative rounding, so tiny gradients
   * need a larger floor).
   */
  /**
   * Distinct, evenly spaced inputs in random order, none within 0.05 of 0: a +-h step can
   * neither cross ReLU's kink nor swap which input of a pooling window is the largest.
   */
  static float[] spacedInputs(int len, SplittableRandom rng) {
    float[] x = new float[len];
    for (int i = 0; i < len; i++) {
      double u = 0.05 + 0.95 * (i / 2) / Math.max(1, (len - 1) / 2);
      x[i] = (float) (i % 2 == 0 ? u : -u);
    }
    for (int i = len - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      float t = x[i];
      x[i] = x[j];
      x[j] = t;
    }
    return x;
  }

  /**
   * Initial parameters (seed {@code seed}) with BN gamma/beta and biases drawn from [0.5, 1.5)
   * too, so that their gradients are not trivially special.
   */
  static float[] randomParams(Network net, long seed, SplittableRandom rng) {
    float[] params = net.initParams(seed);
    for (ParamRange r : net.otherParamRanges()) {
      for (int i = r.offset(); i < r.offset() + r.length(); i++) {
        params[i] = (float) (0.5 + rng.nextDouble());
      }
    }
    return params;
  }

  /** Running statistics drawn from [0.2, 1.2) (positive, as variances must be). */
  static float[] randomState(Network net, SplittableRandom rng) {
    float[] state = net.initState();
    for (int i = 0; i < state.length; i++) {
      state[i] = (float) (0.2 + rng.nextDouble());
    }
    return state;
  }

  static void check(ModelSpec spec, int n, boolean training, double h, double floor) {
    Network net = new Network(spec);
    SplittableRandom rng = new SplittableRandom(42);
    float[] params = randomParams(net, 3, rng);
    float[] state = randomState(net, rng);
    int inSize = net.inputShape().size();
    float[] x = spacedInputs(n * inSize, rng);
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = rng.nextInt(net.classes());
    }
    Workspace ws = net.newWorkspace(n);
    float[] grads = new float[params.length];
    System.arraycopy(x, 0, ws.input(), 0, x.length);
    System.arraycopy(labels, 0, ws.labels(), 0, n);
    Pass pass = new Pass(params, grads, state, training, 7L, null);
    ws.trainStep(pass, n, 0.1);
    // input gradient: rerun forward, then backward to input
    System.arraycopy(x, 0, ws.input(), 0, x.length);
    float[] logits = ws.forward(pass, n);
    float[] gl = new float[logits.length];
    SoftmaxCrossEntropy.lossAndGrad(logits, labels, 0, n, net.classes(), 0.1, gl);
    float[] gx = ws.backwardToInput(new Pass(params, new float[params.length], state, training,
        7L, null), n, gl, new float[x.length]);

    int bad = 0;
    StringBuilder report = new StringBuilder();
    int retried = 0;
    for (int pass2 = 0; pass2 < 2; pass2++) {
      boolean ofInputs = pass2 == 1;
      float[] v = ofInputs ? x : params;
      float[] analytic = ofInputs ? gx : grads;
      for (int i = 0; i < v.length; i++) {
        double num = centred(net, ws, params, state, x, labels, n, training, v, i, h);
        if (agrees(num, analytic[i], floor)) {
          continue;
        }
        // The step met one of float32's limits rather than a wrong gradient: a kink (ReLU,
        // a max-pool's winner) within h of the point, or rounding that the step amplifies
        // (which order the vector lanes sum in differs between AVX2 and AVX-512 machines).
        // A wrong analytic gradient misses at every step, since the differences converge on
        // the true derivative; so the element passes if a smaller or larger step agrees.
        boolean ok = false;
        for (double f : RETRY_STEPS) {
          if (agrees(centred(net, ws, params, state, x, labels, n, training, v, i, h * f),
              analytic[i], floor)) {
            ok = true;
            break;
          }
        }
        if (ok) {
          retried++;
          continue;
        }
        bad++;
        if (bad < 5) {
          report.append(String.format(" %s %d: analytic %.6g numeric %.6g;",
              ofInputs ? "input" : "param", i, analytic[i], num));
        }
      }
    }
    assertTrue(bad == 0, bad + " gradient mismatches:" + report);
    // more than a few elements needing another step would be a pattern, not a kink
    int checked = params.length + x.length;
    assertTrue(retried <= Math.max(2, checked / 50), retried + " of " + checked
        + " elements agreed only at another step than " + h);
  }

  /** Steps, as multiples of h, tried on an element that misses at h. */
  private static final double[] RETRY_STEPS = {0.5, 2, 0.25, 4};

  private static boolean agrees(double num, double analytic, double floor) {
    return Math.abs(num - analytic) / Math.max(Math.abs(num) + Math.abs(analytic), floor) <= TOL;
  }

  /** (L(v_i + h) - L(v_i - h)) / 2h, with {@code v} the parameters or the inputs. */
  private static double centred(Network net, Workspace ws, float[] params, float[] state,
      float[] x, int[] labels, int n, boolean training, float[] v, int i, double h) {
    float old = v[i];
    v[i] = (float) (old + h);
    double lp = loss(net, ws, params, state, x, labels, n, training);
    v[i] = (float) (old - h);
    double lm = loss(net, ws, params, state, x, labels, n, training);
    v[i] = old;
    return (lp - lm) / (2 * h);
  }

  /** C*k*k = 18: the one-GEMM-per-image strategy. */
  @Test
  void conv() {
    assertTrue(new Conv2d(new Shape(2, 5, 5), 3, 3, 1, 0, true, Init.HE, 0).perImage());
    check(spec(new Shape(2, 5, 5), new LayerSpec.Conv(3, 3, 1, 0, true, Init.HE)), 3, true);
  }

  /** C*k*k = 72: the batched strategy (one GEMM over all images, NCHW copies each way). */
  @Test
  void convDeepColumnsBatched() {
    assertFalse(new Conv2d(new Shape(8, 5, 4), 3, 3, 1, 1, true, Init.HE, 0).perImage());
    check(spec(new Shape(8, 5, 4), new LayerSpec.Conv(3, 3, 1, 1, true, Init.HE)), 3, true);
  }

  @Test
  void convDeepColumnsStride2NoBias() {
    assertFalse(new Conv2d(new Shape(8, 6, 5), 2, 3, 2, 1, false, Init.HE, 0).perImage());
    check(spec(new Shape(8, 6, 5), new LayerSpec.Conv(2, 3, 2, 1, false, Init.HE)), 2, true);
  }

  @Test
  void convStride2Padding1() {
    check(spec(new Shape(2, 6, 5), new LayerSpec.Conv(3, 3, 2, 1, true, Init.HE)), 2, true);
  }

  /**
   * Stride 1 with "same" padding: im2col and col2im as one shifted copy per column row with the
   * wrapped columns zeroed. Kernel 5 (two wrapped columns on each side), per image (C*k*k = 50)
   * and batched (75), and a plane wider than a vector.
   */
  @Test
  void convSamePaddingKernel5() {
    check(spec(new Shape(2, 6, 7), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 5, 1, 2, true, Init.HE)), 2, true);
    check(spec(new Shape(3, 5, 6), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 5, 1, 2, false, Init.HE)), 2, true);
    check(spec(new Shape(2, 3, 21), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 3, 1, 1, true, Init.HE)), 2, true);
  }

  /**
   * Strided convs on planes the stride divides, output = plane / stride: im2col and col2im
   * through the input's stride x stride phases, one shifted copy per column row (kernel 3 and 5,
   * stride 2 and 3, per image and batched; a 2x2 stride-2 kernel has no shift at all).
   */
  @Test
  void convStridedThroughPhases() {
    check(spec(new Shape(2, 6, 8), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(3, 3, 2, 1, true, Init.HE)), 2, true);
    check(spec(new Shape(8, 4, 6), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 3, 2, 1, false, Init.HE)), 2, true);
    check(spec(new Shape(3, 8, 8), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 5, 2, 2, true, Init.HE)), 2, true);
    check(spec(new Shape(2, 6, 9), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 3, 3, 1, true, Init.HE)), 2, true);
    check(spec(new Shape(2, 4, 6), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 2, 2, 0, true, Init.HE)), 2, true);
  }

  /**
   * Grouped convolution: per image (2 groups of 2 channels, 18-deep columns), batched (2 groups
   * of 8 channels, 72-deep, a 3x3/1/1 conv that runs through im2col since Winograd takes no
   * groups), the same in chunks of 2 images, and depthwise with 2 filters per channel at stride
   * 2, through the input's phases.
   */
  @Test
  void convGrouped() {
    LayerSpec tanh = new LayerSpec.Act(Nonlinearity.TANH);
    assertTrue(new Conv2d(new Shape(4, 5, 5), 4, 3, 1, 1, 2, true, Init.HE, 0).perImage());
    check(spec(new Shape(4, 5, 5), tanh, new LayerSpec.Conv(4, 3, 1, 1, 2, true, Init.HE)), 3,
        true);
    assertFalse(new Conv2d(new Shape(16, 5, 4), 6, 3, 1, 1, 2, true, Init.HE, 0).perImage());
    ModelSpec batched = spec(new Shape(16, 5, 4), tanh,
        new LayerSpec.Conv(6, 3, 1, 1, 2, true, Init.HE));
    check(batched, 5, true);
    // 16*9 = 144 column rows x 20 pixels = 2,880 values per image: chunks of 2 images
    WithProperties.run(() -> check(batched, 5, true), Conv2d.CHUNK_FLOATS, "6000");
    check(spec(new Shape(3, 6, 6), tanh, new LayerSpec.Conv(6, 3, 2, 1, 3, false, Init.HE)), 2,
        true);
  }

  @Test
  void convNoBiasKernel1() {
    check(spec(new Shape(3, 4, 4), new LayerSpec.Conv(2, 1, 1, 0, false, Init.HE)), 2, true);
  }

  /**
   * The batched conv strategy split into chunks of images (here 2, 2 and 1 of a batch of 5), the
   * columns rebuilt per chunk in backward; then a single chunk, whose columns forward keeps.
   */
  /** The parameter gradient of one training step on fixed inputs. */
  private static float[] trainStepGrads(ModelSpec spec, int n) {
    Network net = new Network(spec);
    float[] params = net.initParams(3);
    SplittableRandom rng = new SplittableRandom(5);
    Workspace ws = net.newWorkspace(n);
    for (int i = 0; i < n * net.inputShape().size(); i++) {
      ws.input()[i] = (float) rng.nextDouble(-1, 1);
    }
    for (int i = 0; i < n; i++) {
      ws.labels()[i] = rng.nextInt(net.classes());
    }
    float[] grads = new float[params.length];
    ws.trainStep(new Pass(params, grads, net.initState(), true, 7L, null), n, 0.0);
    return grads;
  }

  private static ModelSpec chunkedNet() {
    // tanh first, so that the conv computes an input gradient (col2im per chunk) too
    return spec(new Shape(8, 5, 5), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(3, 3, 1, 1, true, Init.HE));
  }

  @Test
  void convBatchedInChunks() {
    // C*k*k = 8*3*3 = 72 >= 64, the batched strategy; 25 output pixels: 1,800 column values
    // per image, so a budget of 4,000 makes chunks of 2 images
    // im2col's chunks (a 3x3/1/1 conv would otherwise run as Winograd, see WinogradTest)
    WithProperties.run(() -> {
      float[][] grads = new float[2][];
      WithProperties.run(() -> {
        check(chunkedNet(), 5, true);
        grads[0] = trainStepGrads(chunkedNet(), 5);
      }, Conv2d.CHUNK_FLOATS, "4000");
      WithProperties.run(() -> {
        check(chunkedNet(), 5, true);
        grads[1] = trainStepGrads(chunkedNet(), 5);
      }, Conv2d.CHUNK_FLOATS, "1000000");
      float[] chunked = grads[0];
      float[] whole = grads[1];
      // the same sums in another order: equal up to float rounding
      for (int i = 0; i < whole.length; i++) {
        assertTrue(Math.abs(chunked[i] - whole[i]) <= 1e-5 + 1e-4 * Math.abs(whole[i]),
            "param " + i + ": chunked " + chunked[i] + ", one chunk " + whole[i]);
      }
    }, Winograd.PROPERTY, "false");
  }

  @Test
  void dense() {
    check(spec(new Shape(2, 3, 3), new LayerSpec.FlattenSpec(),
        new LayerSpec.Dense(5, true, Init.HE)), 4, true);
  }

  @Test
  void maxPool() {
    check(spec(new Shape(2, 6, 6), new LayerSpec.MaxPool(2, 2, 0)), 2, true);
  }

  /** 2x2/2 on odd sizes: the row and column no window covers get a zero gradient. */
  @Test
  void maxPool2x2OddSizes() {
    check(spec(new Shape(2, 7, 5), new LayerSpec.MaxPool(2, 2, 0)), 2, true);
  }

  /**
   * Ties, which finite differences cannot see: the 2x2/2 path's gradient goes to the first of
   * equal maxima (top-left, top-right, bottom-left, bottom-right), and every element of the
   * input gradient is written.
   */
  @Test
  void maxPool2x2TiesGoToTheFirstMaximumLikeTheGeneralPath() {
    Shape in = new Shape(1, 4, 4);
    float[] x = {
      1, 1, 0, 2,
      1, 1, 2, 2,
      3, 0, 0, 0,
      3, 3, 0, 5};
    float[] gy = {10, 20, 30, 40};
    // winners: top-left of four equal values, top-right of three equal 2s, top-left of three 3s,
    // the single 5
    float[] expected = {
      10, 0, 0, 20,
      0, 0, 0, 0,
      30, 0, 0, 0,
      0, 0, 0, 40};
    MaxPool2d pool = new MaxPool2d(in, 2, 2, 0);
    Layer.Context ctx = pool.newContext(1);
    float[] y = new float[4];
    Pass pass = new Pass(new float[0], new float[0], new float[0], true, 0, null);
    pool.forward(pass, ctx, x, y, 1);
    assertArrayEquals(new float[] {1, 2, 3, 5}, y);
    float[] gx = new float[16];
    java.util.Arrays.fill(gx, Float.NaN); // every element must be written
    pool.backward(pass, ctx, x, y, gy, gx, 1);
    assertArrayEquals(expected, gx);
  }

  @Test
  void maxPoolOverlappingPadded() {
    check(spec(new Shape(1, 5, 5), new LayerSpec.MaxPool(3, 2, 1)), 2, true);
  }

  @Test
  void avgPool() {
    check(spec(new Shape(2, 6, 6), new LayerSpec.AvgPool(2, 2)), 2, true);
  }

  @Test
  void globalAvgPool() {
    check(spec(new Shape(3, 4, 4), new LayerSpec.GlobalAvgPool()), 2, true);
  }

  @Test
  void relu() {
    check(spec(new Shape(2, 3, 3), new LayerSpec.Act(Nonlinearity.RELU)), 3, true);
  }

  @Test
  void sigmoid() {
    check(spec(new Shape(2, 3, 3), new LayerSpec.Act(Nonlinearity.SIGMOID)), 3, true);
  }

  @Test
  void tanh() {
    check(spec(new Shape(2, 3, 3), new LayerSpec.Act(Nonlinearity.TANH)), 3, true);
  }

  @Test
  void batchNormConvTrainMode() {
    check(spec(new Shape(3, 3, 3), new LayerSpec.BatchNorm(0.1, 1e-5)), 4, true);
  }

  @Test
  void batchNormDenseTrainMode() {
    check(spec(new Shape(2, 3, 3), new LayerSpec.FlattenSpec(),
        new LayerSpec.Dense(4, true, Init.HE), new LayerSpec.BatchNorm(0.1, 1e-5)), 5, true);
  }

  @Test
  void batchNormEvalMode() {
    check(spec(new Shape(3, 3, 3), new LayerSpec.BatchNorm(0.1, 1e-5)), 3, false);
  }

  @Test
  void dropoutWithFixedMask() {
    check(spec(new Shape(2, 4, 4), new LayerSpec.Dropout(0.4)), 3, true);
  }

  @Test
  void convThenMaxPool() {
    check(spec(new Shape(1, 6, 6), new LayerSpec.Conv(2, 3, 1, 1, true, Init.HE),
        new LayerSpec.Act(Nonlinearity.RELU), new LayerSpec.MaxPool(2, 2, 0)), 2, true);
  }

  /** Avg-pool here: in a deep stack a +-h step on a first-layer weight moves every activation,
   * and somewhere a max-pool window's two largest values swap, which a finite difference
   * cannot see past; max-pool is checked on its own and right after a conv above. */
  @Test
  void wholeConvNet() {
    check(spec(new Shape(1, 8, 8),
        new LayerSpec.Conv(3, 3, 1, 1, true, Init.HE),
        new LayerSpec.BatchNorm(0.1, 1e-5),
        new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.AvgPool(2, 2),
        new LayerSpec.Conv(4, 3, 2, 1, true, Init.HE),
        new LayerSpec.Dropout(0.3),
        new LayerSpec.FlattenSpec(),
        new LayerSpec.Dense(6, true, Init.HE),
        new LayerSpec.Act(Nonlinearity.SIGMOID)), 3, true, 3e-3, 1e-2);
  }

  static LayerSpec.Residual block(List<LayerSpec> body, List<LayerSpec> shortcut,
      Nonlinearity act) {
    return new LayerSpec.Residual(body, shortcut, act);
  }

  /** Identity shortcut: the sum's gradient reaches the input both through the body and as is. */
  @Test
  void residualIdentityBlock() {
    LayerSpec.Residual b = block(List.of(new LayerSpec.Conv(2, 3, 1, 1, false, Init.HE),
        new LayerSpec.BatchNorm(0.1, 1e-5), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(2, 3, 1, 1, true, Init.HE), new LayerSpec.BatchNorm(0.1, 1e-5)),
        List.of(), Nonlinearity.TANH);
    check(spec(new Shape(2, 4, 4), b), 3, true);
    check(spec(new Shape(2, 4, 4), b), 2, false);
  }

  /** Projection shortcut with stride 2 (1x1 conv + batch norm), after a conv layer. */
  @Test
  void residualProjectionBlockStride2() {
    LayerSpec.Residual b = block(List.of(new LayerSpec.Conv(3, 3, 2, 1, false, Init.HE),
        new LayerSpec.BatchNorm(0.1, 1e-5), new LayerSpec.Act(Nonlinearity.TANH),
        new LayerSpec.Conv(3, 3, 1, 1, false, Init.HE), new LayerSpec.BatchNorm(0.1, 1e-5)),
        List.of(new LayerSpec.Conv(3, 1, 2, 0, false, Init.HE),
            new LayerSpec.BatchNorm(0.1, 1e-5)), Nonlinearity.SIGMOID);
    check(spec(new Shape(2, 6, 6), b), 3, true);
    check(spec(new Shape(1, 6, 6), new LayerSpec.Conv(2, 3, 1, 1, true, Init.HE), b), 2, true);
  }

  /** Two blocks in a row, the second with a ReLU after the sum and no batch norm. */
  @Test
  void residualBlocksInARow() {
    LayerSpec.Residual a = block(List.of(new LayerSpec.Conv(2, 3, 1, 1, true, Init.HE)),
        List.of(), null);
    LayerSpec.Residual b = block(List.of(new LayerSpec.Conv(3, 3, 2, 1, true, Init.HE),
        new LayerSpec.Act(Nonlinearity.TANH)),
        List.of(new LayerSpec.Conv(3, 1, 2, 0, true, Init.HE)), Nonlinearity.RELU);
    check(spec(new Shape(2, 4, 4), a, b), 2, true);
  }
}
