package convspark.common.nn;

import java.util.List;

/**
 * Every buffer one forward/backward pass of a {@link Network} needs, for batches of up to {@code
 * maxBatch} samples, allocated once and reused: the input, each layer's output, two gradient
 * buffers used in turn, and each layer's context. Not thread-safe: one workspace per thread.
 */
public final class Workspace {
  private final Network net;
  private final int maxBatch;
  private final float[][] acts;
  private final Layer.Context[] ctx;
  private final float[] gradA;
  private final float[] gradB;
  private final int[] labels;

  Workspace(Network net, int maxBatch) {
    if (maxBatch <= 0) {
      throw new IllegalArgumentException("maxBatch must be positive, found " + maxBatch);
    }
    this.net = net;
    this.maxBatch = maxBatch;
    List<Layer> layers = net.layers();
    acts = new float[layers.size() + 1][];
    ctx = new Layer.Context[layers.size()];
    acts[0] = new float[maxBatch * net.inputShape().size()];
    int maxSize = net.inputShape().size();
    for (int i = 0; i < layers.size(); i++) {
      acts[i + 1] = new float[maxBatch * layers.get(i).outShape().size()];
      ctx[i] = layers.get(i).newContext(maxBatch);
      maxSize = Math.max(maxSize, layers.get(i).outShape().size());
    }
    gradA = new float[maxBatch * maxSize];
    gradB = new float[maxBatch * maxSize];
    labels = new int[maxBatch];
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
    List<Layer> layers = net.layers();
    for (int i = 0; i < layers.size(); i++) {
      layers.get(i).forward(pass, ctx[i], acts[i], acts[i + 1], n);
    }
    return logits();
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
    List<Layer> layers = net.layers();
    float[] gy = gradLogits;
    for (int i = layers.size() - 1; i >= 0; i--) {
      float[] gx = i == 0 ? null : (gy == gradA ? gradB : gradA);
      layers.get(i).backward(pass, ctx[i], acts[i], acts[i + 1], gy, gx, n);
      gy = gx;
    }
  }

  /**
   * Backward pass from an arbitrary gradient of the logits, returning the gradient with respect
   * to the input (for gradient checks).
   */
  public float[] backwardToInput(Pass pass, int n, float[] gradLogits, float[] gradInput) {
    List<Layer> layers = net.layers();
    float[] gy = new float[gradLogits.length];
    System.arraycopy(gradLogits, 0, gy, 0, gradLogits.length);
    for (int i = layers.size() - 1; i >= 0; i--) {
      float[] gx = i == 0 ? gradInput : new float[maxBatch * layers.get(i).inShape().size()];
      layers.get(i).backward(pass, ctx[i], acts[i], acts[i + 1], gy, gx, n);
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
