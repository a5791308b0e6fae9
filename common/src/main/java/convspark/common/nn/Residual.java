package convspark.common.nn;

import convspark.common.spec.LayerSpec;
import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A residual block, {@code y = activation(body(x) + shortcut(x))}, composed of ordinary layers:
 * the body is a chain of layers, the shortcut is the identity (no layers) or a chain of its own
 * (a projection: 1x1 convolution with stride and a batch norm). Parameters and state lie in the
 * block's slice of the flat vectors, body layers first, then shortcut layers, each inner layer
 * with its own offsets (views, as at the top level).
 *
 * <p>Every buffer lives in the block's context, made once per workspace: each inner layer's
 * output and context, the gradient of the pre-activation sum and two gradient buffers used in
 * turn. Backward runs the shortcut chain into {@code gradIn} (or, for the identity, takes the
 * sum's gradient as it is), then the body chain, and adds the body's input gradient: the
 * gradient of the input is the sum of both paths'.
 */
public final class Residual extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final List<Layer> body;
  private final List<Layer> shortcut;
  private final Activation activation;
  private final int paramCount;
  private final int stateCount;

  private Residual(Shape in, List<Layer> body, List<Layer> shortcut, Nonlinearity activation,
      int paramOffset, int stateOffset) {
    super(in, body.get(body.size() - 1).outShape(), paramOffset, stateOffset);
    this.body = List.copyOf(body);
    this.shortcut = List.copyOf(shortcut);
    Shape sc = this.shortcut.isEmpty() ? in : this.shortcut.get(this.shortcut.size() - 1)
        .outShape();
    if (!sc.equals(out)) {
      throw new IllegalArgumentException("residual block: body outputs " + out
          + " but shortcut " + sc);
    }
    this.activation = activation == null ? null : new Activation(out, activation);
    int p = 0;
    int s = 0;
    for (Layer l : this.body) {
      p += l.paramCount();
      s += l.stateCount();
    }
    for (Layer l : this.shortcut) {
      p += l.paramCount();
      s += l.stateCount();
    }
    this.paramCount = p;
    this.stateCount = s;
  }

  /**
   * Binds {@code spec} at input {@code in}; inner layers get consecutive parameter and state
   * slices from {@code paramOffset} and {@code stateOffset}, and stream ids (for dropout masks)
   * derived from {@code index}.
   */
  static Residual bind(LayerSpec.Residual spec, Shape in, int index, int paramOffset,
      int stateOffset) {
    int[] p = {paramOffset, stateOffset};
    List<Layer> body = chain(spec.layers(), in, 1000 * (index + 1), p);
    List<Layer> shortcut = chain(spec.shortcut(), in, 1000 * (index + 1) + 500, p);
    return new Residual(in, body, shortcut, spec.activation(), paramOffset, stateOffset);
  }

  private static List<Layer> chain(List<LayerSpec> specs, Shape in, int firstIndex, int[] next) {
    List<Layer> out = new ArrayList<>();
    Shape s = in;
    for (int j = 0; j < specs.size(); j++) {
      Layer l = Layers.bind(specs.get(j), s, firstIndex + j, next[0], next[1]);
      out.add(l);
      next[0] += l.paramCount();
      next[1] += l.stateCount();
      s = l.outShape();
    }
    return out;
  }

  /** The body's layers, in order. */
  public List<Layer> body() {
    return body;
  }

  /** The shortcut's layers, in order; empty for the identity. */
  public List<Layer> shortcut() {
    return shortcut;
  }




  @Override
  public int paramCount() {
    return paramCount;
  }


  @Override
  public int stateCount() {
    return stateCount;
  }

  static final class Ctx implements Context {
    /** The kernels that run body and shortcut ({@link Workspace#chain}). */
    final List<Layer> bodySteps;
    final List<Layer> shortcutSteps;
    final Context[] bodyCtx;
    final float[][] bodyOut;
    final Context[] shortcutCtx;
    final float[][] shortcutOut;
    final float[] gradSum;
    final float[] gradA;
    final float[] gradB;

    Ctx(Residual r, int maxBatch, boolean fuse, boolean channelsLast) {
      bodySteps = Workspace.chain(r.body, fuse);
      shortcutSteps = Workspace.chain(r.shortcut, fuse);
      bodyCtx = contexts(bodySteps, maxBatch, fuse, channelsLast);
      bodyOut = outputs(bodySteps, maxBatch);
      shortcutCtx = contexts(shortcutSteps, maxBatch, fuse, channelsLast);
      shortcutOut = outputs(shortcutSteps, maxBatch);
      int max = r.in.size();
      for (Layer l : r.body) {
        max = Math.max(max, l.outShape().size());
      }
      for (Layer l : r.shortcut) {
        max = Math.max(max, l.outShape().size());
      }
      boolean act = r.activation != null;
      gradSum = act ? new float[maxBatch * r.out.size()] : null;
      gradA = new float[maxBatch * max];
      gradB = new float[maxBatch * max];
    }

    private static Context[] contexts(List<Layer> layers, int maxBatch, boolean fuse,
        boolean channelsLast) {
      Context[] c = new Context[layers.size()];
      for (int j = 0; j < c.length; j++) {
        c[j] = layers.get(j).newContext(maxBatch, fuse, channelsLast);
      }
      return c;
    }

    /** One output buffer per layer, for batches of up to {@code maxBatch} samples. */
    private static float[][] outputs(List<Layer> layers, int maxBatch) {
      float[][] o = new float[layers.size()][];
      for (int j = 0; j < o.length; j++) {
        o[j] = new float[maxBatch * layers.get(j).outShape().size()];
      }
      return o;
    }
  }

  /** Fused inner kernels unless {@code -Dconvspark.nn.fuse=false}, as {@link Workspace}. */
  @Override
  public Context newContext(int maxBatch) {
    return newContext(maxBatch, Workspace.fusing());
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse) {
    return new Ctx(this, maxBatch, fuse, false);
  }

  /** Element-wise sum and activation: channels-last when every inner layer can be. */
  @Override
  public boolean channelsLastCapable() {
    for (Layer l : body) {
      if (!l.channelsLastCapable()) {
        return false;
      }
    }
    for (Layer l : shortcut) {
      if (!l.channelsLastCapable()) {
        return false;
      }
    }
    return true;
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    if (channelsLast && !channelsLastCapable()) {
      throw new IllegalStateException("a residual block's layers have no channels-last path");
    }
    return new Ctx(this, maxBatch, fuse, channelsLast);
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    Ctx ctx = (Ctx) context;
    float[] b = chainForward(pass, ctx.bodySteps, ctx.bodyCtx, ctx.bodyOut, x, n);
    float[] s = chainForward(pass, ctx.shortcutSteps, ctx.shortcutCtx, ctx.shortcutOut, x, n);
    int len = n * out.size();
    if (activation != null && activation.kind() == Nonlinearity.RELU) {
      for (int i = 0; i < len; i++) {
        y[i] = Math.max(b[i] + s[i], 0f); // the sum, then Activation's ReLU: the same floats
      }
      return;
    }
    for (int i = 0; i < len; i++) {
      y[i] = b[i] + s[i];
    }
    if (activation != null) {
      // element-wise, so in place: the pre-activation sum is not kept (see backward)
      activation.forward(pass, NO_CONTEXT, y, y, n);
    }
  }

  private static float[] chainForward(Pass pass, List<Layer> layers, Context[] ctx,
      float[][] outs, float[] x, int n) {
    float[] cur = x;
    for (int j = 0; j < layers.size(); j++) {
      layers.get(j).forward(pass, ctx[j], cur, outs[j], n);
      cur = outs[j];
    }
    return cur;
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    Ctx ctx = (Ctx) context;
    float[] gz = gy;
    if (activation != null) {
      // the activations' derivatives need only y: sigmoid and tanh are written in y, and ReLU's
      // y > 0 exactly where the sum was > 0 (max(z, 0) is 0 for z <= 0 and NaN for NaN)
      activation.backward(pass, NO_CONTEXT, y, y, gy, ctx.gradSum, n);
      gz = ctx.gradSum;
    }
    int len = n * in.size();
    if (!ctx.shortcutSteps.isEmpty()) {
      // the shortcut's input gradient goes straight into gx (or nowhere for a first layer)
      chainBackward(pass, ctx, ctx.shortcutSteps, ctx.shortcutCtx, ctx.shortcutOut, x, gz, gx,
          false, n);
    }
    float[] gb = chainBackward(pass, ctx, ctx.bodySteps, ctx.bodyCtx, ctx.bodyOut, x, gz, null,
        gx != null, n);
    if (gx == null) {
      return;
    }
    if (shortcut.isEmpty()) {
      for (int i = 0; i < len; i++) {
        gx[i] = gb[i] + gz[i];
      }
    } else {
      for (int i = 0; i < len; i++) {
        gx[i] += gb[i];
      }
    }
  }

  /**
   * Backward through a chain from {@code gTop} (the gradient of its output). The first layer's
   * input gradient goes to the free one of the two turn buffers when {@code toFree}, else to
   * {@code last} (null when nobody needs it). Returns where it went.
   */
  private static float[] chainBackward(Pass pass, Ctx ctx, List<Layer> layers, Context[] lc,
      float[][] outs, float[] x, float[] gTop, float[] last, boolean toFree, int n) {
    float[] g = gTop;
    for (int j = layers.size() - 1; j >= 0; j--) {
      float[] free = g == ctx.gradA ? ctx.gradB : ctx.gradA;
      float[] gIn = j > 0 || toFree ? free : last;
      layers.get(j).backward(pass, lc[j], j == 0 ? x : outs[j - 1], outs[j], g, gIn, n);
      g = gIn;
    }
    return g;
  }

  @Override
  public void init(float[] params, float[] state, SplittableRandom rng) {
    for (Layer l : body) {
      l.init(params, state, rng.split());
    }
    for (Layer l : shortcut) {
      l.init(params, state, rng.split());
    }
  }

  @Override
  public void weightRanges(List<ParamRange> out) {
    body.forEach(l -> l.weightRanges(out));
    shortcut.forEach(l -> l.weightRanges(out));
  }

  @Override
  public void otherParamRanges(List<ParamRange> out) {
    body.forEach(l -> l.otherParamRanges(out));
    shortcut.forEach(l -> l.otherParamRanges(out));
  }

  @Override
  public void updateRunningStats(float[] state, float[] averagedStats) {
    body.forEach(l -> l.updateRunningStats(state, averagedStats));
    shortcut.forEach(l -> l.updateRunningStats(state, averagedStats));
  }
}
