package convspark.common.nn;

import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;

/**
 * Batch norm, 2x2/2 max-pool and ReLU (in either order of the last two: they commute) as one
 * kernel with fewer passes over memory. A {@link Workspace} runs it in place of the three layers
 * whenever a network has that sequence ({@link #fuse}); the three layers keep their parameters,
 * state and places in {@link Network#layers()}, so nothing else sees the difference.
 *
 * <p>Why: at the first conv block of {@code conf/fashion-mnist.conf} the batch-norm input is
 * 6.4 MB per batch of 64, larger than a core's L2, and the three layers moved it about ten times
 * (three reads and a write in batch norm, a read, a zeroing and a scatter in max-pool, ...), each
 * at memory speed. Here, per channel:
 * <ul>
 *   <li>forward: one pass for the statistics (sum and sum of squares about a shift, the
 *       channel's first value, so no cancellation when |mean| >> std), one pass that normalises,
 *       pools and rectifies and writes only the pooled output and, per output, the winner's
 *       offset and raw input (whether ReLU let it through is read back from the output);
 *   <li>backward: one pass over the pooled outputs for batch norm's two sums (the gradient is
 *       non-zero only at winners that ReLU let through), and one pass that writes the input
 *       gradient.
 * </ul>
 * The arithmetic of each value is that of the separate layers (same expressions, same order), so
 * outputs and gradients agree with them up to the summation order of the statistics. The phases
 * ({@link #statsAdd}, {@link #statsEnd}, {@link #pool}; {@link #gradSums}, {@link #inputGrad})
 * take groups of images, so that {@link ConvBnPoolRelu} can interleave them with a conv.
 */
final class BatchNormPoolRelu implements Layer {
  private static final long serialVersionUID = 1L;

  private final BatchNorm bn;
  private final Shape in;
  private final Shape out;
  private final double epsilon;
  /** Per pooled output of a plane, the offset of its window's top-left input. */
  private final int[] corner;
  private final float[] cornerF;

  private BatchNormPoolRelu(BatchNorm bn, Shape out) {
    this.bn = bn;
    this.in = bn.inShape();
    this.out = out;
    this.epsilon = bn.epsilon();
    this.corner = new int[out.spatial()];
    this.cornerF = new float[out.spatial()];
    for (int j = 0; j < corner.length; j++) {
      corner[j] = 2 * (j / out.width()) * in.width() + 2 * (j % out.width());
      cornerF[j] = corner[j];
    }
  }


  /**
   * The fused layer for {@code a, b, c} if they are batch norm, max-pool 2x2 stride 2 without
   * padding and ReLU (the last two in either order) on a conv activation; otherwise null.
   */
  static BatchNormPoolRelu fuse(Layer a, Layer b, Layer c) {
    if (!Kernels.VECTOR_API || !VectorKernels.fusedKernelsPay()) {
      return null; // the separate layers: same results, no Vector API needed
    }
    if (!(a instanceof BatchNorm norm) || norm.inShape().height() < 2
        || norm.inShape().width() < 2) {
      return null;
    }
    MaxPool2d pool;
    if (b instanceof MaxPool2d p && isRelu(c)) {
      pool = p;
    } else if (isRelu(b) && c instanceof MaxPool2d p) {
      pool = p;
    } else {
      return null;
    }
    if (pool.kernel() != 2 || pool.stride() != 2 || pool.padding() != 0) {
      return null;
    }
    return new BatchNormPoolRelu(norm, c.outShape());
  }

  /** Where plane (image i, channel c) of the input starts. */
  private int plane(int i, int c) {
    return (i * in.channels() + c) * in.spatial();
  }

  private static boolean isRelu(Layer l) {
    return l instanceof Activation act && act.kind() == Nonlinearity.RELU;
  }

  @Override
  public Shape inShape() {
    return in;
  }

  @Override
  public Shape outShape() {
    return out;
  }

  /**
   * Per channel the mean and 1/std of the forward pass; per pooled output the winner's offset in
   * its plane (as a float) and its raw input, whether ReLU let it through being read back from
   * the output (y > 0); {@code at}: one plane's offsets as ints; per channel backward's two sums
   * and five coefficients.
   */
  private record Ctx(float[] mean, float[] invStd, boolean[] trained, float[] pos, float[] win,
      int[] at, double[] sums, float[] coef, boolean channelsLast, float[] acc)
      implements Context {}

  /**
   * Channels-last activations ({@link ChannelsLastPoolKernels}): {@code pos} holds each output's
   * winning tap instead of the winner's offset, {@code coef} the coefficients as rows of
   * channels ([0, ch) k, [ch, 2 ch) a, [2 ch, 3 ch) b), and {@code acc} an image's float sums.
   */
  @Override
  public boolean channelsLastCapable() {
    return true;
  }

  @Override
  public Context newContext(int maxBatch) {
    return newContext(maxBatch, true, false);
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    int ch = in.channels();
    return new Ctx(new float[ch], new float[ch], new boolean[1],
        new float[maxBatch * out.size()], new float[maxBatch * out.size()],
        channelsLast ? null : new int[out.spatial()], new double[2 * ch], new float[5 * ch],
        channelsLast, channelsLast ? new float[2 * ch] : null);
  }

  /*
   * Loop order: statistics channel by channel (each channel's planes are read once), then the
   * passes that touch the NCHW pooled arrays image by image, channel by channel, so those arrays
   * are written and read in order. Going channel by channel there instead strides through them
   * (a plane of 49 or 196 outputs per image), with partly written cache lines evicted between
   * channels once a batch's outputs outgrow L2: at batch 256 that cost 2x per image.
   */

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    if (pass.training()) {
      statsAdd(context, x, 0, n);
    }
    statsEnd(pass, context, n);
    pool(pass, context, x, y, 0, n);
  }

  /**
   * Training: adds images i0..i0+cn-1 to the per-channel statistics; call with i0 = 0 first
   * (that group's first image gives each channel's shift).
   */
  void statsAdd(Context context, float[] x, int i0, int cn) {
    Ctx ctx = (Ctx) context;
    int ch = in.channels();
    int hw = in.spatial();
    double[] sums = ctx.sums();
    float[] shift = ctx.mean(); // until statsEnd
    if (i0 == 0) {
      java.util.Arrays.fill(sums, 0);
      for (int c = 0; c < ch; c++) {
        shift[c] = x[ctx.channelsLast() ? c : plane(0, c)];
      }
    }
    if (ctx.channelsLast()) {
      float[] acc = ctx.acc();
      for (int i = i0; i < i0 + cn; i++) {
        java.util.Arrays.fill(acc, 0f);
        ChannelsLastPoolKernels.sumsAbout(x, i * hw * ch, hw, ch, shift, acc);
        for (int c = 0; c < ch; c++) {
          sums[2 * c] += acc[c];
          sums[2 * c + 1] += acc[ch + c];
        }
      }
      return;
    }
    for (int i = i0; i < i0 + cn; i++) {
      for (int c = 0; c < ch; c++) {
        VectorKernels.sumAndSquaresAbout(x, plane(i, c), hw, shift[c], sums, 2 * c);
      }
    }
  }

  /**
   * Each channel's mean and 1/std: in training from the statistics {@link #statsAdd} gathered
   * over the batch of n (and reported count-weighted in {@link Pass#bnStats()}), else the
   * running ones.
   */
  void statsEnd(Pass pass, Context context, int n) {
    Ctx ctx = (Ctx) context;
    int ch = in.channels();
    float[] s = pass.state();
    int so = bn.stateOffset();
    long m = (long) n * in.spatial();
    boolean training = pass.training();
    ctx.trained()[0] = training;
    double[] sums = ctx.sums();
    for (int c = 0; c < ch; c++) {
      double mean;
      double var;
      if (training) {
        double d = sums[2 * c] / m;
        mean = ctx.mean()[c] + d;
        var = Math.max(0, sums[2 * c + 1] / m - d * d);
        float[] stats = pass.bnStats();
        if (stats != null) {
          double unbiased = m > 1 ? var * m / (m - 1) : var;
          stats[so + c] += (float) (n * mean);
          stats[so + ch + c] += (float) (n * unbiased);
        }
      } else {
        mean = s[so + c];
        var = s[so + ch + c];
      }
      ctx.invStd()[c] = (float) (1.0 / Math.sqrt(var + epsilon));
      ctx.mean()[c] = (float) mean;
    }
  }

  /** Normalises, pools and rectifies images i0..i0+cn-1 (after {@link #statsEnd}). */
  void pool(Pass pass, Context context, float[] x, float[] y, int i0, int cn) {
    Ctx ctx = (Ctx) context;
    int ch = in.channels();
    int ohw = out.spatial();
    float[] p = pass.params();
    int po = bn.paramOffset();
    if (ctx.channelsLast()) {
      for (int i = i0; i < i0 + cn; i++) {
        ChannelsLastPoolKernels.normPoolRelu(x, i * in.size(), in.width(), ch, out.height(),
            out.width(), p, po, ctx.mean(), ctx.invStd(), y, ctx.pos(), ctx.win(),
            i * out.size());
      }
      return;
    }
    for (int i = i0; i < i0 + cn; i++) {
      for (int c = 0; c < ch; c++) {
        VectorKernels.normPoolRelu(x, plane(i, c), in.width(), corner, cornerF, ohw, y,
            ctx.pos(), ctx.win(), (i * ch + c) * ohw, p[po + c], ctx.mean()[c],
            ctx.invStd()[c], p[po + ch + c]);
      }
    }
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    gradSums(pass, context, y, gy, n);
    if (gx != null) {
      inputGrad(context, x, y, gy, gx, 0, n, n);
    }
  }

  /**
   * Batch norm's two sums per channel over the batch of n (its output's gradient is gy at the
   * winners ReLU let through, else 0): the gamma and beta gradients, and the coefficients of
   * {@link #inputGrad}.
   */
  void gradSums(Pass pass, Context context, float[] y, float[] gy, int n) {
    Ctx ctx = (Ctx) context;
    int ch = in.channels();
    int ohw = out.spatial();
    float[] p = pass.params();
    float[] g = pass.grads();
    int po = bn.paramOffset();
    double m = (double) n * in.spatial();
    boolean trained = ctx.trained()[0];
    float[] mean = ctx.mean();
    float[] invStd = ctx.invStd();
    double[] sums = ctx.sums();
    java.util.Arrays.fill(sums, 0);
    if (ctx.channelsLast()) {
      float[] acc = ctx.acc();
      for (int i = 0; i < n; i++) {
        java.util.Arrays.fill(acc, 0f);
        ChannelsLastPoolKernels.liveSums(ctx.win(), gy, y, i * out.size(), ohw, ch, mean, invStd,
            acc);
        for (int c = 0; c < ch; c++) {
          sums[2 * c] += acc[c];
          sums[2 * c + 1] += acc[ch + c];
        }
      }
    } else {
      for (int i = 0; i < n; i++) {
        for (int c = 0; c < ch; c++) {
          VectorKernels.liveSums(ctx.win(), gy, y, (i * ch + c) * ohw, ohw, mean[c], invStd[c],
              sums, 2 * c);
        }
      }
    }
    // per channel, as BatchNorm: dx = gamma*inv/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)) in
    // training, gamma*inv*dy in evaluation (written as the same expression with a = b = 0,
    // m = 1 and xhat = 0)
    float[] coef = ctx.coef();
    for (int c = 0; c < ch; c++) {
      double sumDy = sums[2 * c];
      double sumDyXhat = sums[2 * c + 1];
      g[po + c] += (float) sumDyXhat;
      g[po + ch + c] += (float) sumDy;
      float gamma = p[po + c];
      float k = trained ? (float) (gamma * invStd[c] / m) : gamma * invStd[c];
      if (ctx.channelsLast()) {
        // rows of channels for the vector kernels: k, a, b (mean and 1/std are their own)
        coef[c] = k;
        coef[ch + c] = trained ? (float) sumDy : 0f;
        coef[2 * ch + c] = trained ? (float) sumDyXhat : 0f;
        continue;
      }
      coef[5 * c] = k;
      coef[5 * c + 1] = trained ? (float) sumDy : 0f;
      coef[5 * c + 2] = trained ? (float) sumDyXhat : 0f;
      coef[5 * c + 3] = trained ? mean[c] : 0f;
      coef[5 * c + 4] = trained ? invStd[c] : 0f;
    }
  }

  /** The input gradient of images i0..i0+cn-1 of the batch of n (after {@link #gradSums}). */
  void inputGrad(Context context, float[] x, float[] y, float[] gy, float[] gx, int i0, int cn,
      int n) {
    Ctx ctx = (Ctx) context;
    int ch = in.channels();
    int hw = in.spatial();
    int ohw = out.spatial();
    boolean trained = ctx.trained()[0];
    float[] mean = ctx.mean();
    float[] invStd = ctx.invStd();
    float[] coef = ctx.coef();
    float mm = trained ? (float) ((double) n * hw) : 1f;
    if (ctx.channelsLast()) {
      for (int i = i0; i < i0 + cn; i++) {
        if (trained) {
          ChannelsLastPoolKernels.poolInputGradient(x, i * in.size(), in.width(), in.height(),
              ch, out.height(), out.width(), ctx.pos(), gy, y, i * out.size(), coef, mm, mean,
              invStd, gx);
        } else {
          ChannelsLastPoolKernels.poolInputGradientEval(i * in.size(), in.width(), in.height(),
              ch, out.height(), out.width(), ctx.pos(), gy, y, i * out.size(), coef, gx);
        }
      }
      return;
    }
    for (int i = i0; i < i0 + cn; i++) {
      for (int c = 0; c < ch; c++) {
        int base = plane(i, c);
        float k = coef[5 * c];
        float a = coef[5 * c + 1];
        float bb = coef[5 * c + 2];
        if (trained) {
          VectorKernels.zeroDyGrad(x, gx, base, hw, k, a, bb, mean[c], invStd[c]);
        } else {
          java.util.Arrays.fill(gx, base, base + hw, 0f);
        }
        // the winners (every output's, so no branch depends on the data)
        VectorKernels.scatterWinners(gx, base, ctx.pos(), ctx.at(), ctx.win(), gy, y,
            (i * ch + c) * ohw, ohw, k, mm, a, bb, coef[5 * c + 3], coef[5 * c + 4]);
      }
    }
  }
}
