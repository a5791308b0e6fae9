package convspark.common.nn;

/**
 * Batch norm's loops over channels-last activations: {@code rows} pixel rows of {@code ch}
 * channels from element {@code off}, each channel's values {@code ch} apart. Whole vectors of
 * channels go to {@link VectorKernels} when the Vector API is present (one block of channels at a
 * time, down the rows, its per-channel constants held in registers); the remaining channels, or
 * all of them without the Vector API, run here. Every channel's values are combined in row
 * order either way, so both give the same bits.
 */
final class ChannelsLastKernels {
  private ChannelsLastKernels() {}

  /** The first channel this class handles (the ones below went to whole vectors). */
  private static int vectorChannels(int ch) {
    return Kernels.VECTOR_API ? VectorKernels.clVectorChannels(ch) : 0;
  }

  /** acc[c] += the sum of channel c over the rows. */
  static void sums(float[] x, int off, int rows, int ch, float[] acc) {
    int c0 = vectorChannels(ch);
    if (c0 > 0) {
      VectorKernels.clSums(x, off, rows, ch, c0, acc);
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c0; c < ch; c++) {
        acc[c] += x[r + c];
      }
    }
  }

  /**
   * A channels-last conv's bias gradient: for each of n images of {@code hw} pixel rows of
   * {@code ch} output gradients from image i0, the per-channel sums (in float per image, as the
   * NCHW path's per-plane sums) added into g[off + c]; {@code acc}: scratch of ch floats.
   */
  static void addBiasGradient(float[] gy, int i0, int n, int hw, int ch, float[] acc,
      float[] g, int off) {
    for (int i = i0; i < i0 + n; i++) {
      java.util.Arrays.fill(acc, 0, ch, 0f);
      sums(gy, i * hw * ch, hw, ch, acc);
      for (int c = 0; c < ch; c++) {
        g[off + c] += acc[c];
      }
    }
  }

  /** acc[c] += the sum of (x - mean[c])^2 over channel c's rows. */
  static void squaredDeviations(float[] x, int off, int rows, int ch, float[] mean,
      float[] acc) {
    int c0 = vectorChannels(ch);
    if (c0 > 0) {
      VectorKernels.clSquaredDeviations(x, off, rows, ch, c0, mean, acc);
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c0; c < ch; c++) {
        float d = x[r + c] - mean[c];
        acc[c] += d * d;
      }
    }
  }

  /**
   * y = gamma * ((x - mean) * inv) + beta per channel (then max(., 0) with {@code relu}); gamma
   * at p[po + c], beta at p[po + ch + c].
   */
  static void normalize(float[] x, float[] y, int off, int rows, int ch, float[] p, int po,
      float[] mean, float[] inv, boolean relu) {
    int c0 = vectorChannels(ch);
    if (c0 > 0) {
      VectorKernels.clNormalize(x, y, off, rows, ch, c0, p, po, mean, inv, relu);
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c0; c < ch; c++) {
        float v = p[po + c] * ((x[r + c] - mean[c]) * inv[c]) + p[po + ch + c];
        y[r + c] = relu ? Math.max(v, 0f) : v;
      }
    }
  }

  /**
   * acc[c] += the sum of dy and acc[ch + c] += the sum of dy * xhat over channel c, xhat = (x -
   * mean) * inv and dy = gy (with {@code relu}: gy where y > 0, else 0).
   */
  static void gradientSums(float[] x, float[] gy, float[] y, int off, int rows, int ch,
      float[] mean, float[] inv, boolean relu, float[] acc) {
    int c0 = vectorChannels(ch);
    if (c0 > 0) {
      VectorKernels.clGradientSums(x, gy, y, off, rows, ch, c0, mean, inv, relu, acc);
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c0; c < ch; c++) {
        float dy = relu && !(y[r + c] > 0) ? 0f : gy[r + c];
        acc[c] += dy;
        acc[ch + c] += dy * ((x[r + c] - mean[c]) * inv[c]);
      }
    }
  }

  /**
   * gx = k * (mm * dy - a - xhat * b) per channel when {@code trained}, else k * dy; dy as in
   * {@link #gradientSums}; k, a, b at coef[c], coef[ch + c], coef[2 ch + c].
   */
  static void inputGradient(float[] x, float[] gy, float[] y, float[] gx, int off, int rows,
      int ch, float[] mean, float[] inv, float[] coef, float mm, boolean relu, boolean trained) {
    int c0 = vectorChannels(ch);
    if (c0 > 0) {
      VectorKernels.clInputGradient(x, gy, y, gx, off, rows, ch, c0, mean, inv, coef, mm, relu,
          trained);
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c0; c < ch; c++) {
        float dy = relu && !(y[r + c] > 0) ? 0f : gy[r + c];
        float xhat = (x[r + c] - mean[c]) * inv[c];
        gx[r + c] = trained
            ? coef[c] * (mm * dy - coef[ch + c] - xhat * coef[2 * ch + c])
            : coef[c] * dy;
      }
    }
  }
}
