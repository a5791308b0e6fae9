package convspark.common.nn;

import convspark.common.spec.Shape;
import java.util.List;

/**
 * Every buffer one forward/backward pass of a {@link Network} needs, for batches of up to {@code
 * maxBatch} samples, allocated once and reused: the input, each step's output, two gradient
 * buffers used in turn, and each step's context. A step is one layer, or several run as one
 * fused kernel (see {@link #plan}); outputs inside a fused step get no buffer, and a flatten
 * shares its input's. Not thread-safe: one workspace per thread.
 */
public final class Workspace {
  /** {@code -Dconvspark.nn.fuse=false} runs every layer on its own (for A/B benchmarks). */
  public static final String FUSE_PROPERTY = "convspark.nn.fuse";

  /**
   * {@code -Dconvspark.nn.layout=nchw} keeps activations NCHW even where every layer has a
   * channels-last path ({@code auto}, the default, then runs channels-last; for A/B benchmarks
   * and tests). Read when a workspace is built.
   */
  public static final String LAYOUT_PROPERTY = "convspark.nn.layout";
  private final Network net;
  private final int maxBatch;
  private final List<Step> steps;
  private final float[][] acts;
  private final Layer.Context[] ctx;
  private final float[] gradA;
  private final float[] gradB;
  private final int[] labels;
  /** Whether activations are channels-last ({@link Layer#channelsLastCapable}). */
  private final boolean channelsLast;
  /**
   * The first step's input: {@link #input()} itself, or its channels-last copy when the
   * activations are channels-last and the input has more than one channel and pixel.
   */
  private final float[] firstInput;

  Workspace(Network net, int maxBatch) {
    this(net, maxBatch, fusing());
  }

  Workspace(Network net, int maxBatch, boolean fuse) {
    if (maxBatch <= 0) {
      throw new IllegalArgumentException("maxBatch must be positive, found " + maxBatch);
    }
    this.net = net;
    this.maxBatch = maxBatch;
    List<Layer> layers = net.layers();
    this.steps = plan(net, fuse);
    this.channelsLast = channelsLast(steps);
    acts = new float[layers.size() + 1][];
    ctx = new Layer.Context[steps.size()];
    acts[0] = new float[maxBatch * net.inputShape().size()];
    for (int s = 0; s < steps.size(); s++) {
      Step st = steps.get(s);
      // outputs inside a fused step are never written: no buffer for them
      for (int i = st.first(); i < st.last(); i++) {
        acts[i + 1] = new float[0];
      }
      // a flatten's output is its input, value for value (unless it reorders channels-last
      // pixels): the same buffer, and no copy
      acts[st.last() + 1] = sharesInput(st) ? acts[st.first()]
          : new float[maxBatch * st.layer().outShape().size()];
      ctx[s] = st.layer().newContext(maxBatch, fuse, channelsLast);
    }
    Shape in = net.inputShape();
    // one channel, or one pixel: NCHW is channels-last already
    firstInput = channelsLast && in.channels() > 1 && in.spatial() > 1
        ? new float[acts[0].length] : acts[0];
    int maxSize = net.inputShape().size();
    for (Layer l : layers) {
      maxSize = Math.max(maxSize, l.outShape().size());
    }
    gradA = new float[maxBatch * maxSize];
    gradB = new float[maxBatch * maxSize];
    labels = new int[maxBatch];
  }

  /**
   * One kernel of a pass: the runtime layer that computes layers {@code first..last} of the
   * network (one layer, or several fused into one, as {@link BatchNormPoolRelu}).
   */
  public record Step(int first, int last, Layer layer) {
    /** The spec types of the layers this step computes, joined by "+". */
    public String name(Network net) {
      StringBuilder b = new StringBuilder();
      for (int i = first; i <= last; i++) {
        b.append(i > first ? "+" : "").append(net.spec().layers().get(i).type());
      }
      return b.toString();
    }
  }

  /**
   * The kernels a workspace runs for {@code net}: its layers in order, with every batch norm,
   * 2x2 max-pool and ReLU sequence fused into one {@link BatchNormPoolRelu} when {@code fuse}
   * (the default unless {@code -Dconvspark.nn.fuse=false}), a conv right before such a block
   * joined with it into one {@link ConvBnPoolRelu}, and every other batch norm followed by a
   * ReLU fused into one {@link BatchNormRelu} (as inside residual blocks: {@link #chain}).
   */
  public static List<Step> plan(Network net, boolean fuse) {
    List<Layer> layers = net.layers();
    List<Step> out = new java.util.ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      Layer fused = fuse && i + 2 < layers.size()
          ? BatchNormPoolRelu.fuse(layers.get(i), layers.get(i + 1), layers.get(i + 2)) : null;
      Layer pair = fuse && fused == null && i + 1 < layers.size()
          ? BatchNormRelu.fuse(layers.get(i), layers.get(i + 1)) : null;
      if (fused != null) {
        out.add(new Step(i, i + 2, fused));
        i += 2;
      } else if (pair != null) {
        out.add(new Step(i, i + 1, pair));
        i += 1;
      } else {
        out.add(new Step(i, i, layers.get(i)));
      }
    }
    // a conv feeding a fused block runs with it, group by group, so data stays in cache
    for (int s = 0; s + 1 < out.size(); s++) {
      if (out.get(s).layer() instanceof Conv2d conv
          && out.get(s + 1).layer() instanceof BatchNormPoolRelu block) {
        out.set(s, new Step(out.get(s).first(), out.get(s + 1).last(),
            new ConvBnPoolRelu(conv, block)));
        out.remove(s + 1);
      }
    }
    return List.copyOf(out);
  }

  /**
   * Whether a workspace running {@code steps} keeps its activations channels-last: every step can,
   * and {@link #LAYOUT_PROPERTY} is not {@code nchw}.
   */
  static boolean channelsLast(List<Step> steps) {
    if ("nchw".equalsIgnoreCase(System.getProperty(LAYOUT_PROPERTY))) {
      return false;
    }
    for (Step st : steps) {
      if (!st.layer().channelsLastCapable()) {
        return false;
      }
    }
    return true;
  }

  /** Whether this workspace's activations are channels-last. */
  public boolean channelsLast() {
    return channelsLast;
  }

  /** Whether layers are fused: unless {@code -Dconvspark.nn.fuse=false}. */
  static boolean fusing() {
    return !"false".equalsIgnoreCase(System.getProperty(FUSE_PROPERTY));
  }

  /**
   * The kernels of a chain of layers inside a block ({@link Residual}): each batch norm followed
   * by a ReLU fused into one {@link BatchNormRelu} when {@code fuse}, the other layers as they
   * are.
   */
  static List<Layer> chain(List<Layer> layers, boolean fuse) {
    List<Layer> out = new java.util.ArrayList<>();
    for (int i = 0; i < layers.size(); i++) {
      Layer pair = fuse && i + 1 < layers.size()
          ? BatchNormRelu.fuse(layers.get(i), layers.get(i + 1)) : null;
      if (pair != null) {
        out.add(pair);
        i++;
      } else {
        out.add(layers.get(i));
      }
    }
    return List.copyOf(out);
  }

  /** Whether step st is a flatten that moves nothing: it runs no kernel, its buffer its input's. */
  private boolean sharesInput(Step st) {
    return st.layer() instanceof Flatten f && !f.reorders(channelsLast);
  }

  /** The kernels this workspace runs (see {@link #plan}). */
  public List<Step> steps() {
    return steps;
  }

  /** The context of step {@code s} (for tests). */
  Layer.Context context(int s) {
    return ctx[s];
  }

  public Network network() {
    return net;
  }

  public int maxBatch() {
    return maxBatch;
  }

  /** The input buffer: fill {@code n * inputShape.size()} values, NCHW. */
  public float[] input() {
    return acts[0];
  }

  /** The label buffer for {@link #trainStep}. */
  public int[] labels() {
    return labels;
  }

  /** The class scores (logits) of the last forward pass, n x classes. */
  public float[] logits() {
    return acts[acts.length - 1];
  }

  /** Forward pass over the first {@code n} samples of {@link #input()}; returns the logits. */
  public float[] forward(Pass pass, int n) {
    check(n);
    if (firstInput != acts[0]) {
      Shape in = net.inputShape();
      toChannelsLast(acts[0], firstInput, n, in.channels(), in.spatial());
    }
    for (int s = 0; s < steps.size(); s++) {
      Step st = steps.get(s);
      if (!sharesInput(st)) {
        st.layer().forward(pass, ctx[s], in(st), acts[st.last() + 1], n);
      }
    }
    return logits();
  }

  /** The input of step {@code st}'s layers. */
  private float[] in(Step st) {
    return st.first() == 0 ? firstInput : acts[st.first()];
  }

  /** n images of c planes of hw pixels, NCHW to channels-last. */
  static void toChannelsLast(float[] x, float[] y, int n, int c, int hw) {
    for (int i = 0; i < n; i++) {
      int base = i * c * hw;
      for (int ci = 0; ci < c; ci++) {
        for (int p = 0; p < hw; p++) {
          y[base + p * c + ci] = x[base + ci * hw + p];
        }
      }
    }
  }

  /** The inverse of {@link #toChannelsLast}. */
  static void toNchw(float[] x, float[] y, int n, int c, int hw) {
    for (int i = 0; i < n; i++) {
      int base = i * c * hw;
      for (int ci = 0; ci < c; ci++) {
        for (int p = 0; p < hw; p++) {
          y[base + ci * hw + p] = x[base + p * c + ci];
        }
      }
    }
  }

  /**
   * Forward, loss and backward over {@code n} samples of {@link #input()} with labels from
   * {@link #labels()}. Gradients of the summed loss are accumulated into {@code pass.grads()}.
   *
   * @return the summed loss and number of correct predictions
   */
  public Outcome trainStep(Pass pass, int n, double labelSmoothing) {
    forward(pass, n);
    int classes = net.classes();
    float[] logits = logits();
    int correct = SoftmaxCrossEntropy.countCorrect(logits, labels, 0, n, classes);
    double loss = SoftmaxCrossEntropy.lossAndGrad(logits, labels, 0, n, classes, labelSmoothing,
        gradA);
    backward(pass, n, gradA);
    return new Outcome(loss, correct);
  }

  /** Backward pass from {@code gradLogits} (which may be {@link #gradA}). */
  private void backward(Pass pass, int n, float[] gradLogits) {
    float[] gy = gradLogits;
    for (int s = steps.size() - 1; s >= 0; s--) {
      Step st = steps.get(s);
      if (sharesInput(st)) {
        continue; // its input gradient is its output gradient
      }
      float[] gx = s == 0 ? null : (gy == gradA ? gradB : gradA);
      st.layer().backward(pass, ctx[s], in(st), acts[st.last() + 1], gy, gx, n);
      gy = gx;
    }
  }

  /**
   * Backward pass from an arbitrary gradient of the logits, returning the gradient with respect
   * to the input (for gradient checks).
   */
  public float[] backwardToInput(Pass pass, int n, float[] gradLogits, float[] gradInput) {
    float[] gy = new float[gradLogits.length];
    System.arraycopy(gradLogits, 0, gy, 0, gradLogits.length);
    for (int s = steps.size() - 1; s >= 0; s--) {
      Step st = steps.get(s);
      if (sharesInput(st) && s > 0) {
        continue;
      }
      boolean convert = s == 0 && firstInput != acts[0];
      float[] gx = s == 0 && !convert ? gradInput
          : new float[maxBatch * st.layer().inShape().size()];
      st.layer().backward(pass, ctx[s], in(st), acts[st.last() + 1], gy, gx, n);
      if (convert) {
        Shape in = net.inputShape();
        toNchw(gx, gradInput, n, in.channels(), in.spatial());
      }
      gy = gx;
    }
    return gradInput;
  }

  private void check(int n) {
    if (n < 0 || n > maxBatch) {
      throw new IllegalArgumentException("batch of " + n + " does not fit a workspace for "
          + maxBatch);
    }
  }

  /** What a training pass returns besides the gradient. */
  public record Outcome(double lossSum, int correct) {}
}
