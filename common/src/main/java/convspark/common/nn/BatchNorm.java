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
  private record Ctx(float[] mean, float[] invStd, boolean[] trained, double[] sums)
      implements Context {}

  @Override
  public Context newContext(int maxBatch) {
    return new Ctx(new float[in.channels()], new float[in.channels()], new boolean[1],
        new double[2]);
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
