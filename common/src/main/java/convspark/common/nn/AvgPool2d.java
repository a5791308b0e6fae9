package convspark.common.nn;

import convspark.common.spec.Shape;
import java.util.Arrays;

/**
 * Average pooling without padding (floor mode). With the kernel equal to the input's height and
 * width it is global average pooling.
 */
public final class AvgPool2d extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final int kh;
  private final int kw;
  private final int stride;

  public AvgPool2d(Shape in, int kh, int kw, int stride) {
    super(in, in.window(in.channels(), kh, kw, stride, 0), 0, 0);
    this.kh = kh;
    this.kw = kw;
    this.stride = stride;
  }

  /**
   * Global pooling (the window is the whole input) has a channels-last path. A smaller window
   * with one output pixel (2x2 on a 3x3 input) averages only part of the input and has none.
   */
  @Override
  public boolean channelsLastCapable() {
    return kh == in.height() && kw == in.width();
  }

  private record Ctx(boolean channelsLast) implements Context {}

  private static final Ctx NCHW = new Ctx(false);
  private static final Ctx CHANNELS_LAST = new Ctx(true);

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    return channelsLast ? CHANNELS_LAST : NCHW;
  }

  private static boolean channelsLast(Context ctx) {
    return ctx instanceof Ctx c && c.channelsLast();
  }

  /** Global pooling of channels-last images: y[i][c] = the mean of pixel rows' channel c. */
  private void globalForward(float[] x, float[] y, int n) {
    int ch = in.channels();
    int hw = in.spatial();
    float scale = 1f / (kh * kw);
    for (int i = 0; i < n; i++) {
      int o = i * ch;
      java.util.Arrays.fill(y, o, o + ch, 0f);
      for (int r = i * hw * ch, end = r + hw * ch; r < end; r += ch) {
        for (int c = 0; c < ch; c++) {
          y[o + c] += x[r + c];
        }
      }
      for (int c = 0; c < ch; c++) {
        y[o + c] *= scale;
      }
    }
  }

  private void globalBackward(float[] gy, float[] gx, int n) {
    int ch = in.channels();
    int hw = in.spatial();
    float scale = 1f / (kh * kw);
    for (int i = 0; i < n; i++) {
      int o = i * ch;
      for (int r = i * hw * ch, end = r + hw * ch; r < end; r += ch) {
        for (int c = 0; c < ch; c++) {
          gx[r + c] = gy[o + c] * scale;
        }
      }
    }
  }



  @Override
  public void forward(Pass pass, Context ctx, float[] x, float[] y, int n) {
    if (channelsLast(ctx)) {
      globalForward(x, y, n);
      return;
    }
    int h = in.height();
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    float scale = 1f / (kh * kw);
    int planes = n * in.channels();
    int o = 0;
    for (int pl = 0; pl < planes; pl++) {
      int base = pl * h * w;
      for (int yo = 0; yo < oh; yo++) {
        for (int xo = 0; xo < ow; xo++, o++) {
          float s = 0;
          for (int yy = 0; yy < kh; yy++) {
            int r = base + (yo * stride + yy) * w + xo * stride;
            for (int xx = 0; xx < kw; xx++) {
              s += x[r + xx];
            }
          }
          y[o] = s * scale;
        }
      }
    }
  }

  @Override
  public void backward(Pass pass, Context ctx, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx == null) {
      return;
    }
    if (channelsLast(ctx)) {
      globalBackward(gy, gx, n);
      return;
    }
    int h = in.height();
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    float scale = 1f / (kh * kw);
    Arrays.fill(gx, 0, n * in.size(), 0f);
    int planes = n * in.channels();
    int o = 0;
    for (int pl = 0; pl < planes; pl++) {
      int base = pl * h * w;
      for (int yo = 0; yo < oh; yo++) {
        for (int xo = 0; xo < ow; xo++, o++) {
          float g = gy[o] * scale;
          for (int yy = 0; yy < kh; yy++) {
            int r = base + (yo * stride + yy) * w + xo * stride;
            for (int xx = 0; xx < kw; xx++) {
              gx[r + xx] += g;
            }
          }
        }
      }
    }
  }
}
