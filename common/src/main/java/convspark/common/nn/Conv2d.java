package convspark.common.nn;

import convspark.common.blas.Blas;
import convspark.common.spec.Init;
import convspark.common.spec.Shape;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * 2-D convolution by im2col + GEMM.
 *
 * <p>Two strategies, chosen by the depth C*k*k of the column matrix (of one group's block, C/g*k*k,
 * for a grouped conv: the depth of its GEMMs):
 * <ul>
 *   <li><b>batched</b> (deep columns, e.g. every conv after the first): the columns of a chunk of
 *       images form one [C*k*k, chunk*P] matrix (P = output pixels per image), so each pass is
 *       one large {@code sgemm} per chunk; the price is a copy between that [out, chunk*P]
 *       layout and NCHW each way. The chunk is as many images as fit {@link #CHUNK_FLOATS} column
 *       values (default 128K floats, 512 KB: a quarter of a core's 2 MB L2 on the project's
 *       Xeons, leaving room for the GEMM's output, packed panels and the gradients), so the
 *       columns im2col writes are still in cache when the GEMM reads them, however large the
 *       task's batch (conv2 of the example network, forward + backward at batch 64: ~13% faster
 *       than with 512K, measured with {@code bench/LayerAB}); with more than one chunk,
 *       backward rebuilds each chunk's columns from the input instead of keeping the whole
 *       batch's.
 *   <li><b>per image</b> (shallow columns, C*k*k below {@link #PER_IMAGE_MAX_CKK}, e.g. a first
 *       layer on grayscale input with K = 9): one {@code sgemm} per image that reads and writes
 *       NCHW directly. With K that small the GEMM is cheap and the layout copies and
 *       the bias sum over the [out, n*P] matrix dominated; per image they disappear. Backward
 *       rebuilds each image's columns rather than keeping the batch's (at batch 256 those
 *       outgrew L2 and doubled the time of backward per image).
 * </ul>
 *
 * <p>A 3x3 conv with stride 1 and padding 1 of the batched strategy runs as Winograd F(2x2, 3x3)
 * instead ({@link Winograd}: 2.25x fewer multiply-adds), when the Vector API is present.
 *
 * <p>Either way im2col and col2im take the cheapest copy pattern the geometry allows: stride 1
 * with "same" padding as one shifted copy of the input plane per column row ({@link
 * #samePlane}); a stride that divides the plane, through the input's phases ({@link
 * #polyphase}); otherwise a (strided) copy per output row.
 *
 * <p>Grouped convolution ({@code groups} g > 1; depthwise when g = in = out channels): output
 * channels [j*out/g, (j+1)*out/g) see only input channels [j*in/g, (j+1)*in/g). The column
 * matrix is the same (rows in channel order, so group j's rows are one contiguous block), and
 * every GEMM becomes g GEMMs on the groups' blocks ({@link #gemmGroups}); Winograd is not used.
 *
 * <p>On channels-last activations ({@link Workspace#LAYOUT_PROPERTY}) an ungrouped conv runs
 * Winograd on its own layout, a GEMM of pixel-row columns against weights permuted to
 * [OC][k][k][C], or, on one input channel, NCHW's planar columns read transposed ({@link
 * #planar}); docs/DESIGN-CHOICES.md says why.
 *
 * <p>Parameters: weight [out, in/g, k, k] (PyTorch layout) then bias [out].
 */
public final class Conv2d extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final int kernel;
  private final int stride;
  private final int padding;
  private final int groups;
  private final boolean bias;
  private final Init init;

  /**
   * Column depths below this use one GEMM per image; at or above it, one batched GEMM. Set by the
   * system property {@code convspark.conv.perImageMaxCkk} (for benchmarks); default 64.
   */
  public static final int PER_IMAGE_MAX_CKK =
      Integer.getInteger("convspark.conv.perImageMaxCkk", 64);

  /**
   * Column values per chunk of the batched strategy (see the class comment). Set by the system
   * property {@code convspark.conv.chunkFloats}, read when a workspace is built; default 128K.
   */
  public static final String CHUNK_FLOATS = "convspark.conv.chunkFloats";

  /**
   * {@code -Dconvspark.conv.gather=false} moves values between layouts (the polyphase split and
   * merge here, Winograd's NCHW and channels-last buffers) one float at a time instead of by
   * vector gathers; read when a network and its workspaces are built. Both give the same bits:
   * the property exists for A/B benchmarks (gathers are fast on some CPUs, not on all).
   */
  public static final String GATHER_PROPERTY = "convspark.conv.gather";

  /** Whether layout changes use vector gathers (the Vector API is present, and the property). */
  static boolean gathers() {
    return Kernels.VECTOR_API && !"false".equalsIgnoreCase(System.getProperty(GATHER_PROPERTY));
  }

  /**
   * Polyphase convs with gathers: output pixel p = y * OW + x of a phase is input pixel
   * y * s * W + x * s of the phase's origin ({@link #splitPhases}); input pixel q = Y * W + X is
   * pixel (Y / s) * OW + X / s of phase (Y mod s, X mod s) of its channel ({@link #mergePhases}).
   * Null otherwise.
   */
  private final int[] splitMap;
  private final int[] mergeMap;

  public Conv2d(Shape in, int filters, int kernel, int stride, int padding, boolean bias,
      Init init, int paramOffset) {
    this(in, filters, kernel, stride, padding, 1, bias, init, paramOffset);
  }

  /** A grouped convolution: {@code groups} must divide the input channels and {@code filters}. */
  public Conv2d(Shape in, int filters, int kernel, int stride, int padding, int groups,
      boolean bias, Init init, int paramOffset) {
    super(in, in.window(filters, kernel, kernel, stride, padding), paramOffset, 0);
    if (groups < 1 || in.channels() % groups != 0 || filters % groups != 0) {
      throw new IllegalArgumentException("conv groups " + groups + " must divide the input's "
          + in.channels() + " channels and the " + filters + " filters");
    }
    this.kernel = kernel;
    this.stride = stride;
    this.padding = padding;
    this.groups = groups;
    this.bias = bias;
    this.init = init;
    if (polyphase() && gathers()) {
      int s = stride;
      int w = in.width();
      int ow = out.width();
      int plane = out.spatial();
      splitMap = new int[plane];
      for (int p = 0; p < plane; p++) {
        splitMap[p] = p / ow * s * w + p % ow * s;
      }
      mergeMap = new int[in.spatial()];
      for (int q = 0; q < mergeMap.length; q++) {
        int y = q / w;
        int x = q % w;
        mergeMap[q] = (y % s * s + x % s) * plane + y / s * ow + x / s;
      }
    } else {
      splitMap = null;
      mergeMap = null;
    }
  }

  /** Output size along one axis (floor mode); non-positive when the kernel does not fit. */
  public static int outSize(int size, int kernel, int stride, int padding) {
    return Shape.outSize(size, kernel, stride, padding);
  }

  /** Input and output channels are split into this many groups (1: an ordinary conv). */
  public int groups() {
    return groups;
  }

  /** Rows of the column matrix: every input channel's k x k taps. */
  private int ckk() {
    return in.channels() * kernel * kernel;
  }

  /** One group's column rows, the depth of its GEMMs and the length of a filter's weights. */
  private int gk() {
    return ckk() / groups;
  }

  /** Whether this layer issues one GEMM (per group) per image rather than one per batch. */
  public boolean perImage() {
    return gk() < PER_IMAGE_MAX_CKK;
  }

  @Override
  public int paramCount() {
    return out.channels() * gk() + (bias ? out.channels() : 0);
  }

  private static final class Ctx implements Context {
    final float[] cols;
    final float[] tmp;
    /** Images per chunk of the batched strategy (maxBatch for the per-image one). */
    final int chunk;
    /** One image's input split into its stride x stride phases (see {@link #polyphase}). */
    final float[] phases;

    Ctx(int colsSize, int tmpSize, int chunk, int phasesSize) {
      cols = new float[colsSize];
      tmp = new float[tmpSize];
      this.chunk = chunk;
      phases = new float[phasesSize];
    }
  }

  @Override
  public Context newContext(int maxBatch) {
    int p = out.spatial();
    if (perImage()) {
      // one image's columns: backward rebuilds them image by image (K is small, so im2col is
      // cheap), rather than keeping the whole batch's, which outgrow L2 at large batches
      return new Ctx(ckk() * p, 0, maxBatch, polyphase() ? in.size() : 0);
    }
    int budget = Integer.getInteger(CHUNK_FLOATS, 1 << 17);
    // (the Vector API check first: without its module the Winograd class cannot load)
    if (Kernels.VECTOR_API && groups == 1 && Winograd.applies(kernel, stride, padding)) {
      return new Winograd.Ctx(in, out, maxBatch);
    }
    int chunk = Math.max(1, Math.min(maxBatch, budget / Math.max(1, ckk() * p)));
    return new Ctx(ckk() * chunk * p, out.channels() * chunk * p, chunk,
        polyphase() ? in.size() : 0);
  }

  /**
   * Buffers of the channels-last im2col path: a chunk's columns [rows][k * k * C] (pixel rows,
   * taps in (kh, kw) order, each tap a run of C channels; also their gradients), the weights
   * permuted to [OC][k][k][C] (each step, in forward) and that permutation's gradient.
   */
  private static final class ClCtx implements Context {
    final float[] cols;
    final float[] wp;
    final float[] dwp;
    final float[] biasAcc;
    final int chunk;
    /** One image's phases, for a polyphase conv's planar columns ({@link #planar}). */
    final float[] phases;

    ClCtx(int colsSize, int wSize, int oc, int chunk, int phasesSize) {
      cols = new float[colsSize];
      wp = new float[wSize];
      dwp = new float[wSize];
      biasAcc = new float[oc];
      this.chunk = chunk;
      phases = new float[phasesSize];
    }
  }

  /** Ungrouped convs have a channels-last path (Winograd's, or im2col's over pixel rows). */
  @Override
  public boolean channelsLastCapable() {
    return groups == 1;
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    if (!channelsLast) {
      return newContext(maxBatch);
    }
    if (!channelsLastCapable()) {
      throw new IllegalStateException("a grouped conv has no channels-last path");
    }
    if (Kernels.VECTOR_API && !perImage() && Winograd.applies(kernel, stride, padding)) {
      return new Winograd.Ctx(in, out, maxBatch, true);
    }
    int p = out.spatial();
    int budget = Integer.getInteger(CHUNK_FLOATS, 1 << 17);
    int chunk = Math.max(1, Math.min(maxBatch, budget / Math.max(1, ckk() * p)));
    int k = ckk();
    if (planar()) {
      // room for an image's columns and a row of ones below them; dW^T with the bias row
      return new ClCtx(Math.max(chunk, 2) * p * k, out.channels() * (k + 1), out.channels(),
          chunk, polyphase() ? in.size() : 0);
    }
    return new ClCtx(direct() ? 0 : chunk * p * k, out.channels() * k, out.channels(), chunk,
        0);
  }

  /**
   * A one-channel input is the same in both layouts: its channels-last columns are then NCHW's
   * [k * k][rows] (built by the plane copies of {@link #im2col}, not pixel by pixel), read
   * transposed by the GEMMs. On the example net's first conv (1 channel, 28x28) the pixel-row
   * columns, runs of 3 values, cost more than the whole NCHW layer.
   */
  private boolean planar() {
    return in.channels() == 1 && !direct();
  }

  /** 1x1, stride 1, no padding: channels-last activations are the columns themselves. */
  private boolean direct() {
    return kernel == 1 && stride == 1 && padding == 0;
  }

  /**
   * Channels-last forward of images i0..i0+cn-1 (one group, at most a chunk): y [cn * P][OC] =
   * columns [cn * P][k * k * C] times the permuted weights' transpose, onto the bias. The first
   * group (i0 = 0) permutes the weights for the whole pass.
   */
  private void forwardGroupChannelsLast(Pass pass, ClCtx ctx, float[] x, float[] y, int i0,
      int cn) {
    int c = in.channels();
    int oc = out.channels();
    int p = out.spatial();
    int kk = kernel * kernel;
    int k = ckk();
    float[] w = pass.params();
    float[] wp = ctx.wp;
    if (i0 == 0) {
      for (int o = 0; o < oc; o++) {
        for (int ci = 0; ci < c; ci++) {
          int from = paramOffset + (o * c + ci) * kk;
          for (int t = 0; t < kk; t++) {
            wp[(o * kk + t) * c + ci] = w[from + t];
          }
        }
      }
    }
    if (bias) {
      // the bias in the first row, then copies of ever more rows
      int start = i0 * p * oc;
      int len = cn * p * oc;
      System.arraycopy(w, paramOffset + oc * k, y, start, oc);
      for (int done = oc; done < len; done *= 2) {
        System.arraycopy(y, start, y, start + done, Math.min(done, len - done));
      }
    }
    if (planar()) {
      int rows = cn * p;
      for (int i = 0; i < cn; i++) {
        im2col(x, (i0 + i) * in.size(), ctx.cols, i * p, rows, ctx.phases);
      }
      Blas.gemm(true, true, rows, oc, k, 1f, ctx.cols, 0, rows, wp, 0, k, bias ? 1f : 0f, y,
          i0 * p * oc, oc);
      return;
    }
    float[] a = x;
    int aOff = i0 * p * c;
    if (!direct()) {
      for (int i = 0; i < cn; i++) {
        im2colChannelsLast(x, i0 + i, ctx.cols, i * p);
      }
      a = ctx.cols;
      aOff = 0;
    }
    Blas.gemm(false, true, cn * p, oc, k, 1f, a, aOff, k, wp, 0, k, bias ? 1f : 0f, y,
        i0 * p * oc, oc);
  }

  /**
   * Channels-last backward of images i0..i0+cn-1 of a batch of n (groups in order): the bias
   * gradient summed over their pixel rows, the permuted weights' gradient gy^T columns
   * accumulated over the groups and folded back after the last, the input gradient gy times the
   * permuted weights, spread back by col2im (or written directly for a 1x1 conv).
   */
  private void backwardGroupChannelsLast(Pass pass, ClCtx ctx, float[] x, float[] gy,
      float[] gx, int i0, int cn, int n) {
    int c = in.channels();
    int oc = out.channels();
    int p = out.spatial();
    int kk = kernel * kernel;
    int k = ckk();
    float[] g = pass.grads();
    if (bias && !planar()) {
      int biasOff = paramOffset + oc * k;
      ChannelsLastKernels.addBiasGradient(gy, i0, cn, p, oc, ctx.biasAcc, g, biasOff);
    }
    if (planar()) {
      backwardGroupPlanar(pass, ctx, x, gy, gx, i0, cn, n);
    } else {
      backwardGroupRows(pass, ctx, x, gy, gx, i0, cn, n);
    }
    if (i0 + cn < n) {
      return;
    }
    float[] dwp = ctx.dwp;
    if (planar()) {
      for (int o = 0; o < oc; o++) {
        for (int t = 0; t < kk; t++) {
          g[paramOffset + o * kk + t] += dwp[t * oc + o];
        }
        if (bias) {
          g[paramOffset + oc * k + o] += dwp[k * oc + o];
        }
      }
      return;
    }
    for (int o = 0; o < oc; o++) {
      for (int ci = 0; ci < c; ci++) {
        int to = paramOffset + (o * c + ci) * kk;
        for (int t = 0; t < kk; t++) {
          g[to + t] += dwp[(o * kk + t) * c + ci];
        }
      }
    }
  }

  /**
   * {@link #backwardGroupChannelsLast}'s GEMMs on {@link #planar} columns, image by image (each
   * image's columns rebuilt: the plane copies are cheap): dW^T [k][oc] += cols_i [k][P] gy_i
   * [P][oc], untransposed operands, K = P. On the example net's first conv, one GEMM over the
   * group's rows (K = 14,112) ran at half the rate, and gy^T cols^T at 0.4 of it. With a bias,
   * a row of ones below the columns makes the GEMM's last row the bias gradient: summed down
   * the pixel rows by the vector loops of the other convs, it took a third of the layer.
   */
  private void backwardGroupPlanar(Pass pass, ClCtx ctx, float[] x, float[] gy, float[] gx,
      int i0, int cn, int n) {
    int oc = out.channels();
    int p = out.spatial();
    int k = ckk();
    int rows = bias ? k + 1 : k;
    if (bias) {
      Arrays.fill(ctx.cols, k * p, (k + 1) * p, 1f);
    }
    for (int i = i0; i < i0 + cn; i++) {
      im2col(x, i * in.size(), ctx.cols, 0, p, ctx.phases);
      Blas.gemm(false, false, rows, oc, p, 1f, ctx.cols, 0, p, gy, i * p * oc, oc,
          i == 0 ? 0f : 1f, ctx.dwp, 0, oc);
      if (gx != null) {
        // dCols_i [k][P] = W^T [k][oc] gy_i^T [oc][P]
        Blas.gemm(true, true, k, p, oc, 1f, ctx.wp, 0, k, gy, i * p * oc, oc, 0f, ctx.cols, 0,
            p);
        Arrays.fill(gx, i * in.size(), (i + 1) * in.size(), 0f);
        col2im(ctx.cols, 0, p, gx, i * in.size(), ctx.phases);
      }
    }
  }

  /** {@link #backwardGroupChannelsLast}'s GEMMs on pixel-row columns (or on x for 1x1). */
  private void backwardGroupRows(Pass pass, ClCtx ctx, float[] x, float[] gy, float[] gx,
      int i0, int cn, int n) {
    int c = in.channels();
    int oc = out.channels();
    int p = out.spatial();
    int k = ckk();
    int rows = cn * p;
    float[] a = x;
    int aOff = i0 * p * c;
    if (!direct()) {
      // one group for the whole batch: forward's columns are still in ctx.cols
      if (cn < n) {
        for (int i = 0; i < cn; i++) {
          im2colChannelsLast(x, i0 + i, ctx.cols, i * p);
        }
      }
      a = ctx.cols;
      aOff = 0;
    }
    Blas.gemm(true, false, oc, k, rows, 1f, gy, i0 * p * oc, oc, a, aOff, k,
        i0 == 0 ? 0f : 1f, ctx.dwp, 0, k);
    if (gx != null) {
      if (direct()) {
        Blas.gemm(false, false, rows, c, oc, 1f, gy, i0 * p * oc, oc, ctx.wp, 0, c, 0f, gx,
            i0 * p * c, c);
      } else {
        Blas.gemm(false, false, rows, k, oc, 1f, gy, i0 * p * oc, oc, ctx.wp, 0, k, 0f,
            ctx.cols, 0, k);
        Arrays.fill(gx, i0 * in.size(), (i0 + cn) * in.size(), 0f);
        for (int i = 0; i < cn; i++) {
          col2imChannelsLast(ctx.cols, i * p, gx, i0 + i);
        }
      }
    }
  }


  /**
   * Image i's columns at pixel rows rowOff.. of cols: row (oy, ox) holds, tap by tap, the C
   * channels of input pixel (oy * s - p + kh, ox * s - p + kw), zero outside the image.
   */
  private void im2colChannelsLast(float[] x, int i, float[] cols, int rowOff) {
    columnsChannelsLast(x, i, cols, rowOff, false);
  }

  /** The adjoint of {@link #im2colChannelsLast}: adds the columns' gradients into image i's. */
  private void col2imChannelsLast(float[] cols, int rowOff, float[] gx, int i) {
    columnsChannelsLast(gx, i, cols, rowOff, true);
  }

  /**
   * Copies image i of x into its columns, or ({@code back}) adds the columns into image i of x.
   * A kernel row's taps inside the image, [kw0, kw1), are adjacent pixels: one run of values.
   */
  private void columnsChannelsLast(float[] x, int i, float[] cols, int rowOff, boolean back) {
    int c = in.channels();
    int h = in.height();
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    int k = ckk();
    int xBase = i * h * w * c;
    for (int oy = 0; oy < oh; oy++) {
      for (int ox = 0; ox < ow; ox++) {
        int row = (rowOff + oy * ow + ox) * k;
        int ix0 = ox * stride - padding;
        int kw0 = Math.min(kernel, Math.max(0, -ix0));
        int kw1 = Math.max(kw0, Math.min(kernel, w - ix0));
        for (int kh = 0; kh < kernel; kh++) {
          int iy = oy * stride - padding + kh;
          int taps = row + kh * kernel * c;
          boolean inside = iy >= 0 && iy < h;
          if (back) {
            if (inside && kw1 > kw0) {
              Kernels.addTo(cols, taps + kw0 * c, x, xBase + (iy * w + ix0 + kw0) * c,
                  (kw1 - kw0) * c);
            }
            continue;
          }
          if (!inside) {
            Arrays.fill(cols, taps, taps + kernel * c, 0f);
            continue;
          }
          Arrays.fill(cols, taps, taps + kw0 * c, 0f);
          if (kw1 > kw0) {
            System.arraycopy(x, xBase + (iy * w + ix0 + kw0) * c, cols, taps + kw0 * c,
                (kw1 - kw0) * c);
          }
          Arrays.fill(cols, taps + kw1 * c, taps + kernel * c, 0f);
        }
      }
    }
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    int step = groupStep(context, n);
    for (int i0 = 0; i0 < n; i0 += step) {
      forwardGroup(pass, context, x, y, i0, Math.min(step, n - i0));
    }
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx != null && !writesInputGradient(context)) {
      Arrays.fill(gx, 0, n * in.size(), 0f);
    }
    int step = groupStep(context, n);
    for (int i0 = 0; i0 < n; i0 += step) {
      backwardGroup(pass, context, x, gy, gx, i0, Math.min(step, n - i0), n);
    }
  }

  /**
   * Images per group of a batch of n: 1 for the per-image strategy; for the batched one a chunk
   * (as few chunks as fit, of nearly equal size). {@link #forward} and {@link #backward} are
   * loops over groups; {@link ConvBnPoolRelu} interleaves its own work with them.
   */
  int groupStep(Context context, int n) {
    int chunk;
    if (context instanceof ClCtx cl) {
      chunk = cl.chunk;
    } else if (perImage()) {
      return 1;
    } else {
      chunk = context instanceof Ctx c ? c.chunk : ((Winograd.Ctx) context).chunk;
    }
    int chunks = (n + chunk - 1) / chunk;
    return (n + chunks - 1) / chunks;
  }

  /** The outputs of images i0..i0+cn-1 (one group). */
  void forwardGroup(Pass pass, Context context, float[] x, float[] y, int i0, int cn) {
    if (context instanceof ClCtx cl) {
      forwardGroupChannelsLast(pass, cl, x, y, i0, cn);
      return;
    }
    if (!(context instanceof Ctx)) {
      Winograd.forward((Winograd.Ctx) context, in, out, pass.params(), paramOffset, bias, x, y,
          i0, cn);
      return;
    }
    Ctx ctx = (Ctx) context;
    int p = out.spatial();
    int oc = out.channels();
    int ocg = oc / groups;
    int gk = gk();
    float[] w = pass.params();
    int biasOff = paramOffset + oc * gk;
    if (perImage()) {
      // one GEMM per image, reading and writing NCHW directly
      for (int i = i0; i < i0 + cn; i++) {
        int yOff = i * oc * p;
        im2col(x, i * in.size(), ctx.cols, 0, p, ctx.phases);
        if (bias) {
          for (int c = 0; c < oc; c++) {
            Arrays.fill(y, yOff + c * p, yOff + (c + 1) * p, w[biasOff + c]);
          }
        }
        gemmGroups(false, false, ocg, p, gk, w, paramOffset, ocg * gk, gk, ctx.cols, 0, gk * p,
            p, bias ? 1f : 0f, y, yOff, ocg * p, p);
      }
      return;
    }
    int np = cn * p;
    for (int i = 0; i < cn; i++) {
      im2col(x, (i0 + i) * in.size(), ctx.cols, i * p, np, ctx.phases);
    }
    gemmGroups(false, false, ocg, np, gk, w, paramOffset, ocg * gk, gk, ctx.cols, 0, gk * np, np,
        0f, ctx.tmp, 0, ocg * np, np);
    for (int i = 0; i < cn; i++) {
      for (int c = 0; c < oc; c++) {
        float b = bias ? w[biasOff + c] : 0f;
        int src = c * np + i * p;
        int dst = ((i0 + i) * oc + c) * p;
        for (int j = 0; j < p; j++) {
          y[dst + j] = ctx.tmp[src + j] + b;
        }
      }
    }
  }

  /**
   * Whether {@link #backwardGroup} writes every input-gradient value of its images (Winograd's
   * patches, or a polyphase conv's phases interleaved back) rather than adding into gx, which the
   * caller must then have zeroed.
   */
  boolean writesInputGradient(Context context) {
    return !(context instanceof Ctx) || polyphase();
  }

  /**
   * Backward of images i0..i0+cn-1 of a batch of n: bias and weight gradients accumulated, their
   * input gradient written into gx, or added into it (zeroed by the caller before the first
   * group) unless {@link #writesInputGradient}; null: none.
   */
  void backwardGroup(Pass pass, Context context, float[] x, float[] gy, float[] gx, int i0,
      int cn, int n) {
    if (context instanceof ClCtx cl) {
      backwardGroupChannelsLast(pass, cl, x, gy, gx, i0, cn, n);
      return;
    }
    if (!(context instanceof Ctx)) {
      Winograd.backward((Winograd.Ctx) context, in, out, pass.grads(), paramOffset, bias, x, gy,
          gx, i0, cn, n);
      return;
    }
    Ctx ctx = (Ctx) context;
    int p = out.spatial();
    int oc = out.channels();
    int ocg = oc / groups;
    int gk = gk();
    float[] g = pass.grads();
    int biasOff = paramOffset + oc * gk;
    if (perImage()) {
      // rebuild each image's columns (cheap at this depth) and read gy in NCHW directly
      for (int i = i0; i < i0 + cn; i++) {
        if (bias) {
          for (int c = 0; c < oc; c++) {
            g[biasOff + c] += (float) Kernels.sum(gy, (i * oc + c) * p, p);
          }
        }
        im2col(x, i * in.size(), ctx.cols, 0, p, ctx.phases);
        // dW += gy_i [oc, p] . cols_i^T [p, ckk] (per group)
        gemmGroups(false, true, ocg, gk, p, gy, i * oc * p, ocg * p, p, ctx.cols, 0, gk * p, p,
            1f, g, paramOffset, ocg * gk, gk);
        if (gx != null) {
          // dCols_i = W^T . gy_i (cols_i no longer needed: reuse its buffer)
          gemmGroups(true, false, gk, p, ocg, pass.params(), paramOffset, ocg * gk, gk, gy,
              i * oc * p, ocg * p, p, 0f, ctx.cols, 0, gk * p, p);
          col2im(ctx.cols, 0, p, gx, i * in.size(), ctx.phases);
        }
      }
      return;
    }
    int np = cn * p;
    // gy (NCHW) -> tmp [oc, cn*p]
    for (int i = 0; i < cn; i++) {
      for (int c = 0; c < oc; c++) {
        System.arraycopy(gy, ((i0 + i) * oc + c) * p, ctx.tmp, c * np + i * p, p);
      }
    }
    if (bias) {
      for (int c = 0; c < oc; c++) {
        g[biasOff + c] += (float) Kernels.sum(ctx.tmp, c * np, np);
      }
    }
    // one group for the whole batch: forward's columns are still in ctx.cols; else rebuild
    if (cn < n) {
      for (int i = 0; i < cn; i++) {
        im2col(x, (i0 + i) * in.size(), ctx.cols, i * p, np, ctx.phases);
      }
    }
    // dW += tmp . cols^T
    gemmGroups(false, true, ocg, gk, np, ctx.tmp, 0, ocg * np, np, ctx.cols, 0, gk * np, np, 1f,
        g, paramOffset, ocg * gk, gk);
    if (gx == null) {
      return;
    }
    // dCols = W^T . tmp (the columns are no longer needed: reuse their buffer)
    gemmGroups(true, false, gk, np, ocg, pass.params(), paramOffset, ocg * gk, gk, ctx.tmp, 0,
        ocg * np, np, 0f, ctx.cols, 0, gk * np, np);
    for (int i = 0; i < cn; i++) {
      col2im(ctx.cols, i * p, np, gx, (i0 + i) * in.size(), ctx.phases);
    }
  }

  /**
   * {@code c = op(a) . op(b) + beta * c} for each group j (one GEMM when there is one group):
   * each operand's offset advances by its own step per group, {@code aStep}, {@code bStep} and
   * {@code cStep}, with m, n, k and the leading dimensions those of one group.
   */
  private void gemmGroups(boolean ta, boolean tb, int m, int n, int k, float[] a, int aOff,
      int aStep, int lda, float[] b, int bOff, int bStep, int ldb, float beta, float[] c,
      int cOff, int cStep, int ldc) {
    for (int j = 0; j < groups; j++) {
      Blas.gemm(ta, tb, m, n, k, 1f, a, aOff + j * aStep, lda, b, bOff + j * bStep, ldb, beta, c,
          cOff + j * cStep, ldc);
    }
  }

  /**
   * Writes image {@code xOff}'s columns into {@code cols} at column {@code colOff}, row stride
   * ld ({@code phases}: scratch of one image's input size when {@link #polyphase}).
   */
  private void im2col(float[] x, int xOff, float[] cols, int colOff, int ld, float[] phases) {
    int h = in.height();
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    if (samePlane()) {
      im2colShifted(x, xOff, cols, colOff, ld);
      return;
    }
    if (polyphase()) {
      splitPhases(x, xOff, phases);
      im2colShifted(phases, 0, cols, colOff, ld);
      return;
    }
    int row = 0;
    for (int c = 0; c < in.channels(); c++) {
      int chan = xOff + c * h * w;
      for (int kh = 0; kh < kernel; kh++) {
        for (int kw = 0; kw < kernel; kw++, row++) {
          int dst = row * ld + colOff;
          // valid ow range: 0 <= ow*stride - padding + kw < w
          int owLo = Math.max(0, ceilDiv(padding - kw, stride));
          int owHi = Math.min(ow, ceilDiv(w + padding - kw, stride));
          for (int y = 0; y < oh; y++, dst += ow) {
            int ih = y * stride - padding + kh;
            if (ih < 0 || ih >= h || owLo >= owHi) {
              Arrays.fill(cols, dst, dst + ow, 0f);
              continue;
            }
            int srcRow = chan + ih * w - padding + kw;
            for (int xo = 0; xo < owLo; xo++) {
              cols[dst + xo] = 0f;
            }
            if (stride == 1) {
              System.arraycopy(x, srcRow + owLo, cols, dst + owLo, owHi - owLo);
            } else {
              for (int xo = owLo; xo < owHi; xo++) {
                cols[dst + xo] = x[srcRow + xo * stride];
              }
            }
            for (int xo = owHi; xo < ow; xo++) {
              cols[dst + xo] = 0f;
            }
          }
        }
      }
    }
  }

  /**
   * Adds image columns back into the image gradient (the transpose of im2col; the columns are
   * scratch afterwards).
   */
  private void col2im(float[] cols, int colOff, int ld, float[] gx, int xOff, float[] phases) {
    int h = in.height();
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    if (samePlane()) {
      col2imShifted(cols, colOff, ld, gx, xOff);
      return;
    }
    if (polyphase()) {
      Arrays.fill(phases, 0, in.size(), 0f);
      col2imShifted(cols, colOff, ld, phases, 0);
      mergePhases(phases, gx, xOff);
      return;
    }
    int row = 0;
    for (int c = 0; c < in.channels(); c++) {
      int chan = xOff + c * h * w;
      for (int kh = 0; kh < kernel; kh++) {
        for (int kw = 0; kw < kernel; kw++, row++) {
          int src = row * ld + colOff;
          int owLo = Math.max(0, ceilDiv(padding - kw, stride));
          int owHi = Math.min(ow, ceilDiv(w + padding - kw, stride));
          for (int y = 0; y < oh; y++, src += ow) {
            int ih = y * stride - padding + kh;
            if (ih < 0 || ih >= h) {
              continue;
            }
            int dstRow = chan + ih * w - padding + kw;
            for (int xo = owLo; xo < owHi; xo++) {
              gx[dstRow + xo * stride] += cols[src + xo];
            }
          }
        }
      }
    }
  }

  /**
   * Stride 1 and "same" padding (2 * padding = kernel - 1): the output plane has the input's
   * size, and each column row (c, kh, kw) is the input plane shifted by (kh - p) * w + (kw - p)
   * in the flat index, with the values whose column wrapped into the next or previous row set to
   * zero. So a row is one long copy plus a few zeros, instead of a short copy per output row
   * (the 3x3 convs of the example network: 28- and 14-wide rows, ~3x faster).
   */
  private boolean samePlane() {
    return stride == 1 && 2 * padding == kernel - 1;
  }

  /**
   * Stride s > 1 with a kernel wider than 1 on a plane that s divides, the output being the
   * plane divided by s (e.g. the 3x3 stride-2 padding-1 convs of a residual net's stage
   * boundaries): input pixel (s*y + ry, s*x + rx) is pixel (y, x) of phase (ry, rx), a plane of
   * the output's size, and the column row (c, kh, kw) is phase ((kh - p) mod s, (kw - p) mod s)
   * of channel c shifted by (floor((kh - p) / s), floor((kw - p) / s)). So im2col splits each
   * channel into its s*s phases once (one strided pass over the input, instead of k*k strided
   * gathers) and then writes every column row as one shifted copy with the wrapped columns
   * zeroed, through the same code as {@link #samePlane} (a stride-1 conv is its own single
   * phase); col2im mirrors it (docs/BENCHMARKS.md, the residual net's conv layers, gives the
   * layers' rates).
   */
  private boolean polyphase() {
    return stride > 1 && kernel > 1 && in.height() % stride == 0 && in.width() % stride == 0
        && out.height() == in.height() / stride && out.width() == in.width() / stride;
  }

  /** Phase (ry, rx) of channel c starts at ((c * s + ry) * s + rx) * (output plane). */
  private void splitPhases(float[] x, int xOff, float[] phases) {
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    int plane = oh * ow;
    int s = stride;
    int d = 0;
    for (int c = 0; c < in.channels(); c++) {
      int chan = xOff + c * in.spatial();
      for (int ry = 0; ry < s; ry++) {
        for (int rx = 0; rx < s; rx++, d += plane) {
          if (splitMap != null) {
            VectorKernels.gather(x, chan + ry * w + rx, splitMap, phases, d, plane);
            continue;
          }
          for (int y = 0, o = d; y < oh; y++, o += ow) {
            int src = chan + (y * s + ry) * w + rx;
            for (int xo = 0; xo < ow; xo++) {
              phases[o + xo] = x[src + xo * s];
            }
          }
        }
      }
    }
  }

  /**
   * The column rows of a {@link #samePlane} or {@link #polyphase} conv: row (c, t) is plane
   * {@code phaseTap(t, 0)} of channel c in {@code planes} (s * s output-sized planes per channel
   * from {@code off}: the input itself when s = 1, its phases otherwise) shifted by
   * {@code phaseTap(t, 1)} rows and {@code phaseTap(t, 2)} columns, zero where the shift leaves
   * the plane: one long copy and a few zeros per row.
   */
  private void im2colShifted(float[] planes, int off, float[] cols, int colOff, int ld) {
    int ow = out.width();
    int plane = out.spatial();
    int ss = stride * stride;
    int kk = kernel * kernel;
    int row = 0;
    for (int c = 0; c < in.channels(); c++) {
      for (int t = 0; t < kk; t++, row++) {
        int src = off + (c * ss + phaseTap(t, 0)) * plane;
        int dst = row * ld + colOff;
        int dx = phaseTap(t, 2);
        int shift = phaseTap(t, 1) * ow + dx;
        int lo = Math.min(plane, Math.max(0, -shift));
        int hi = Math.max(lo, Math.min(plane, plane - shift));
        Arrays.fill(cols, dst, dst + lo, 0f);
        if (hi > lo) { // else the shift leaves the plane (|shift| >= plane, a kernel wider than
          // the input): src + lo + shift may then be negative, which arraycopy refuses even empty
          System.arraycopy(planes, src + lo + shift, cols, dst + lo, hi - lo);
        }
        Arrays.fill(cols, dst + hi, dst + plane, 0f);
        zeroWrappedColumns(cols, dst, dx);
      }
    }
  }

  /**
   * The transpose of {@link #im2colShifted}: adds every column row back into its plane in
   * {@code planes} (the column buffer is scratch afterwards: the wrapped entries, which would
   * land on the wrong input column, are zeroed first so that each row is one long add).
   */
  private void col2imShifted(float[] cols, int colOff, int ld, float[] planes, int off) {
    int ow = out.width();
    int plane = out.spatial();
    int ss = stride * stride;
    int kk = kernel * kernel;
    int row = 0;
    for (int c = 0; c < in.channels(); c++) {
      for (int t = 0; t < kk; t++, row++) {
        int dst = off + (c * ss + phaseTap(t, 0)) * plane;
        int src = row * ld + colOff;
        int dx = phaseTap(t, 2);
        int shift = phaseTap(t, 1) * ow + dx;
        int lo = Math.min(plane, Math.max(0, -shift));
        int hi = Math.max(lo, Math.min(plane, plane - shift));
        zeroWrappedColumns(cols, src, dx);
        if (hi > lo) { // as in im2colShifted: nothing lands in the plane otherwise
          Kernels.addTo(cols, src + lo, planes, dst + shift + lo, hi - lo);
        }
      }
    }
  }

  /**
   * For kernel tap t = kh * k + kw of a {@link #samePlane} or {@link #polyphase} conv (stride s,
   * 1 for the former): what = 0, the index of the phase it reads ((kh - p) mod s) * s +
   * (kw - p) mod s; 1, its row shift floor((kh - p) / s); 2, its column shift floor((kw - p) / s).
   */
  private int phaseTap(int t, int what) {
    int kh = t / kernel - padding;
    int kw = t % kernel - padding;
    return switch (what) {
      case 0 -> Math.floorMod(kh, stride) * stride + Math.floorMod(kw, stride);
      case 1 -> Math.floorDiv(kh, stride);
      default -> Math.floorDiv(kw, stride);
    };
  }

  /** Writes the phases' gradients back into the image's gradient, interleaved. */
  private void mergePhases(float[] phases, float[] gx, int xOff) {
    int w = in.width();
    int oh = out.height();
    int ow = out.width();
    int plane = out.spatial();
    int s = stride;
    int d = 0;
    for (int c = 0; c < in.channels(); c++) {
      int chan = xOff + c * in.spatial();
      if (mergeMap != null) {
        VectorKernels.gather(phases, c * s * s * plane, mergeMap, gx, chan, in.spatial());
        continue;
      }
      for (int ry = 0; ry < s; ry++) {
        for (int rx = 0; rx < s; rx++, d += plane) {
          for (int y = 0, o = d; y < oh; y++, o += ow) {
            int dstRow = chan + (y * s + ry) * w + rx;
            for (int xo = 0; xo < ow; xo++) {
              gx[dstRow + xo * s] = phases[o + xo];
            }
          }
        }
      }
    }
  }

  /**
   * Zeroes the entries of an output-plane-sized column row whose source column, shifted by dx,
   * lies outside the row (they wrapped into the next or previous row of the flat plane).
   */
  private void zeroWrappedColumns(float[] cols, int dst, int dx) {
    if (dx == 0) {
      return;
    }
    int ow = out.width();
    int from = dx < 0 ? 0 : Math.max(0, ow - dx);
    int to = dx < 0 ? Math.min(ow, -dx) : ow;
    for (int y = 0, r = dst; y < out.height(); y++, r += ow) {
      for (int xo = from; xo < to; xo++) {
        cols[r + xo] = 0f;
      }
    }
  }

  private static int ceilDiv(int a, int b) {
    return -Math.floorDiv(-a, b);
  }

  @Override
  public void init(float[] params, float[] state, SplittableRandom rng) {
    // fans as PyTorch computes them from the weight's shape [out, in/g, k, k]
    int fanIn = gk();
    int fanOut = out.channels() * kernel * kernel;
    init.fill(params, paramOffset, out.channels() * gk(), fanIn, fanOut, rng);
    if (bias) {
      Arrays.fill(params, paramOffset + out.channels() * gk(), paramOffset + paramCount(), 0f);
    }
  }

  @Override
  public void weightRanges(List<ParamRange> ranges) {
    ranges.add(new ParamRange(paramOffset, out.channels() * gk()));
  }

  @Override
  public void otherParamRanges(List<ParamRange> ranges) {
    if (bias) {
      ranges.add(new ParamRange(paramOffset + out.channels() * gk(), out.channels()));
    }
  }

  /** Multiply-adds of one forward pass for one image (for GFLOP/s reports: x2 for FLOPs). */
  public long macsPerImage() {
    return (long) out.channels() * gk() * out.spatial();
  }
}
