package convspark.common.nn;

import convspark.common.spec.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Batch normalisation: per channel for conv activations (statistics over N, H, W), per feature
 * for dense activations (H = W = 1). PyTorch semantics: the batch variance used to normalise is
 * biased, the one folded into the running estimate is unbiased, and {@code running = (1 -
 * momentum) * running + momentum * batch}.
 *
 * <p>Training uses the batch's statistics (per worker, as Goyal et al.); the step reports them,
 * count-weighted, in {@link Pass#bnStats()} so the driver can average them across workers and
 * update the running statistics with {@link #updateRunningStats}. Evaluation uses the running
 * statistics. Parameters: gamma [C], beta [C]. State: running mean [C], running var [C].
 */
public final class BatchNorm extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final double momentum;
  private final double epsilon;

  public BatchNorm(Shape shape, double momentum, double epsilon, int paramOffset,
      int stateOffset) {
    super(shape, shape, paramOffset, stateOffset);
    this.momentum = momentum;
    this.epsilon = epsilon;
  }

  double epsilon() {
    return epsilon;
  }




  @Override
  public int paramCount() {
    return 2 * in.channels();
  }


  @Override
  public int stateCount() {
    return 2 * in.channels();
  }

  /**
   * Per channel the mean and 1/std the forward pass normalised with; the backward pass
   * recomputes xhat = (x - mean) / std from its input rather than reading a stored copy, which
   * saves forward a write of the whole activation (and the workspace its size).
   */
  private record Ctx(float[] mean, float[] invStd, boolean[] trained, double[] sums,
      boolean channelsLast, float[] acc, double[] channelSums) implements Context {}

  @Override
  public Context newContext(int maxBatch) {
    return newContext(maxBatch, false, false);
  }

  @Override
  public boolean channelsLastCapable() {
    return true;
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    int ch = in.channels();
    return new Ctx(new float[ch], new float[ch], new boolean[1], new double[2], channelsLast,
        channelsLast ? new float[3 * ch] : null, channelsLast ? new double[2 * ch] : null);
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    forward(pass, context, x, y, n, false);
  }

  /**
   * The forward pass, followed by ReLU when {@code relu} ({@link BatchNormRelu}): y = max(0,
   * batch norm), the same arithmetic as the two layers, in one pass.
   */
  void forward(Pass pass, Context context, float[] x, float[] y, int n, boolean relu) {
    Ctx ctx = (Ctx) context;
    if (ctx.channelsLast()) {
      forwardChannelsLast(pass, ctx, x, y, n, relu);
      return;
    }
    int ch = in.channels();
    int hw = in.spatial();
    int per = ch * hw;
    float[] p = pass.params();
    float[] s = pass.state();
    long m = (long) n * hw;
    ctx.trained()[0] = pass.training();
    for (int c = 0; c < ch; c++) {
      double mean;
      double var;
      if (pass.training()) {
        // two passes (mean, then squared deviations): robust when |mean| >> std
        double sum = 0;
        for (int i = 0; i < n; i++) {
          sum += Kernels.sum(x, i * per + c * hw, hw);
        }
        mean = sum / m;
        double sq = 0;
        for (int i = 0; i < n; i++) {
          sq += Kernels.sumSqDiff(x, i * per + c * hw, hw, (float) mean);
        }
        var = sq / m;
        float[] stats = pass.bnStats();
        if (stats != null) {
          double unbiased = m > 1 ? sq / (m - 1) : var;
          stats[stateOffset + c] += (float) (n * mean);
          stats[stateOffset + ch + c] += (float) (n * unbiased);
        }
      } else {
        mean = s[stateOffset + c];
        var = s[stateOffset + ch + c];
      }
      float inv = (float) (1.0 / Math.sqrt(var + epsilon));
      float fm = (float) mean;
      ctx.invStd()[c] = inv;
      ctx.mean()[c] = fm;
      float gamma = p[paramOffset + c];
      float beta = p[paramOffset + ch + c];
      for (int i = 0; i < n; i++) {
        int b = i * per + c * hw;
        if (relu) {
          for (int j = b; j < b + hw; j++) {
            y[j] = Math.max(gamma * ((x[j] - fm) * inv) + beta, 0f);
          }
        } else {
          for (int j = b; j < b + hw; j++) {
            y[j] = gamma * ((x[j] - fm) * inv) + beta;
          }
        }
      }
    }
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    backward(pass, context, x, y, gy, gx, n, false);
  }

  /**
   * The backward pass; with {@code relu}, of batch norm followed by ReLU ({@code y} is then the
   * ReLU's output and {@code gy} its gradient): batch norm's output gradient is gy where y > 0,
   * else 0, computed where it is read instead of written out. Vector API only (the caller,
   * {@link BatchNormRelu}, exists only with it).
   */
  void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx, int n,
      boolean relu) {
    Ctx ctx = (Ctx) context;
    if (ctx.channelsLast()) {
      backwardChannelsLast(pass, ctx, x, y, gy, gx, n, relu);
      return;
    }
    int ch = in.channels();
    int hw = in.spatial();
    int per = ch * hw;
    float[] p = pass.params();
    float[] g = pass.grads();
    double m = (double) n * hw;
    for (int c = 0; c < ch; c++) {
      double[] sums = ctx.sums();
      sums[0] = 0;
      sums[1] = 0;
      float fm = ctx.mean()[c];
      float inv = ctx.invStd()[c];
      for (int i = 0; i < n; i++) {
        if (relu) {
          VectorKernels.liveSums(x, gy, y, i * per + c * hw, hw, fm, inv, sums, 0);
        } else {
          Kernels.sumAndDotNormalized(x, gy, i * per + c * hw, hw, fm, inv, sums);
        }
      }
      double sumDy = sums[0];
      double sumDyXhat = sums[1];
      g[paramOffset + c] += (float) sumDyXhat;
      g[paramOffset + ch + c] += (float) sumDy;
      if (gx == null) {
        continue;
      }
      float gamma = p[paramOffset + c];
      if (ctx.trained()[0]) {
        // dx = gamma*inv/m * (m*dy - sum(dy) - xhat*sum(dy*xhat))
        float k = (float) (gamma * inv / m);
        float a = (float) sumDy;
        float bb = (float) sumDyXhat;
        float mm = (float) m;
        for (int i = 0; i < n; i++) {
          int b = i * per + c * hw;
          if (relu) {
            VectorKernels.bnInputGradLive(x, gy, y, gx, b, hw, fm, inv, k, mm, a, bb);
            continue;
          }
          for (int j = 0; j < hw; j++) {
            gx[b + j] = k * (mm * gy[b + j] - a - ((x[b + j] - fm) * inv) * bb);
          }
        }
      } else {
        float k = gamma * inv;
        for (int i = 0; i < n; i++) {
          int b = i * per + c * hw;
          if (relu) {
            VectorKernels.scaleLive(gy, y, gx, b, hw, k);
            continue;
          }
          for (int j = 0; j < hw; j++) {
            gx[b + j] = k * gy[b + j];
          }
        }
      }
    }
  }

  /**
   * {@link #forward} on channels-last activations ({@link ChannelsLastKernels}): the same
   * statistics as NCHW (two passes; each image's sums in float, then in double), one pass over
   * the rows per step.
   */
  private void forwardChannelsLast(Pass pass, Ctx ctx, float[] x, float[] y, int n,
      boolean relu) {
    int ch = in.channels();
    int hw = in.spatial();
    float[] s = pass.state();
    long m = (long) n * hw;
    ctx.trained()[0] = pass.training();
    float[] mean = ctx.mean();
    float[] inv = ctx.invStd();
    float[] acc = ctx.acc();
    double[] sums = ctx.channelSums();
    if (pass.training()) {
      Arrays.fill(sums, 0);
      for (int i = 0; i < n; i++) {
        Arrays.fill(acc, 0, ch, 0f);
        ChannelsLastKernels.sums(x, i * hw * ch, hw, ch, acc);
        for (int c = 0; c < ch; c++) {
          sums[c] += acc[c];
        }
      }
      for (int c = 0; c < ch; c++) {
        mean[c] = (float) (sums[c] / m);
      }
      for (int i = 0; i < n; i++) {
        Arrays.fill(acc, 0, ch, 0f);
        ChannelsLastKernels.squaredDeviations(x, i * hw * ch, hw, ch, mean, acc);
        for (int c = 0; c < ch; c++) {
          sums[ch + c] += acc[c];
        }
      }
      float[] stats = pass.bnStats();
      for (int c = 0; c < ch; c++) {
        double mu = sums[c] / m;
        double var = sums[ch + c] / m;
        inv[c] = (float) (1.0 / Math.sqrt(var + epsilon));
        if (stats != null) {
          double unbiased = m > 1 ? sums[ch + c] / (m - 1) : var;
          stats[stateOffset + c] += (float) (n * mu);
          stats[stateOffset + ch + c] += (float) (n * unbiased);
        }
      }
    } else {
      for (int c = 0; c < ch; c++) {
        mean[c] = s[stateOffset + c];
        inv[c] = (float) (1.0 / Math.sqrt(s[stateOffset + ch + c] + epsilon));
      }
    }
    ChannelsLastKernels.normalize(x, y, 0, n * hw, ch, pass.params(), paramOffset, mean, inv,
        relu);
  }

  /** {@link #backward} on channels-last activations ({@link ChannelsLastKernels}). */
  private void backwardChannelsLast(Pass pass, Ctx ctx, float[] x, float[] y, float[] gy,
      float[] gx, int n, boolean relu) {
    int ch = in.channels();
    int hw = in.spatial();
    float[] p = pass.params();
    float[] g = pass.grads();
    double m = (double) n * hw;
    float[] mean = ctx.mean();
    float[] inv = ctx.invStd();
    float[] acc = ctx.acc(); // [0, ch): sum dy; [ch, 2 ch): sum dy * xhat (per image)
    double[] sums = ctx.channelSums();
    Arrays.fill(sums, 0);
    for (int i = 0; i < n; i++) {
      Arrays.fill(acc, 0, 2 * ch, 0f);
      ChannelsLastKernels.gradientSums(x, gy, y, i * hw * ch, hw, ch, mean, inv, relu, acc);
      for (int c = 0; c < 2 * ch; c++) {
        sums[c] += acc[c];
      }
    }
    for (int c = 0; c < ch; c++) {
      g[paramOffset + c] += (float) sums[ch + c];
      g[paramOffset + ch + c] += (float) sums[c];
    }
    if (gx == null) {
      return;
    }
    // dx = k * (mm * dy - a - xhat * b) in training, else k * dy; acc: [0, ch) k, [ch, 2 ch)
    // a = sum dy, [2 ch, 3 ch) b = sum dy * xhat (the NCHW path's expressions)
    boolean trained = ctx.trained()[0];
    for (int c = 0; c < ch; c++) {
      float gamma = p[paramOffset + c];
      acc[c] = trained ? (float) (gamma * inv[c] / m) : gamma * inv[c];
      acc[ch + c] = (float) sums[c];
      acc[2 * ch + c] = (float) sums[ch + c];
    }
    ChannelsLastKernels.inputGradient(x, gy, y, gx, 0, n * hw, ch, mean, inv, acc, (float) m,
        relu, trained);
  }

  @Override
  public void init(float[] params, float[] state, SplittableRandom rng) {
    int ch = in.channels();
    Arrays.fill(params, paramOffset, paramOffset + ch, 1f);
    Arrays.fill(params, paramOffset + ch, paramOffset + 2 * ch, 0f);
    Arrays.fill(state, stateOffset, stateOffset + ch, 0f);
    Arrays.fill(state, stateOffset + ch, stateOffset + 2 * ch, 1f);
  }

  @Override
  public void otherParamRanges(List<ParamRange> ranges) {
    ranges.add(new ParamRange(paramOffset, 2 * in.channels()));
  }

  @Override
  public void updateRunningStats(float[] state, float[] averaged) {
    int ch = in.channels();
    for (int i = stateOffset; i < stateOffset + 2 * ch; i++) {
      state[i] = (float) ((1 - momentum) * state[i] + momentum * averaged[i]);
    }
  }
}
