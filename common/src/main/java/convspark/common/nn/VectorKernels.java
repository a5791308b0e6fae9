package convspark.common.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The loops of {@link BatchNormPoolRelu} (and col2im's add, through {@link Kernels#addTo}; and
 * {@link FiniteCopy}'s checks) written with the Vector API ({@code jdk.incubator.vector}, which the launch scripts and
 * Surefire add with {@code --add-modules}). Callers check {@link Kernels#VECTOR_API} first
 * (without the module nothing is fused), so without it this class is never loaded.
 *
 * <p>Why the Vector API: a 2x2 max-pool with arg-max is four data-dependent selects per output.
 * C2 compiles a float select to a branch, mispredicted half the time on real activations; the
 * scalar fused kernel took ~14 ns per output. Lane-wise, the four inputs of each window come
 * from four gathers (an index map of window corners), the selects become blends, and outputs,
 * winners' offsets and raw inputs are stored contiguously.
 */
final class VectorKernels {
  private VectorKernels() {}

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

  /**
   * Whether the fused kernels should run: vectors of at least 8 floats (AVX2, AVX-512), where
   * JDK 17 compiles the gathers and the scatter to single instructions. Measured on AVX-512
   * only; with narrower vectors (SSE, NEON) they may fall back to slow, allocating Java code, so
   * such machines run the separate layers.
   */
  static boolean fusedKernelsPay() {
    return F.length() >= 8;
  }

  /** Sum of a[off .. off+len), lane-wise float partial sums combined in double. */
  static double sum(float[] a, int off, int len) {
    FloatVector s = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      s = s.add(FloatVector.fromArray(F, a, i));
    }
    double r = s.reduceLanes(VectorOperators.ADD);
    for (; i < end; i++) {
      r += a[i];
    }
    return r;
  }

  /** Sum of (a[i] - mean)^2 over [off, off+len). */
  static double sumSqDiff(float[] a, int off, int len, float mean) {
    FloatVector q = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      FloatVector d = FloatVector.fromArray(F, a, i).sub(mean);
      q = d.fma(d, q);
    }
    double r = q.reduceLanes(VectorOperators.ADD);
    for (; i < end; i++) {
      double d = a[i] - mean;
      r += d * d;
    }
    return r;
  }

  /**
   * Sum of b[i] and of ((a[i] - mean) * inv) * b[i] over [off, off+len), added into out[0] and
   * out[1] (batch norm's backward sums, see {@link Kernels#sumAndDotNormalized}).
   */
  static void sumAndDotNormalized(float[] a, float[] b, int off, int len, float mean, float inv,
      double[] out) {
    FloatVector s = FloatVector.zero(F);
    FloatVector q = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      FloatVector dy = FloatVector.fromArray(F, b, i);
      FloatVector xhat = FloatVector.fromArray(F, a, i).sub(mean).mul(inv);
      s = s.add(dy);
      q = xhat.fma(dy, q);
    }
    double ss = s.reduceLanes(VectorOperators.ADD);
    double qq = q.reduceLanes(VectorOperators.ADD);
    for (; i < end; i++) {
      ss += b[i];
      qq += (double) ((a[i] - mean) * inv) * b[i];
    }
    out[0] += ss;
    out[1] += qq;
  }

  /**
   * Batch norm's input gradient in training, gx = k * (mm * dy - a - xhat * bb) with xhat = (x -
   * mean) * inv, of dy = gy where y > 0, else 0 (behind a ReLU), over [off, off+len); the same
   * operations in the same order as {@link BatchNorm}'s scalar loop.
   */
  static void bnInputGradLive(float[] x, float[] gy, float[] y, float[] gx, int off, int len,
      float mean, float inv, float k, float mm, float a, float bb) {
    FloatVector zero = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      VectorMask<Float> live = FloatVector.fromArray(F, y, i).compare(VectorOperators.GT, 0f);
      FloatVector dy = zero.blend(FloatVector.fromArray(F, gy, i), live);
      FloatVector xhat = FloatVector.fromArray(F, x, i).sub(mean).mul(inv);
      dy.mul(mm).sub(a).sub(xhat.mul(bb)).mul(k).intoArray(gx, i);
    }
    for (; i < end; i++) {
      float dy = y[i] > 0 ? gy[i] : 0f;
      gx[i] = k * (mm * dy - a - ((x[i] - mean) * inv) * bb);
    }
  }

  /** gx = k * (gy where y > 0, else 0) over [off, off+len): evaluation-mode batch norm + ReLU. */
  static void scaleLive(float[] gy, float[] y, float[] gx, int off, int len, float k) {
    FloatVector zero = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      VectorMask<Float> live = FloatVector.fromArray(F, y, i).compare(VectorOperators.GT, 0f);
      zero.blend(FloatVector.fromArray(F, gy, i), live).mul(k).intoArray(gx, i);
    }
    for (; i < end; i++) {
      gx[i] = k * (y[i] > 0 ? gy[i] : 0f);
    }
  }

  /**
   * ReLU's backward over [0, len): gx = gy where x > 0, else 0, as a blend (a scalar select
   * compiles to a branch that real activations mispredict half the time).
   */
  static void reluBackward(float[] x, float[] gy, float[] gx, int len) {
    FloatVector zero = FloatVector.zero(F);
    int i = 0;
    for (int bound = F.loopBound(len); i < bound; i += F.length()) {
      VectorMask<Float> live = FloatVector.fromArray(F, x, i).compare(VectorOperators.GT, 0f);
      zero.blend(FloatVector.fromArray(F, gy, i), live).intoArray(gx, i);
    }
    for (; i < len; i++) {
      gx[i] = x[i] > 0 ? gy[i] : 0f;
    }
  }

  /*
   * The gathers live in small methods of their own: inside a large method the JIT may not inline
   * the Vector API's gather, which then runs its slow, allocating Java path.
   */

  /** dst[d + p] = src[s + map[p]] for p in [0, len), by vector gathers. */
  static void gather(float[] src, int s, int[] map, float[] dst, int d, int len) {
    int p = 0;
    for (int bound = F.loopBound(len); p < bound; p += F.length()) {
      FloatVector.fromArray(F, src, s, map, p).intoArray(dst, d + p);
    }
    for (; p < len; p++) {
      dst[d + p] = src[s + map[p]];
    }
  }

  /** dst[d + p] = src[s + map[p]] + b for p in [0, len), by vector gathers. */
  static void gatherPlus(float[] src, int s, int[] map, float[] dst, int d, int len, float b) {
    FloatVector vb = FloatVector.broadcast(F, b);
    int p = 0;
    for (int bound = F.loopBound(len); p < bound; p += F.length()) {
      FloatVector.fromArray(F, src, s, map, p).add(vb).intoArray(dst, d + p);
    }
    for (; p < len; p++) {
      dst[d + p] = src[s + map[p]] + b;
    }
  }

  /**
   * dst[d + j] = src[s + j * stride] for j in [0, len): a strided read (e.g. one pixel of every
   * channel of an NCHW image, stride H * W) written contiguously. {@code map} is {0, stride,
   * 2 stride, ..} over one vector's lanes.
   */
  static void gatherStrided(float[] src, int s, int stride, int[] map, float[] dst, int d,
      int len) {
    int lanes = F.length();
    int j = 0;
    for (int bound = F.loopBound(len); j < bound; j += lanes) {
      FloatVector.fromArray(F, src, s + j * stride, map, 0).intoArray(dst, d + j);
    }
    for (; j < len; j++) {
      dst[d + j] = src[s + j * stride];
    }
  }

  /** Floats per vector (the length of {@link #gatherStrided}'s lane maps). */
  static int lanes() {
    return F.length();
  }

  /** Channels [0, result) of a channels-last row go through whole vectors. */
  static int clVectorChannels(int ch) {
    return F.loopBound(ch);
  }

  /*
   * The channels-last loops: sums go down a tile of CL_TILE rows one block of channels at a time
   * (the accumulators stay in registers, the tile in L1), element-wise passes go row by row
   * across the blocks (the array is read once, in order). No vector is chosen by a condition
   * inside a loop: a vector merged from two branches can be boxed by the JIT, so each variant is
   * a loop of its own. Constant vectors (zero) are made inside the innermost loop: made before
   * nested loops, they live across the loops' safepoints and are boxed (the residual net's step
   * allocated 46 KB so).
   */
  private static final int CL_TILE = 32;

  /** {@link ChannelsLastKernels#sums} for channels [0, c1). */
  static void clSums(float[] x, int off, int rows, int ch, int c1, float[] acc) {
    for (int t = 0; t < rows; t += CL_TILE) {
      int end = off + Math.min(rows, t + CL_TILE) * ch;
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector s = FloatVector.fromArray(F, acc, c);
        for (int r = off + t * ch + c; r < end; r += ch) {
          s = s.add(FloatVector.fromArray(F, x, r));
        }
        s.intoArray(acc, c);
      }
    }
  }

  /** {@link ChannelsLastKernels#squaredDeviations} for channels [0, c1). */
  static void clSquaredDeviations(float[] x, int off, int rows, int ch, int c1, float[] mean,
      float[] acc) {
    for (int t = 0; t < rows; t += CL_TILE) {
      int end = off + Math.min(rows, t + CL_TILE) * ch;
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector mu = FloatVector.fromArray(F, mean, c);
        FloatVector s = FloatVector.fromArray(F, acc, c);
        for (int r = off + t * ch + c; r < end; r += ch) {
          FloatVector d = FloatVector.fromArray(F, x, r).sub(mu);
          s = s.add(d.mul(d));
        }
        s.intoArray(acc, c);
      }
    }
  }

  /** {@link ChannelsLastKernels#normalize} for channels [0, c1). */
  static void clNormalize(float[] x, float[] y, int off, int rows, int ch, int c1, float[] p,
      int po, float[] mean, float[] inv, boolean relu) {
    if (relu) {
      clNormalizeRelu(x, y, off, rows, ch, c1, p, po, mean, inv);
      return;
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector g = FloatVector.fromArray(F, p, po + c);
        FloatVector b = FloatVector.fromArray(F, p, po + ch + c);
        FloatVector mu = FloatVector.fromArray(F, mean, c);
        FloatVector iv = FloatVector.fromArray(F, inv, c);
        g.mul(FloatVector.fromArray(F, x, r + c).sub(mu).mul(iv)).add(b).intoArray(y, r + c);
      }
    }
  }

  private static void clNormalizeRelu(float[] x, float[] y, int off, int rows, int ch, int c1,
      float[] p, int po, float[] mean, float[] inv) {
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector g = FloatVector.fromArray(F, p, po + c);
        FloatVector b = FloatVector.fromArray(F, p, po + ch + c);
        FloatVector mu = FloatVector.fromArray(F, mean, c);
        FloatVector iv = FloatVector.fromArray(F, inv, c);
        g.mul(FloatVector.fromArray(F, x, r + c).sub(mu).mul(iv)).add(b).max(FloatVector.zero(F))
            .intoArray(y, r + c);
      }
    }
  }

  /** {@link ChannelsLastKernels#gradientSums} for channels [0, c1). */
  static void clGradientSums(float[] x, float[] gy, float[] y, int off, int rows, int ch,
      int c1, float[] mean, float[] inv, boolean relu, float[] acc) {
    for (int t = 0; t < rows; t += CL_TILE) {
      int end = off + Math.min(rows, t + CL_TILE) * ch;
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector mu = FloatVector.fromArray(F, mean, c);
        FloatVector iv = FloatVector.fromArray(F, inv, c);
        FloatVector s = FloatVector.fromArray(F, acc, c);
        FloatVector q = FloatVector.fromArray(F, acc, ch + c);
        if (relu) {
          for (int r = off + t * ch + c; r < end; r += ch) {
            FloatVector dy = FloatVector.zero(F).blend(FloatVector.fromArray(F, gy, r),
                FloatVector.fromArray(F, y, r).compare(VectorOperators.GT, 0f));
            s = s.add(dy);
            q = q.add(dy.mul(FloatVector.fromArray(F, x, r).sub(mu).mul(iv)));
          }
        } else {
          for (int r = off + t * ch + c; r < end; r += ch) {
            FloatVector dy = FloatVector.fromArray(F, gy, r);
            s = s.add(dy);
            q = q.add(dy.mul(FloatVector.fromArray(F, x, r).sub(mu).mul(iv)));
          }
        }
        s.intoArray(acc, c);
        q.intoArray(acc, ch + c);
      }
    }
  }

  /** {@link ChannelsLastKernels#inputGradient} for channels [0, c1). */
  static void clInputGradient(float[] x, float[] gy, float[] y, float[] gx, int off, int rows,
      int ch, int c1, float[] mean, float[] inv, float[] coef, float mm, boolean relu,
      boolean trained) {
    if (!trained) {
      clScaledGradient(gy, y, gx, off, rows, ch, c1, coef, relu);
      return;
    }
    if (relu) {
      clInputGradientRelu(x, gy, y, gx, off, rows, ch, c1, mean, inv, coef, mm);
      return;
    }
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector dy = FloatVector.fromArray(F, gy, r + c);
        FloatVector xhat = FloatVector.fromArray(F, x, r + c)
            .sub(FloatVector.fromArray(F, mean, c)).mul(FloatVector.fromArray(F, inv, c));
        FloatVector.fromArray(F, coef, c).mul(dy.mul(mm)
            .sub(FloatVector.fromArray(F, coef, ch + c))
            .sub(xhat.mul(FloatVector.fromArray(F, coef, 2 * ch + c)))).intoArray(gx, r + c);
      }
    }
  }

  private static void clInputGradientRelu(float[] x, float[] gy, float[] y, float[] gx,
      int off, int rows, int ch, int c1, float[] mean, float[] inv, float[] coef, float mm) {
    for (int r = off, end = off + rows * ch; r < end; r += ch) {
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector dy = FloatVector.zero(F).blend(FloatVector.fromArray(F, gy, r + c),
            FloatVector.fromArray(F, y, r + c).compare(VectorOperators.GT, 0f));
        FloatVector xhat = FloatVector.fromArray(F, x, r + c)
            .sub(FloatVector.fromArray(F, mean, c)).mul(FloatVector.fromArray(F, inv, c));
        FloatVector.fromArray(F, coef, c).mul(dy.mul(mm)
            .sub(FloatVector.fromArray(F, coef, ch + c))
            .sub(xhat.mul(FloatVector.fromArray(F, coef, 2 * ch + c)))).intoArray(gx, r + c);
      }
    }
  }

  /** Evaluation-mode batch norm's input gradient, k * dy (dy masked by y > 0 with relu). */
  private static void clScaledGradient(float[] gy, float[] y, float[] gx, int off, int rows,
      int ch, int c1, float[] coef, boolean relu) {
    int end = off + rows * ch;
    if (relu) {
      for (int r = off; r < end; r += ch) {
        for (int c = 0; c < c1; c += F.length()) {
          FloatVector dy = FloatVector.zero(F).blend(FloatVector.fromArray(F, gy, r + c),
              FloatVector.fromArray(F, y, r + c).compare(VectorOperators.GT, 0f));
          FloatVector.fromArray(F, coef, c).mul(dy).intoArray(gx, r + c);
        }
      }
      return;
    }
    for (int r = off; r < end; r += ch) {
      for (int c = 0; c < c1; c += F.length()) {
        FloatVector.fromArray(F, coef, c).mul(FloatVector.fromArray(F, gy, r + c))
            .intoArray(gx, r + c);
      }
    }
  }

  /** dst[d + j] += src[s + j] for j in [0, len). */
  static void addTo(float[] src, int s, float[] dst, int d, int len) {
    int j = 0;
    for (int bound = F.loopBound(len); j < bound; j += F.length()) {
      FloatVector.fromArray(F, dst, d + j).add(FloatVector.fromArray(F, src, s + j))
          .intoArray(dst, d + j);
    }
    for (; j < len; j++) {
      dst[d + j] += src[s + j];
    }
  }

  /**
   * Adds the sum of d = a[i] - shift and of d^2 over a[off, off+len) into out[at] and
   * out[at + 1].
   */
  static void sumAndSquaresAbout(float[] a, int off, int len, float shift, double[] out,
      int at) {
    FloatVector s = FloatVector.zero(F);
    FloatVector q = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      FloatVector d = FloatVector.fromArray(F, a, i).sub(shift);
      s = s.add(d);
      q = d.fma(d, q);
    }
    double ss = s.reduceLanes(VectorOperators.ADD);
    double qq = q.reduceLanes(VectorOperators.ADD);
    for (; i < end; i++) {
      double d = a[i] - shift;
      ss += d;
      qq += d * d;
    }
    out[at] += ss;
    out[at + 1] += qq;
  }

  /**
   * Batch norm (y = gamma * ((x - mean) * inv) + beta), 2x2/2 max-pool and ReLU over one plane
   * starting at {@code base}, writing from {@code o}: the outputs, the winner's offset in the
   * plane (as a float) and the winner's raw input. {@code corner[j]} (also as float in {@code
   * cornerF}) is the offset of output j's window's top-left input in the plane; {@code w} the
   * plane's width. The first of equal maxima wins, as in {@link MaxPool2d}; values as Math.max
   * (a NaN propagates).
   */
  static void normPoolRelu(float[] x, int base, int w, int[] corner, float[] cornerF, int count,
      float[] y, float[] pos, float[] win, int o, float gamma, float mean, float inv, float beta) {
    FloatVector zero = FloatVector.zero(F);
    FloatVector one = FloatVector.broadcast(F, 1f);
    FloatVector below = FloatVector.broadcast(F, w);
    FloatVector belowRight = FloatVector.broadcast(F, w + 1);
    int j = 0;
    for (int bound = F.loopBound(count); j < bound; j += F.length()) {
      FloatVector xa = FloatVector.fromArray(F, x, base, corner, j);
      FloatVector xb = FloatVector.fromArray(F, x, base + 1, corner, j);
      FloatVector xc = FloatVector.fromArray(F, x, base + w, corner, j);
      FloatVector xd = FloatVector.fromArray(F, x, base + w + 1, corner, j);
      FloatVector a = xa.sub(mean).mul(inv).mul(gamma).add(beta);
      FloatVector b = xb.sub(mean).mul(inv).mul(gamma).add(beta);
      FloatVector c = xc.sub(mean).mul(inv).mul(gamma).add(beta);
      FloatVector d = xd.sub(mean).mul(inv).mul(gamma).add(beta);
      FloatVector m1 = a.max(b);
      FloatVector m2 = c.max(d);
      VectorMask<Float> top = b.compare(VectorOperators.GT, a);
      VectorMask<Float> bottom = d.compare(VectorOperators.GT, c);
      VectorMask<Float> second = m2.compare(VectorOperators.GT, m1);
      m1.max(m2).max(zero).intoArray(y, o + j);
      xa.blend(xb, top).blend(xc.blend(xd, bottom), second).intoArray(win, o + j);
      // offsets below 2^24 are exact in float (a lane-wise float-to-int conversion is not
      // compiled to one instruction by JDK 17: scatterWinners converts them)
      zero.blend(one, top).blend(below.blend(belowRight, bottom), second)
          .add(FloatVector.fromArray(F, cornerF, j)).intoArray(pos, o + j);
    }
    for (; j < count; j++) {
      int r = corner[j];
      float a = gamma * ((x[base + r] - mean) * inv) + beta;
      float b = gamma * ((x[base + r + 1] - mean) * inv) + beta;
      float c = gamma * ((x[base + r + w] - mean) * inv) + beta;
      float d = gamma * ((x[base + r + w + 1] - mean) * inv) + beta;
      float m1 = Math.max(a, b);
      float m2 = Math.max(c, d);
      int i1 = b > a ? r + 1 : r;
      int i2 = d > c ? r + w + 1 : r + w;
      int k = m2 > m1 ? i2 : i1;
      y[o + j] = Math.max(Math.max(m1, m2), 0f);
      win[o + j] = x[base + k];
      pos[o + j] = k;
    }
  }

  /**
   * The input gradient at the winners of one plane's outputs [o, o+count) ({@code at}: scratch
   * of count ints for their offsets): with dy = gy where
   * ReLU let the winner through (y > 0), else 0, gx[base + pos] = k * (m * dy - a - ((win -
   * mean) * inv) * b). Written for every output, dead ones too, so no branch depends on data.
   */
  static void scatterWinners(float[] gx, int base, float[] pos, int[] at, float[] win,
      float[] gy, float[] y, int o, int count, float k, float m, float a, float b, float mean,
      float inv) {
    for (int j = 0; j < count; j++) {
      at[j] = (int) pos[o + j]; // vectorised by C2
    }
    FloatVector zero = FloatVector.zero(F);
    float na = -a;
    int j = 0;
    for (int bound = F.loopBound(count); j < bound; j += F.length()) {
      VectorMask<Float> live = FloatVector.fromArray(F, y, o + j).compare(VectorOperators.GT, 0f);
      FloatVector dy = zero.blend(FloatVector.fromArray(F, gy, o + j), live);
      FloatVector t = FloatVector.fromArray(F, win, o + j).sub(mean).mul(inv).mul(b);
      // k * ((m * dy - a) - t), as BatchNorm's expression
      dy.mul(m).add(na).sub(t).mul(k).intoArray(gx, base, at, j);
    }
    for (; j < count; j++) {
      float dy = y[o + j] > 0 ? gy[o + j] : 0f;
      gx[base + at[j]] = k * (m * dy - a - ((win[o + j] - mean) * inv) * b);
    }
  }

  /**
   * Over pooled outputs [off, off+len): g = gy where y > 0 (ReLU let the winner through) else 0;
   * adds sum(g) into out[at] and sum(((win - mean) * inv) * g) into out[at + 1].
   */
  static void liveSums(float[] win, float[] gy, float[] y, int off, int len, float mean,
      float inv, double[] out, int at) {
    FloatVector s = FloatVector.zero(F);
    FloatVector q = FloatVector.zero(F);
    FloatVector zero = FloatVector.zero(F);
    int i = off;
    int end = off + len;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      VectorMask<Float> live = FloatVector.fromArray(F, y, i).compare(VectorOperators.GT, 0f);
      FloatVector g = zero.blend(FloatVector.fromArray(F, gy, i), live);
      FloatVector xhat = FloatVector.fromArray(F, win, i).sub(mean).mul(inv);
      s = s.add(g);
      q = xhat.fma(g, q);
    }
    double ss = s.reduceLanes(VectorOperators.ADD);
    double qq = q.reduceLanes(VectorOperators.ADD);
    for (; i < end; i++) {
      float g = y[i] > 0 ? gy[i] : 0f;
      ss += g;
      qq += (double) ((win[i] - mean) * inv) * g;
    }
    out[at] += ss;
    out[at + 1] += qq;
  }

  /** gx[off, off+len) = k * (-a - ((x - mean) * inv) * b): batch norm's dx where dy = 0. */
  static void zeroDyGrad(float[] x, float[] gx, int off, int len, float k, float a, float b,
      float mean, float inv) {
    int i = off;
    int end = off + len;
    float na = -a;
    for (int bound = off + F.loopBound(len); i < bound; i += F.length()) {
      FloatVector xhat = FloatVector.fromArray(F, x, i).sub(mean).mul(inv);
      xhat.mul(b).neg().add(na).mul(k).intoArray(gx, i);
    }
    for (; i < end; i++) {
      gx[i] = k * (-a - ((x[i] - mean) * inv) * b);
    }
  }

  /** {@link FiniteCopy#allFinite}: each lane adds x * 0 (NaN for an infinite or NaN x). */
  static boolean allFinite(float[] a) {
    FloatVector acc = FloatVector.zero(F);
    int i = 0;
    for (int up = F.loopBound(a.length); i < up; i += F.length()) {
      acc = acc.add(FloatVector.fromArray(F, a, i).mul(0f));
    }
    float tail = 0f;
    for (; i < a.length; i++) {
      tail += a[i] * 0f;
    }
    return !Float.isNaN(acc.reduceLanes(VectorOperators.ADD) + tail);
  }

  /** {@link FiniteCopy#move}: the copy, the clear and the check in one pass. */
  static boolean moveFinite(float[] from, float[] to, int n) {
    FloatVector acc = FloatVector.zero(F);
    FloatVector zero = FloatVector.zero(F);
    int i = 0;
    for (int up = F.loopBound(n); i < up; i += F.length()) {
      FloatVector x = FloatVector.fromArray(F, from, i);
      x.intoArray(to, i);
      zero.intoArray(from, i);
      acc = acc.add(x.mul(0f));
    }
    float tail = 0f;
    for (; i < n; i++) {
      float x = from[i];
      to[i] = x;
      from[i] = 0f;
      tail += x * 0f;
    }
    return !Float.isNaN(acc.reduceLanes(VectorOperators.ADD) + tail);
  }
}
