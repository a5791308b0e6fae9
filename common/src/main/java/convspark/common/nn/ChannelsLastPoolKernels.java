package convspark.common.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The loops of {@link BatchNormPoolRelu} on channels-last activations: one image's pixel rows of
 * {@code ch} channels, whole vectors of channels at a time (a scalar loop takes the channels past
 * the last whole vector). Like {@link VectorKernels}, loaded only when the Vector API is present.
 *
 * <p>Why channels-last pools better than NCHW: a 2x2 window's four inputs are four contiguous
 * vectors of channels, so no gathers; and since every input pixel lies in at most one window,
 * backward writes each input gradient once, choosing by the winner's tap (0 top-left, 1
 * top-right, 2 bottom-left, 3 bottom-right) with blends instead of scattering to the winners.
 * Each value's arithmetic is the NCHW kernels' (same expressions, same order); only the order in
 * which the statistics are summed differs.
 */
final class ChannelsLastPoolKernels {
  private ChannelsLastPoolKernels() {}

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

  /** Rows a statistics tile spans (the accumulators stay in registers, the tile in L1). */
  private static final int TILE = 32;

  /**
   * acc[c] += the sum of d = x - shift[c] and acc[ch + c] += the sum of d^2 over channel c of
   * {@code rows} pixel rows from {@code off}.
   */
  static void sumsAbout(float[] x, int off, int rows, int ch, float[] shift, float[] acc) {
    int c1 = F.loopBound(ch);
    for (int t = 0; t < rows; t += TILE) {
      int end = off + Math.min(rows, t + TILE) * ch;
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector sh = FloatVector.fromArray(F, shift, c);
        FloatVector s = FloatVector.fromArray(F, acc, c);
        FloatVector q = FloatVector.fromArray(F, acc, ch + c);
        for (int r = off + t * ch + c; r < end; r += ch) {
          FloatVector d = FloatVector.fromArray(F, x, r).sub(sh);
          s = s.add(d);
          q = d.fma(d, q);
        }
        s.intoArray(acc, c);
        q.intoArray(acc, ch + c);
      }
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c1; c < ch; c++) {
        float d = x[r + c] - shift[c];
        acc[c] += d;
        acc[ch + c] += d * d;
      }
    }
  }

  /**
   * Batch norm (y = gamma * ((x - mean) * inv) + beta; gamma at p[po + c], beta at p[po + ch +
   * c]), 2x2/2 max-pool and ReLU of one image whose pixel rows start at {@code xOff} (width
   * {@code w}), writing its oh x ow output rows from {@code o}: the outputs, each output's
   * winning tap (as a float) and the winner's raw input. The first of equal maxima wins, as in
   * {@link MaxPool2d}.
   */
  static void normPoolRelu(float[] x, int xOff, int w, int ch, int oh, int ow, float[] p, int po,
      float[] mean, float[] inv, float[] y, float[] tap, float[] win, int o) {
    int c1 = F.loopBound(ch);
    int below = w * ch;
    for (int oy = 0; oy < oh; oy++) {
      for (int ox = 0; ox < ow; ox++, o += ch) {
        int r = xOff + (2 * oy * w + 2 * ox) * ch;
        for (int c = 0; c < c1; c += F.length()) {
          // constants made here, not before the loops: live across the loops' safepoints,
          // vectors are boxed (the step allocated 30 KB)
          FloatVector zero = FloatVector.zero(F);
          FloatVector one = FloatVector.broadcast(F, 1f);
          FloatVector two = FloatVector.broadcast(F, 2f);
          FloatVector three = FloatVector.broadcast(F, 3f);
          FloatVector g = FloatVector.fromArray(F, p, po + c);
          FloatVector be = FloatVector.fromArray(F, p, po + ch + c);
          FloatVector mu = FloatVector.fromArray(F, mean, c);
          FloatVector iv = FloatVector.fromArray(F, inv, c);
          FloatVector xa = FloatVector.fromArray(F, x, r + c);
          FloatVector xb = FloatVector.fromArray(F, x, r + ch + c);
          FloatVector xc = FloatVector.fromArray(F, x, r + below + c);
          FloatVector xd = FloatVector.fromArray(F, x, r + below + ch + c);
          FloatVector a = xa.sub(mu).mul(iv).mul(g).add(be);
          FloatVector b = xb.sub(mu).mul(iv).mul(g).add(be);
          FloatVector cc = xc.sub(mu).mul(iv).mul(g).add(be);
          FloatVector d = xd.sub(mu).mul(iv).mul(g).add(be);
          FloatVector m1 = a.max(b);
          FloatVector m2 = cc.max(d);
          VectorMask<Float> top = b.compare(VectorOperators.GT, a);
          VectorMask<Float> bottom = d.compare(VectorOperators.GT, cc);
          VectorMask<Float> second = m2.compare(VectorOperators.GT, m1);
          m1.max(m2).max(zero).intoArray(y, o + c);
          xa.blend(xb, top).blend(xc.blend(xd, bottom), second).intoArray(win, o + c);
          zero.blend(one, top).blend(two.blend(three, bottom), second).intoArray(tap, o + c);
        }
        for (int c = c1; c < ch; c++) {
          float gamma = p[po + c];
          float beta = p[po + ch + c];
          float a = gamma * ((x[r + c] - mean[c]) * inv[c]) + beta;
          float b = gamma * ((x[r + ch + c] - mean[c]) * inv[c]) + beta;
          float cc = gamma * ((x[r + below + c] - mean[c]) * inv[c]) + beta;
          float d = gamma * ((x[r + below + ch + c] - mean[c]) * inv[c]) + beta;
          float m1 = Math.max(a, b);
          float m2 = Math.max(cc, d);
          int t1 = b > a ? 1 : 0;
          int t2 = d > cc ? 3 : 2;
          int t = m2 > m1 ? t2 : t1;
          y[o + c] = Math.max(Math.max(m1, m2), 0f);
          win[o + c] = x[r + (t >> 1) * below + (t & 1) * ch + c];
          tap[o + c] = t;
        }
      }
    }
  }

  /**
   * Over {@code rows} pooled output rows from {@code off}: dy = gy where y > 0 (ReLU let the
   * winner through) else 0; acc[c] += the sum of dy and acc[ch + c] += the sum of ((win - mean)
   * * inv) * dy over channel c.
   */
  static void liveSums(float[] win, float[] gy, float[] y, int off, int rows, int ch,
      float[] mean, float[] inv, float[] acc) {
    int c1 = F.loopBound(ch);
    for (int t = 0; t < rows; t += TILE) {
      int end = off + Math.min(rows, t + TILE) * ch;
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector mu = FloatVector.fromArray(F, mean, c);
        FloatVector iv = FloatVector.fromArray(F, inv, c);
        FloatVector s = FloatVector.fromArray(F, acc, c);
        FloatVector q = FloatVector.fromArray(F, acc, ch + c);
        for (int r = off + t * ch + c; r < end; r += ch) {
          VectorMask<Float> live = FloatVector.fromArray(F, y, r)
              .compare(VectorOperators.GT, 0f);
          FloatVector dy = FloatVector.zero(F).blend(FloatVector.fromArray(F, gy, r), live);
          s = s.add(dy);
          q = FloatVector.fromArray(F, win, r).sub(mu).mul(iv).fma(dy, q);
        }
        s.intoArray(acc, c);
        q.intoArray(acc, ch + c);
      }
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = c1; c < ch; c++) {
        float dy = y[r + c] > 0 ? gy[r + c] : 0f;
        acc[c] += dy;
        acc[ch + c] += ((win[r + c] - mean[c]) * inv[c]) * dy;
      }
    }
  }

  /**
   * Training: the input gradient of one image (pixel rows from {@code xOff}, width w, height h)
   * whose oh x ow pooled outputs start at {@code o}. With per-channel coefficients k, a, b
   * ({@code coef}: rows [0, ch), [ch, 2 ch), [2 ch, 3 ch)), xhat = (x - mean) * inv and dy = gy
   * where ReLU let the winner through else 0: k * ((m * dy - a) - xhat * b) at each window's
   * winner, k * (-(xhat * b) - a) everywhere else (batch norm's dx where dy = 0), pixels outside
   * every window (the last row or column of an odd plane) included.
   */
  static void poolInputGradient(float[] x, int xOff, int w, int h, int ch, int oh, int ow,
      float[] tap, float[] gy, float[] y, int o, float[] coef, float m, float[] mean,
      float[] inv, float[] gx) {
    int c1 = F.loopBound(ch);
    int below = w * ch;
    for (int oy = 0; oy < oh; oy++) {
      for (int ox = 0; ox < ow; ox++, o += ch) {
        int r = xOff + (2 * oy * w + 2 * ox) * ch;
        for (int c = 0; c < c1; c += F.length()) {
          FloatVector zero = FloatVector.zero(F);
          FloatVector k = FloatVector.fromArray(F, coef, c);
          FloatVector na = FloatVector.fromArray(F, coef, ch + c).neg();
          FloatVector b = FloatVector.fromArray(F, coef, 2 * ch + c);
          FloatVector mu = FloatVector.fromArray(F, mean, c);
          FloatVector iv = FloatVector.fromArray(F, inv, c);
          VectorMask<Float> live = FloatVector.fromArray(F, y, o + c)
              .compare(VectorOperators.GT, 0f);
          FloatVector dya = zero.blend(FloatVector.fromArray(F, gy, o + c), live).mul(m).add(na);
          FloatVector t = FloatVector.fromArray(F, tap, o + c);
          // the four taps in a loop of their own (a method taking vectors as arguments was not
          // inlined here, and its vectors were boxed)
          for (int q = 0; q < 4; q++) {
            int at = r + (q >> 1) * below + (q & 1) * ch + c;
            FloatVector xb = FloatVector.fromArray(F, x, at).sub(mu).mul(iv).mul(b);
            xb.neg().add(na).mul(k).blend(dya.sub(xb).mul(k),
                t.compare(VectorOperators.EQ, (float) q)).intoArray(gx, at);
          }
        }
        for (int c = c1; c < ch; c++) {
          float dya = m * (y[o + c] > 0 ? gy[o + c] : 0f) - coef[ch + c];
          int winner = (int) tap[o + c];
          for (int q = 0; q < 4; q++) {
            int at = r + (q >> 1) * below + (q & 1) * ch + c;
            float xb = ((x[at] - mean[c]) * inv[c]) * coef[2 * ch + c];
            gx[at] = coef[c] * (q == winner ? dya - xb : -xb - coef[ch + c]);
          }
        }
      }
    }
    // pixels in no window: the last column of an odd width, the last row of an odd height
    if (w > 2 * ow) {
      for (int yy = 0; yy < 2 * oh; yy++) {
        zeroDyGradient(x, gx, xOff + (yy * w + w - 1) * ch, 1, ch, coef, mean, inv);
      }
    }
    if (h > 2 * oh) {
      zeroDyGradient(x, gx, xOff + (h - 1) * below, w, ch, coef, mean, inv);
    }
  }

  /** gx = k * (-(xhat * b) - a) over {@code rows} pixel rows from off (see above). */
  private static void zeroDyGradient(float[] x, float[] gx, int off, int rows, int ch,
      float[] coef, float[] mean, float[] inv) {
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = 0; c < ch; c++) {
        gx[r + c] = coef[c] * (-(((x[r + c] - mean[c]) * inv[c]) * coef[2 * ch + c])
            - coef[ch + c]);
      }
    }
  }

  /**
   * Evaluation: the input gradient of one image as {@link #poolInputGradient} with batch norm's
   * running statistics, k * dy at each window's winner and 0 elsewhere (k at coef[c]).
   */
  static void poolInputGradientEval(int xOff, int w, int h, int ch, int oh, int ow, float[] tap,
      float[] gy, float[] y, int o, float[] coef, float[] gx) {
    java.util.Arrays.fill(gx, xOff, xOff + h * w * ch, 0f);
    int below = w * ch;
    for (int oy = 0; oy < oh; oy++) {
      for (int ox = 0; ox < ow; ox++, o += ch) {
        int r = xOff + (2 * oy * w + 2 * ox) * ch;
        for (int c = 0; c < ch; c++) {
          int q = (int) tap[o + c];
          gx[r + (q >> 1) * below + (q & 1) * ch + c] = y[o + c] > 0 ? coef[c] * gy[o + c] : 0f;
        }
      }
    }
  }
}
