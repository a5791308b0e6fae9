package convspark.common.nn;

import convspark.common.spec.Shape;
import java.util.Arrays;

/**
 * Max pooling, floor mode (as PyTorch's default {@code ceil_mode=False}); padding counts as
 * minus infinity. The forward pass records the arg-max of every output for the backward pass.
 */
public final class MaxPool2d extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final int kernel;
  private final int stride;
  private final int padding;

  public MaxPool2d(Shape in, int kernel, int stride, int padding) {
    super(in, in.window(in.channels(), kernel, kernel, stride, padding), 0, 0);
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
  }

  int kernel() {
    return kernel;
  }

  int stride() {
    return stride;
  }

  int padding() {
    return padding;
  }

  /**
   * {@code argmax}: per output, the index of its winner in the input array, so backward is the
   * same scatter in either layout.
   */
  private record Ctx(int[] argmax, boolean channelsLast) implements Context {}

  /**
   * Channels-last images ({@link #forwardChannelsLast}): the same windows, visited in the same
   * order per channel, so the same outputs and winners as NCHW.
   */
  @Override
  public boolean channelsLastCapable() {
    return true;
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    return new Ctx(new int[maxBatch * out.size()], channelsLast);
  }

  private boolean fast2x2() {
    return kernel == 2 && stride == 2 && padding == 0;
  }

  @Override
  public Context newContext(int maxBatch) {
    return newContext(maxBatch, true, false);
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    int h = in.height();
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    int planes = n * in.channels();
    Ctx c = (Ctx) context;
    int[] arg = c.argmax();
    if (c.channelsLast()) {
      forwardChannelsLast(x, y, arg, n, h, w, oh, ow);
      return;
    }
    if (fast2x2()) {
      forward2x2(x, y, arg, planes, h, w, oh, ow);
      return;
    }
    int o = 0;
    for (int pl = 0; pl < planes; pl++) {
      int base = pl * h * w;
      for (int yo = 0; yo < oh; yo++) {
        int h0 = yo * stride - padding;
        int hs = Math.max(h0, 0);
        int he = Math.min(h0 + kernel, h);
        for (int xo = 0; xo < ow; xo++, o++) {
          int w0 = xo * stride - padding;
          int ws = Math.max(w0, 0);
          int we = Math.min(w0 + kernel, w);
          float best = Float.NEGATIVE_INFINITY;
          int bi = base + hs * w + ws;
          for (int yy = hs; yy < he; yy++) {
            int r = base + yy * w;
            for (int xx = ws; xx < we; xx++) {
              float v = x[r + xx];
              if (v > best || Float.isNaN(v)) {
                best = v;
                bi = r + xx;
              }
            }
          }
          y[o] = best;
          arg[o] = bi;
        }
      }
    }
  }

  /**
   * Channels-last: per output pixel, a row of channels, each channel's window visited in the
   * NCHW order (rows, then columns), so ties and NaNs resolve as there; the inner loop runs along
   * the channels, contiguous in both arrays.
   */
  private void forwardChannelsLast(float[] x, float[] y, int[] arg, int n, int h, int w, int oh,
      int ow) {
    int ch = in.channels();
    for (int i = 0; i < n; i++) {
      for (int yo = 0; yo < oh; yo++) {
        int h0 = yo * stride - padding;
        int hs = Math.max(h0, 0);
        int he = Math.min(h0 + kernel, h);
        for (int xo = 0; xo < ow; xo++) {
          int w0 = xo * stride - padding;
          int ws = Math.max(w0, 0);
          int we = Math.min(w0 + kernel, w);
          int o = ((i * oh + yo) * ow + xo) * ch;
          int first = ((i * h + hs) * w + ws) * ch;
          for (int c = 0; c < ch; c++) {
            y[o + c] = Float.NEGATIVE_INFINITY;
            arg[o + c] = first + c;
          }
          for (int yy = hs; yy < he; yy++) {
            for (int xx = ws; xx < we; xx++) {
              int r = ((i * h + yy) * w + xx) * ch;
              for (int c = 0; c < ch; c++) {
                float v = x[r + c];
                if (v > y[o + c] || Float.isNaN(v)) {
                  y[o + c] = v;
                  arg[o + c] = r + c;
                }
              }
            }
          }
        }
      }
    }
  }

  /**
   * The common 2x2/2 case, written as selects the JIT turns into conditional moves (the
   * comparisons are data-dependent and would be mispredicted as branches). The first of equal
   * maxima wins; a NaN propagates to the output.
   */
  private static void forward2x2(float[] x, float[] y, int[] arg, int planes, int h, int w,
      int oh, int ow) {
    int o = 0;
    for (int pl = 0; pl < planes; pl++) {
      int base = pl * h * w;
      for (int yo = 0; yo < oh; yo++) {
        int r = base + 2 * yo * w;
        for (int xo = 0; xo < ow; xo++, o++, r += 2) {
          float a = x[r];
          float b = x[r + 1];
          float c = x[r + w];
          float d = x[r + w + 1];
          float m1 = Math.max(a, b);
          float m2 = Math.max(c, d);
          int i1 = b > a ? r + 1 : r;
          int i2 = d > c ? r + w + 1 : r + w;
          arg[o] = m2 > m1 ? i2 : i1;
          y[o] = Math.max(m1, m2);
        }
      }
    }
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx == null) {
      return;
    }
    Arrays.fill(gx, 0, n * in.size(), 0f);
    int[] arg = ((Ctx) context).argmax();
    int total = n * out.size();
    for (int o = 0; o < total; o++) {
      gx[arg[o]] += gy[o];
    }
  }
}
