package convspark.common.nn;

import convspark.common.blas.Blas;
import convspark.common.spec.Init;
import convspark.common.spec.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Fully connected layer, one GEMM per pass. Input of any shape is read as a flat vector in C,H,W
 * order. Parameters: weight [out, in] (PyTorch layout) then bias [out].
 */
public final class Dense extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final boolean bias;
  private final Init init;

  public Dense(Shape in, int units, boolean bias, Init init, int paramOffset) {
    super(in, Shape.vector(units), paramOffset, 0);
    this.bias = bias;
    this.init = init;
  }

  /** Channels-last only when the input is one pixel per channel: its weights read C, H, W order. */
  @Override
  public boolean channelsLastCapable() {
    return in.spatial() == 1;
  }





  @Override
  public int paramCount() {
    return out.size() * in.size() + (bias ? out.size() : 0);
  }

  @Override
  public void forward(Pass pass, Context ctx, float[] x, float[] y, int n) {
    int ni = in.size();
    int no = out.size();
    float[] w = pass.params();
    if (bias) {
      int b = paramOffset + no * ni;
      for (int i = 0; i < n; i++) {
        System.arraycopy(w, b, y, i * no, no);
      }
    }
    Blas.gemm(false, true, n, no, ni, 1f, x, 0, ni, w, paramOffset, ni, bias ? 1f : 0f, y, 0, no);
  }

  @Override
  public void backward(Pass pass, Context ctx, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    int ni = in.size();
    int no = out.size();
    float[] g = pass.grads();
    // dW[no, ni] += gy^T[no, n] . x[n, ni]
    Blas.gemm(true, false, no, ni, n, 1f, gy, 0, no, x, 0, ni, 1f, g, paramOffset, ni);
    if (bias) {
      int b = paramOffset + no * ni;
      for (int o = 0; o < no; o++) {
        double s = 0;
        for (int i = 0; i < n; i++) {
          s += gy[i * no + o];
        }
        g[b + o] += (float) s;
      }
    }
    if (gx != null) {
      // dx[n, ni] = gy[n, no] . W[no, ni]
      Blas.gemm(false, false, n, ni, no, 1f, gy, 0, no, pass.params(), paramOffset, ni, 0f, gx, 0,
          ni);
    }
  }

  @Override
  public void init(float[] params, float[] state, SplittableRandom rng) {
    init.fill(params, paramOffset, out.size() * in.size(), in.size(), out.size(), rng);
    if (bias) {
      Arrays.fill(params, paramOffset + out.size() * in.size(), paramOffset + paramCount(), 0f);
    }
  }

  @Override
  public void weightRanges(List<ParamRange> ranges) {
    ranges.add(new ParamRange(paramOffset, out.size() * in.size()));
  }

  @Override
  public void otherParamRanges(List<ParamRange> ranges) {
    if (bias) {
      ranges.add(new ParamRange(paramOffset + out.size() * in.size(), out.size()));
    }
  }
}
