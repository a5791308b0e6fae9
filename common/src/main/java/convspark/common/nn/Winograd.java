package convspark.common.nn;

import convspark.common.blas.Blas;
import convspark.common.spec.Shape;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * 3x3 convolution with stride 1 and padding 1 by Winograd's minimal filtering F(2x2, 3x3)
 * (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016), for the batched
 * strategy of {@link Conv2d}: each 2x2 output tile is A^T [U (.) V] A, where V = B^T d B is the
 * transform of the tile's 4x4 input patch d and U = G g G^T that of the 3x3 filter g. Summed over
 * input channels, the 16 element-wise products become 16 GEMMs, M[xi] = V[xi] (tiles x C) times
 * U[xi]^T (C x OC), so a 3x3 conv costs 16 multiply-adds per 2x2 output and channel pair instead
 * of 36 (2.25x fewer), plus the transforms, which are additions.
 *
 * <p>Backward is the exact adjoint of that linear map: dM = A dY A^T per tile; the weight
 * gradient is dU[xi] = sum over the batch of dM[xi]^T V[xi], folded back once by G^T dU G; the
 * input gradient is dV[xi] = dM[xi] U[xi], spread back by B dV B^T into the overlapping 4x4
 * patches. So the gradients are those of the forward pass actually computed (finite differences
 * hold), and agree with im2col's to float rounding (F(2x2, 3x3) is the variant whose error stays
 * at float32 level).
 *
 * <p>Layout: channels last. An image is copied once into a zero-bordered [H+2.., W+2.., C]
 * buffer, so each of a tile's 16 patch values is a contiguous vector of channels and every
 * transform is a handful of vector additions per tile (written with the Vector API; a planar
 * layout, with rows of 7 to 14 tiles, ran the transforms at about 20 ns per tile and channel and
 * lost to im2col). A group of cn images has N = cn * tiles rows (tile (ty, tx) of image i is row
 * i * tiles + ty * tilesW + tx): V is [16][N][C'], M [16][N][OC'], U and dU [16][OC][C], xi = 4 r
 * + q for row r, column q of a tile's 4x4 matrix, C' and OC' the channel counts rounded up to a
 * whole vector (the extra lanes are zero or ignored). Outputs go through a [H, W, OC'] buffer to
 * NCHW, output gradients the other way. The forward pass's first group computes U, and backward
 * uses it (weights do not change between a forward pass and its backward). Chosen by {@link
 * Conv2d} for 3x3/1/1 convs of its batched strategy when the Vector API is present, unless
 * {@code -Dconvspark.conv.winograd=false}.
 */
final class Winograd {
  private Winograd() {}

  /** {@code -Dconvspark.conv.winograd=false} keeps 3x3 convs on im2col (for A/B benchmarks). */
  static final String PROPERTY = "convspark.conv.winograd";

  /**
   * Rows (tiles) a group of images aims at, {@code -Dconvspark.conv.winogradRows} (default 392,
   * read when a workspace is built): narrower groups make narrow GEMMs, wider ones outgrow the
   * caches.
   */
  static final String ROWS_PROPERTY = "convspark.conv.winogradRows";

  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

  /** Whether a conv of this geometry runs here (read when a workspace is built). */
  static boolean applies(int kernel, int stride, int padding) {
    return kernel == 3 && stride == 1 && padding == 1 && Kernels.VECTOR_API
        && !"false".equalsIgnoreCase(System.getProperty(PROPERTY));
  }

  /** Buffers of one workspace: for groups of up to {@code chunk} images. */
  static final class Ctx implements Layer.Context {
    final int chunk;
    final int tilesH;
    final int tilesW;
    /** Bordered columns: one before, and after enough to complete the last tile (rows alike). */
    final int padW;
    /** Channels rounded up to whole vectors. */
    final int cp;
    final int ocp;
    final float[] u;
    final float[] du;
    final float[] v;
    final float[] m;
    /** A bordered input image, channels last (only its interior is ever written). */
    final float[] in;
    /** A bordered input-gradient image, channels last, zeroed per image. */
    final float[] gradIn;
    /** One image's outputs or output gradients, [2 tilesH][2 tilesW][OC'], channels last. */
    final float[] out;
    final float[] scratch = new float[12];
    /**
     * Whether an output gradient fills all of {@link #out} (whole vectors of output channels, an
     * even output plane), so that backward need not zero it first.
     */
    final boolean gradCovers;
    /** Whether layout changes use vector gathers ({@link Conv2d#GATHER_PROPERTY}). */
    final boolean gather;
    /** Whether the layer's activations are channels-last: rows of C values copied as they are. */
    final boolean channelsLast;
    /** Channels-last bias gradient: one image's per-channel sums. */
    final float[] biasAcc;
    /** Lane k: k * H * W, the k-th next channel's pixel in an NCHW image (input and output). */
    final int[] channelMap;
    /** Output pixel p = y * W + x: its offset (y * 2 tilesW + x) * OC' in {@link #out}. */
    final int[] outMap;
    /** Input pixel p = y * W + x: its offset ((y + 1) * padW + x + 1) * C' in {@link #gradIn}. */
    final int[] inMap;

    Ctx(Shape in, Shape out, int maxBatch) {
      this(in, out, maxBatch, false);
    }

    Ctx(Shape in, Shape out, int maxBatch, boolean channelsLast) {
      this.channelsLast = channelsLast;
      biasAcc = channelsLast ? new float[out.channels()] : null;
      tilesH = (out.height() + 1) / 2;
      tilesW = (out.width() + 1) / 2;
      int padH = 2 * tilesH + 2;
      padW = 2 * tilesW + 2;
      int lanes = F.length();
      cp = (in.channels() + lanes - 1) / lanes * lanes;
      ocp = (out.channels() + lanes - 1) / lanes * lanes;
      int tiles = tilesH * tilesW;
      int target = Integer.getInteger(ROWS_PROPERTY, 392);
      chunk = Math.max(1, Math.min(maxBatch, (target + tiles - 1) / tiles));
      u = new float[16 * out.channels() * in.channels()];
      du = new float[u.length];
      v = new float[16 * chunk * tiles * cp];
      m = new float[16 * chunk * tiles * ocp];
      this.in = new float[padH * padW * cp];
      gradIn = new float[padH * padW * cp];
      this.out = new float[4 * tiles * ocp];
      gather = Conv2d.gathers();
      gradCovers = ocp == out.channels() && 2 * tilesH == out.height()
          && 2 * tilesW == out.width();
      // stride 1, padding 1: the output plane is the input's
      int h = in.height();
      int w = in.width();
      boolean maps = gather && !channelsLast; // the gathers' index maps, where they are used
      channelMap = new int[maps ? lanes : 0];
      for (int k = 0; k < channelMap.length; k++) {
        channelMap[k] = k * h * w;
      }
      outMap = new int[maps ? h * w : 0];
      inMap = new int[maps ? h * w : 0];
      for (int y = 0; maps && y < h; y++) {
        for (int x = 0; x < w; x++) {
          outMap[y * w + x] = (y * 2 * tilesW + x) * ocp;
          inMap[y * w + x] = ((y + 1) * padW + x + 1) * cp;
        }
      }
    }

    int tiles() {
      return tilesH * tilesW;
    }
  }

  /** U = G g G^T for every (oc, c), g the 3x3 filter at w[off + (oc * c + ci) * 9]. */
  private static void filterTransform(Ctx ctx, float[] w, int off, int plane) {
    float[] u = ctx.u;
    float[] t = ctx.scratch;
    for (int at = 0; at < plane; at++) {
      int g = off + at * 9;
      // t = G g (4x3): rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2
      for (int j = 0; j < 3; j++) {
        float g0 = w[g + j];
        float g1 = w[g + 3 + j];
        float g2 = w[g + 6 + j];
        t[j] = g0;
        t[3 + j] = 0.5f * (g0 + g1 + g2);
        t[6 + j] = 0.5f * (g0 - g1 + g2);
        t[9 + j] = g2;
      }
      // U = t G^T (4x4)
      for (int r = 0; r < 4; r++) {
        float t0 = t[3 * r];
        float t1 = t[3 * r + 1];
        float t2 = t[3 * r + 2];
        u[(4 * r) * plane + at] = t0;
        u[(4 * r + 1) * plane + at] = 0.5f * (t0 + t1 + t2);
        u[(4 * r + 2) * plane + at] = 0.5f * (t0 - t1 + t2);
        u[(4 * r + 3) * plane + at] = t2;
      }
    }
  }

  /** g[w + (o * c + ci) * 9 ..] += G^T dU G (4x4 to 3x3) for every (o, ci). */
  private static void foldFilterGradient(Ctx ctx, float[] g, int off, int plane) {
    float[] du = ctx.du;
    float[] p = ctx.scratch;
    for (int at = 0; at < plane; at++) {
      // p = dU G (4x3), row by row: (u0 + (u1 + u2) / 2, (u1 - u2) / 2, (u1 + u2) / 2 + u3)
      for (int r = 0; r < 4; r++) {
        float u0 = du[(4 * r) * plane + at];
        float u1 = du[(4 * r + 1) * plane + at];
        float u2 = du[(4 * r + 2) * plane + at];
        float u3 = du[(4 * r + 3) * plane + at];
        p[3 * r] = u0 + 0.5f * (u1 + u2);
        p[3 * r + 1] = 0.5f * (u1 - u2);
        p[3 * r + 2] = 0.5f * (u1 + u2) + u3;
      }
      // dW = G^T p (3x3), column by column
      int gw = off + at * 9;
      for (int j = 0; j < 3; j++) {
        float p0 = p[j];
        float p1 = p[3 + j];
        float p2 = p[6 + j];
        float p3 = p[9 + j];
        g[gw + j] += p0 + 0.5f * (p1 + p2);
        g[gw + 3 + j] += 0.5f * (p1 - p2);
        g[gw + 6 + j] += 0.5f * (p1 + p2) + p3;
      }
    }
  }

  /** V = B^T d B of every tile of images i0..i0+cn-1 into ctx.v ([16][N][C']). */
  private static void inputTransform(Ctx ctx, Shape shape, float[] x, int i0, int cn) {
    int c = shape.channels();
    int h = shape.height();
    int w = shape.width();
    int hw = h * w;
    int cp = ctx.cp;
    int pw = ctx.padW;
    int tiles = ctx.tiles();
    int s = cn * tiles * cp; // from one xi to the next in v
    float[] in = ctx.in;
    float[] v = ctx.v;
    int lanes = F.length();
    for (int i = 0; i < cn; i++) {
      // the image, channels last, at bordered (yy + 1, xx + 1)
      int src = (i0 + i) * c * hw;
      if (ctx.channelsLast) {
        copyIn(x, src, h, w, c, in, pw, cp);
      } else {
        transposeIn(ctx, x, src, h, w, c, in);
      }
      int row = i * tiles;
      for (int ty = 0; ty < ctx.tilesH; ty++) {
        for (int tx = 0; tx < ctx.tilesW; tx++, row++) {
          int p = (2 * ty * pw + 2 * tx) * cp;
          int pr = pw * cp; // one bordered row down
          int o = row * cp;
          for (int ci = 0; ci < cp; ci += lanes) {
            transformTile(in, p + ci, cp, pr, v, o + ci, s);
          }
        }
      }
    }
  }

  /** Transposes an NCHW image into the bordered buffer's interior. */
  private static void transposeIn(Ctx ctx, float[] x, int src, int h, int w, int c,
      float[] in) {
    int hw = h * w;
    int pw = ctx.padW;
    int cp = ctx.cp;
    for (int yy = 0; yy < h; yy++) {
      for (int xx = 0; xx < w; xx++) {
        int to = ((yy + 1) * pw + xx + 1) * cp;
        int from = src + yy * w + xx;
        if (ctx.gather) {
          VectorKernels.gatherStrided(x, from, hw, ctx.channelMap, in, to, c);
          continue;
        }
        for (int ci = 0; ci < c; ci++) {
          in[to + ci] = x[from + ci * hw];
        }
      }
    }
  }

  /** Copies a channels-last image (C values per pixel) into the bordered buffer's interior. */
  private static void copyIn(float[] x, int src, int h, int w, int c, float[] in, int pw,
      int cp) {
    for (int yy = 0; yy < h; yy++) {
      int to = ((yy + 1) * pw + 1) * cp;
      int from = src + yy * w * c;
      if (cp == c) {
        System.arraycopy(x, from, in, to, w * c);
        continue;
      }
      for (int xx = 0; xx < w; xx++) {
        System.arraycopy(x, from + xx * c, in, to + xx * cp, c);
      }
    }
  }

  /**
   * One tile's V = B^T d B for one vector of channels: d's rows at at, at + pr, .., columns cp
   * apart; V's 16 entries at vo, vo + s, .. (kept small, so that the JIT inlines every vector
   * operation: a method too large to inline them runs the Vector API's slow, allocating path).
   */
  private static void transformTile(float[] in, int at, int cp, int pr, float[] v, int vo,
      int s) {
    FloatVector d00 = FloatVector.fromArray(F, in, at);
    FloatVector d01 = FloatVector.fromArray(F, in, at + cp);
    FloatVector d02 = FloatVector.fromArray(F, in, at + 2 * cp);
    FloatVector d03 = FloatVector.fromArray(F, in, at + 3 * cp);
    FloatVector d10 = FloatVector.fromArray(F, in, at + pr);
    FloatVector d11 = FloatVector.fromArray(F, in, at + pr + cp);
    FloatVector d12 = FloatVector.fromArray(F, in, at + pr + 2 * cp);
    FloatVector d13 = FloatVector.fromArray(F, in, at + pr + 3 * cp);
    FloatVector d20 = FloatVector.fromArray(F, in, at + 2 * pr);
    FloatVector d21 = FloatVector.fromArray(F, in, at + 2 * pr + cp);
    FloatVector d22 = FloatVector.fromArray(F, in, at + 2 * pr + 2 * cp);
    FloatVector d23 = FloatVector.fromArray(F, in, at + 2 * pr + 3 * cp);
    FloatVector d30 = FloatVector.fromArray(F, in, at + 3 * pr);
    FloatVector d31 = FloatVector.fromArray(F, in, at + 3 * pr + cp);
    FloatVector d32 = FloatVector.fromArray(F, in, at + 3 * pr + 2 * cp);
    FloatVector d33 = FloatVector.fromArray(F, in, at + 3 * pr + 3 * cp);
    // rows of t = B^T d: (d0 - d2, d1 + d2, d2 - d1, d1 - d3); each times B: (t0 - t2, t1 + t2,
    // t2 - t1, t1 - t3). No helper takes or returns a vector: a call the JIT does not inline
    // boxes its vectors, and the Vector API then runs its slow, allocating path.
    FloatVector t00 = d00.sub(d20);
    FloatVector t01 = d01.sub(d21);
    FloatVector t02 = d02.sub(d22);
    FloatVector t03 = d03.sub(d23);
    t00.sub(t02).intoArray(v, vo);
    t01.add(t02).intoArray(v, vo + s);
    t02.sub(t01).intoArray(v, vo + 2 * s);
    t01.sub(t03).intoArray(v, vo + 3 * s);
    FloatVector t10 = d10.add(d20);
    FloatVector t11 = d11.add(d21);
    FloatVector t12 = d12.add(d22);
    FloatVector t13 = d13.add(d23);
    t10.sub(t12).intoArray(v, vo + 4 * s);
    t11.add(t12).intoArray(v, vo + 5 * s);
    t12.sub(t11).intoArray(v, vo + 6 * s);
    t11.sub(t13).intoArray(v, vo + 7 * s);
    FloatVector t20 = d20.sub(d10);
    FloatVector t21 = d21.sub(d11);
    FloatVector t22 = d22.sub(d12);
    FloatVector t23 = d23.sub(d13);
    t20.sub(t22).intoArray(v, vo + 8 * s);
    t21.add(t22).intoArray(v, vo + 9 * s);
    t22.sub(t21).intoArray(v, vo + 10 * s);
    t21.sub(t23).intoArray(v, vo + 11 * s);
    FloatVector t30 = d10.sub(d30);
    FloatVector t31 = d11.sub(d31);
    FloatVector t32 = d12.sub(d32);
    FloatVector t33 = d13.sub(d33);
    t30.sub(t32).intoArray(v, vo + 12 * s);
    t31.add(t32).intoArray(v, vo + 13 * s);
    t32.sub(t31).intoArray(v, vo + 14 * s);
    t31.sub(t33).intoArray(v, vo + 15 * s);
  }

  /** Outputs of images i0..i0+cn-1: y = A^T M A per tile, plus the bias. */
  static void forward(Ctx ctx, Shape in, Shape out, float[] w, int wOff, boolean bias,
      float[] x, float[] y, int i0, int cn) {
    int c = in.channels();
    int oc = out.channels();
    int cp = ctx.cp;
    int ocp = ctx.ocp;
    int tiles = ctx.tiles();
    int n = cn * tiles;
    if (i0 == 0) {
      filterTransform(ctx, w, wOff, oc * c);
    }
    inputTransform(ctx, in, x, i0, cn);
    for (int xi = 0; xi < 16; xi++) {
      Blas.gemm(false, true, n, oc, c, 1f, ctx.v, xi * n * cp, cp, ctx.u, xi * oc * c, c, 0f,
          ctx.m, xi * n * ocp, ocp);
    }
    int oh = out.height();
    int ow = out.width();
    int hw = oh * ow;
    int w2 = 2 * ctx.tilesW;
    int s = n * ocp;
    float[] m = ctx.m;
    float[] buf = ctx.out;
    int lanes = F.length();
    int biasOff = wOff + oc * c * 9;
    for (int i = 0; i < cn; i++) {
      int row = i * tiles;
      for (int ty = 0; ty < ctx.tilesH; ty++) {
        for (int tx = 0; tx < ctx.tilesW; tx++, row++) {
          int o = row * ocp;
          int to = ((2 * ty) * w2 + 2 * tx) * ocp;
          for (int k = 0; k < ocp; k += lanes) {
            outputTile(m, o + k, s, buf, to + k, ocp, w2);
          }
        }
      }
      // channels last to NCHW, plus the bias
      int dst = (i0 + i) * oc * hw;
      if (ctx.channelsLast) {
        for (int yy = 0; yy < oh; yy++) {
          for (int xx = 0; xx < ow; xx++) {
            int from = (yy * w2 + xx) * ocp;
            int at = dst + (yy * ow + xx) * oc;
            if (bias) {
              for (int o = 0; o < oc; o++) {
                y[at + o] = buf[from + o] + w[biasOff + o];
              }
            } else {
              System.arraycopy(buf, from, y, at, oc);
            }
          }
        }
        continue;
      }
      for (int o = 0; o < oc; o++) {
        float b = bias ? w[biasOff + o] : 0f;
        int plane = dst + o * hw;
        if (ctx.gather) {
          VectorKernels.gatherPlus(buf, o, ctx.outMap, y, plane, hw, b);
          continue;
        }
        for (int yy = 0; yy < oh; yy++) {
          int from = yy * w2 * ocp + o;
          int at = plane + yy * ow;
          for (int xx = 0; xx < ow; xx++) {
            y[at + xx] = buf[from + xx * ocp] + b;
          }
        }
      }
    }
  }

  /** One tile's 2x2 outputs A^T M A for one vector of channels, into the channels-last buf. */
  private static void outputTile(float[] m, int at, int s, float[] buf, int to, int ocp,
      int w2) {
    // M A per row r: a_r = M_r0 + M_r1 + M_r2, b_r = M_r1 - M_r2 - M_r3; then A^T
    FloatVector m00 = FloatVector.fromArray(F, m, at);
    FloatVector m01 = FloatVector.fromArray(F, m, at + s);
    FloatVector m02 = FloatVector.fromArray(F, m, at + 2 * s);
    FloatVector m03 = FloatVector.fromArray(F, m, at + 3 * s);
    FloatVector a0 = m00.add(m01).add(m02);
    FloatVector b0 = m01.sub(m02).sub(m03);
    FloatVector m10 = FloatVector.fromArray(F, m, at + 4 * s);
    FloatVector m11 = FloatVector.fromArray(F, m, at + 5 * s);
    FloatVector m12 = FloatVector.fromArray(F, m, at + 6 * s);
    FloatVector m13 = FloatVector.fromArray(F, m, at + 7 * s);
    FloatVector a1 = m10.add(m11).add(m12);
    FloatVector b1 = m11.sub(m12).sub(m13);
    FloatVector m20 = FloatVector.fromArray(F, m, at + 8 * s);
    FloatVector m21 = FloatVector.fromArray(F, m, at + 9 * s);
    FloatVector m22 = FloatVector.fromArray(F, m, at + 10 * s);
    FloatVector m23 = FloatVector.fromArray(F, m, at + 11 * s);
    FloatVector a2 = m20.add(m21).add(m22);
    FloatVector b2 = m21.sub(m22).sub(m23);
    FloatVector m30 = FloatVector.fromArray(F, m, at + 12 * s);
    FloatVector m31 = FloatVector.fromArray(F, m, at + 13 * s);
    FloatVector m32 = FloatVector.fromArray(F, m, at + 14 * s);
    FloatVector m33 = FloatVector.fromArray(F, m, at + 15 * s);
    FloatVector a3 = m30.add(m31).add(m32);
    FloatVector b3 = m31.sub(m32).sub(m33);
    a0.add(a1).add(a2).intoArray(buf, to);
    b0.add(b1).add(b2).intoArray(buf, to + ocp);
    a1.sub(a2).sub(a3).intoArray(buf, to + w2 * ocp);
    b1.sub(b2).sub(b3).intoArray(buf, to + (w2 + 1) * ocp);
  }

  /**
   * Backward of images i0..i0+cn-1 of a batch of n, groups in order: weight and bias gradients
   * added into g (the weights' once, at the last group), the input gradient added into gx (null:
   * none). Forward's V is reused when the group is the whole batch (forward just ran on the same
   * x), else rebuilt.
   */
  static void backward(Ctx ctx, Shape in, Shape out, float[] g, int wOff, boolean bias,
      float[] x, float[] gy, float[] gx, int i0, int cn, int n) {
    int c = in.channels();
    int oc = out.channels();
    int oh = out.height();
    int ow = out.width();
    int hw = oh * ow;
    int cp = ctx.cp;
    int ocp = ctx.ocp;
    int tiles = ctx.tiles();
    int rows = cn * tiles;
    int biasOff = wOff + oc * c * 9;
    if (bias && ctx.channelsLast) {
      ChannelsLastKernels.addBiasGradient(gy, i0, cn, hw, oc, ctx.biasAcc, g, biasOff);
    } else if (bias) {
      for (int i = 0; i < cn; i++) {
        for (int o = 0; o < oc; o++) {
          g[biasOff + o] += (float) Kernels.sum(gy, ((i0 + i) * oc + o) * hw, hw);
        }
      }
    }
    // dM = A dY A^T per tile: dY's 2x2 (zero outside the output) to 4x4
    float[] m = ctx.m;
    float[] buf = ctx.out;
    int w2 = 2 * ctx.tilesW;
    int s = rows * ocp;
    int lanes = F.length();
    for (int i = 0; i < cn; i++) {
      if (!ctx.gradCovers) {
        Arrays.fill(buf, 0f);
      }
      int src = (i0 + i) * oc * hw;
      if (ctx.channelsLast) {
        for (int yy = 0; yy < oh; yy++) {
          for (int xx = 0; xx < ow; xx++) {
            System.arraycopy(gy, src + (yy * ow + xx) * oc, buf, (yy * w2 + xx) * ocp, oc);
          }
        }
      } else if (ctx.gather) {
        for (int yy = 0; yy < oh; yy++) {
          for (int xx = 0; xx < ow; xx++) {
            VectorKernels.gatherStrided(gy, src + yy * ow + xx, hw, ctx.channelMap, buf,
                (yy * w2 + xx) * ocp, oc);
          }
        }
      } else {
        for (int o = 0; o < oc; o++) {
          for (int yy = 0; yy < oh; yy++) {
            int from = src + o * hw + yy * ow;
            int to = yy * w2 * ocp + o;
            for (int xx = 0; xx < ow; xx++) {
              buf[to + xx * ocp] = gy[from + xx];
            }
          }
        }
      }
      int row = i * tiles;
      for (int ty = 0; ty < ctx.tilesH; ty++) {
        for (int tx = 0; tx < ctx.tilesW; tx++, row++) {
          int from = ((2 * ty) * w2 + 2 * tx) * ocp;
          int o = row * ocp;
          for (int k = 0; k < ocp; k += lanes) {
            gradTile(buf, from + k, ocp, w2, m, o + k, s);
          }
        }
      }
    }
    if (cn < n) {
      inputTransform(ctx, in, x, i0, cn);
    }
    // dU[xi] += dM[xi]^T V[xi] over the batch's groups, folded into dW after the last
    for (int xi = 0; xi < 16; xi++) {
      Blas.gemm(true, false, oc, c, rows, 1f, m, xi * rows * ocp, ocp, ctx.v, xi * rows * cp,
          cp, i0 == 0 ? 0f : 1f, ctx.du, xi * oc * c, c);
    }
    if (i0 + cn == n) {
      foldFilterGradient(ctx, g, wOff, oc * c);
    }
    if (gx == null) {
      return;
    }
    // dV[xi] = dM[xi] U[xi] (V is no longer needed: its buffer takes dV)
    for (int xi = 0; xi < 16; xi++) {
      Blas.gemm(false, false, rows, c, oc, 1f, m, xi * rows * ocp, ocp, ctx.u, xi * oc * c, c,
          0f, ctx.v, xi * rows * cp, cp);
    }
    inputGradient(ctx, in, gx, i0, cn);
  }

  /** One tile's dM = A dY A^T for one vector of channels, dY read from the channels-last buf. */
  private static void gradTile(float[] buf, int from, int ocp, int w2, float[] m, int at,
      int s) {
    FloatVector g00 = FloatVector.fromArray(F, buf, from);
    FloatVector g01 = FloatVector.fromArray(F, buf, from + ocp);
    FloatVector g10 = FloatVector.fromArray(F, buf, from + w2 * ocp);
    FloatVector g11 = FloatVector.fromArray(F, buf, from + (w2 + 1) * ocp);
    // h = A dY (4x2): rows g0, g0 + g1, g0 - g1, -g1; dM row r = (a, a + b, a - b, -b)
    FloatVector h0a = g00;
    FloatVector h0b = g01;
    h0a.intoArray(m, at);
    h0a.add(h0b).intoArray(m, at + s);
    h0a.sub(h0b).intoArray(m, at + 2 * s);
    h0b.neg().intoArray(m, at + 3 * s);
    FloatVector h1a = g00.add(g10);
    FloatVector h1b = g01.add(g11);
    h1a.intoArray(m, at + 4 * s);
    h1a.add(h1b).intoArray(m, at + 5 * s);
    h1a.sub(h1b).intoArray(m, at + 6 * s);
    h1b.neg().intoArray(m, at + 7 * s);
    FloatVector h2a = g00.sub(g10);
    FloatVector h2b = g01.sub(g11);
    h2a.intoArray(m, at + 8 * s);
    h2a.add(h2b).intoArray(m, at + 9 * s);
    h2a.sub(h2b).intoArray(m, at + 10 * s);
    h2b.neg().intoArray(m, at + 11 * s);
    FloatVector h3a = g10.neg();
    FloatVector h3b = g11.neg();
    h3a.intoArray(m, at + 12 * s);
    h3a.add(h3b).intoArray(m, at + 13 * s);
    h3a.sub(h3b).intoArray(m, at + 14 * s);
    h3b.neg().intoArray(m, at + 15 * s);
  }

  /**
   * gx = the patches' gradients B dV B^T (each 4x4 patch added at its place in a bordered
   * buffer, then every pixel of the image written).
   */
  private static void inputGradient(Ctx ctx, Shape shape, float[] gx, int i0, int cn) {
    int c = shape.channels();
    int h = shape.height();
    int w = shape.width();
    int hw = h * w;
    int cp = ctx.cp;
    int pw = ctx.padW;
    int tiles = ctx.tiles();
    int s = cn * tiles * cp;
    float[] v = ctx.v;
    float[] gin = ctx.gradIn;
    int lanes = F.length();
    for (int i = 0; i < cn; i++) {
      Arrays.fill(gin, 0f);
      int row = i * tiles;
      for (int ty = 0; ty < ctx.tilesH; ty++) {
        for (int tx = 0; tx < ctx.tilesW; tx++, row++) {
          int p = (2 * ty * pw + 2 * tx) * cp;
          int pr = pw * cp;
          int o = row * cp;
          for (int ci = 0; ci < cp; ci += lanes) {
            patchGradient(v, o + ci, s, gin, p + ci, cp, pr);
          }
        }
      }
      // bordered (yy + 1, xx + 1), channels last, back into NCHW
      int dst = (i0 + i) * c * hw;
      if (ctx.channelsLast) {
        for (int yy = 0; yy < h; yy++) {
          for (int xx = 0; xx < w; xx++) {
            System.arraycopy(gin, ((yy + 1) * pw + xx + 1) * cp, gx, dst + (yy * w + xx) * c,
                c);
          }
        }
        continue;
      }
      for (int ci = 0; ci < c; ci++) {
        int plane = dst + ci * hw;
        if (ctx.gather) {
          VectorKernels.gather(gin, ci, ctx.inMap, gx, plane, hw);
          continue;
        }
        for (int yy = 0; yy < h; yy++) {
          int from = ((yy + 1) * pw + 1) * cp + ci;
          int at = plane + yy * w;
          for (int xx = 0; xx < w; xx++) {
            gx[at + xx] = gin[from + xx * cp];
          }
        }
      }
    }
  }

  /** One tile's B dV B^T for one vector of channels, added into its patch of gin. */
  private static void patchGradient(float[] v, int vo, int s, float[] gin, int at, int cp,
      int pr) {
    // e = B dV (4x4): rows (v0, v1 - v2 + v3, v1 + v2 - v0, -v3) of dV's rows
    FloatVector v00 = FloatVector.fromArray(F, v, vo);
    FloatVector v01 = FloatVector.fromArray(F, v, vo + s);
    FloatVector v02 = FloatVector.fromArray(F, v, vo + 2 * s);
    FloatVector v03 = FloatVector.fromArray(F, v, vo + 3 * s);
    FloatVector v10 = FloatVector.fromArray(F, v, vo + 4 * s);
    FloatVector v11 = FloatVector.fromArray(F, v, vo + 5 * s);
    FloatVector v12 = FloatVector.fromArray(F, v, vo + 6 * s);
    FloatVector v13 = FloatVector.fromArray(F, v, vo + 7 * s);
    FloatVector v20 = FloatVector.fromArray(F, v, vo + 8 * s);
    FloatVector v21 = FloatVector.fromArray(F, v, vo + 9 * s);
    FloatVector v22 = FloatVector.fromArray(F, v, vo + 10 * s);
    FloatVector v23 = FloatVector.fromArray(F, v, vo + 11 * s);
    FloatVector v30 = FloatVector.fromArray(F, v, vo + 12 * s);
    FloatVector v31 = FloatVector.fromArray(F, v, vo + 13 * s);
    FloatVector v32 = FloatVector.fromArray(F, v, vo + 14 * s);
    FloatVector v33 = FloatVector.fromArray(F, v, vo + 15 * s);
    // dd = e B^T, row r: (e0, e1 - e2 + e3, e1 + e2 - e0, -e3), added into the patch
    FloatVector e00 = v00;
    FloatVector e01 = v01;
    FloatVector e02 = v02;
    FloatVector e03 = v03;
    int p0 = at;
    FloatVector.fromArray(F, gin, p0).add(e00).intoArray(gin, p0);
    FloatVector.fromArray(F, gin, p0 + cp).add(e01.sub(e02).add(e03))
        .intoArray(gin, p0 + cp);
    FloatVector.fromArray(F, gin, p0 + 2 * cp).add(e01.add(e02).sub(e00))
        .intoArray(gin, p0 + 2 * cp);
    FloatVector.fromArray(F, gin, p0 + 3 * cp).sub(e03).intoArray(gin, p0 + 3 * cp);
    FloatVector e10 = v10.sub(v20).add(v30);
    FloatVector e11 = v11.sub(v21).add(v31);
    FloatVector e12 = v12.sub(v22).add(v32);
    FloatVector e13 = v13.sub(v23).add(v33);
    int p1 = at + pr;
    FloatVector.fromArray(F, gin, p1).add(e10).intoArray(gin, p1);
    FloatVector.fromArray(F, gin, p1 + cp).add(e11.sub(e12).add(e13))
        .intoArray(gin, p1 + cp);
    FloatVector.fromArray(F, gin, p1 + 2 * cp).add(e11.add(e12).sub(e10))
        .intoArray(gin, p1 + 2 * cp);
    FloatVector.fromArray(F, gin, p1 + 3 * cp).sub(e13).intoArray(gin, p1 + 3 * cp);
    FloatVector e20 = v10.add(v20).sub(v00);
    FloatVector e21 = v11.add(v21).sub(v01);
    FloatVector e22 = v12.add(v22).sub(v02);
    FloatVector e23 = v13.add(v23).sub(v03);
    int p2 = at + 2 * pr;
    FloatVector.fromArray(F, gin, p2).add(e20).intoArray(gin, p2);
    FloatVector.fromArray(F, gin, p2 + cp).add(e21.sub(e22).add(e23))
        .intoArray(gin, p2 + cp);
    FloatVector.fromArray(F, gin, p2 + 2 * cp).add(e21.add(e22).sub(e20))
        .intoArray(gin, p2 + 2 * cp);
    FloatVector.fromArray(F, gin, p2 + 3 * cp).sub(e23).intoArray(gin, p2 + 3 * cp);
    FloatVector e30 = v30.neg();
    FloatVector e31 = v31.neg();
    FloatVector e32 = v32.neg();
    FloatVector e33 = v33.neg();
    int p3 = at + 3 * pr;
    FloatVector.fromArray(F, gin, p3).add(e30).intoArray(gin, p3);
    FloatVector.fromArray(F, gin, p3 + cp).add(e31.sub(e32).add(e33))
        .intoArray(gin, p3 + cp);
    FloatVector.fromArray(F, gin, p3 + 2 * cp).add(e31.add(e32).sub(e30))
        .intoArray(gin, p3 + 2 * cp);
    FloatVector.fromArray(F, gin, p3 + 3 * cp).sub(e33).intoArray(gin, p3 + 3 * cp);
  }

}
