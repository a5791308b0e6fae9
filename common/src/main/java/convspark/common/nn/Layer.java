package convspark.common.nn;

import convspark.common.spec.Shape;
import java.io.Serializable;

/**
 * A runtime layer bound to its input shape and to its slices of the flat parameter and state
 * vectors. Layers are immutable and re-entrant: everything a call caches for its backward pass
 * lives in a {@link Context} made by {@link #newContext(int)}, one per workspace.
 *
 * <p>Activations are float32 in flat arrays, NCHW unless the workspace runs channels-last
 * ({@link #channelsLastCapable}): sample i starts at {@code i * shape.size()}.
 * {@code backward} accumulates parameter gradients into {@code pass.grads()} (+=) and overwrites
 * {@code gradIn} (which is null for the first layer, whose input gradient nobody needs).
 */
public interface Layer extends Serializable {
  /** Per-workspace buffers a layer keeps between its forward and backward calls. */
  interface Context {}

  /** Context with no buffers. */
  Context NO_CONTEXT = new Context() {};

  Shape inShape();

  Shape outShape();

  /** First index of this layer's parameters in the flat vector. */
  default int paramOffset() {
    return 0;
  }

  default int paramCount() {
    return 0;
  }

  default int stateOffset() {
    return 0;
  }

  default int stateCount() {
    return 0;
  }

  /** Buffers for batches of up to {@code maxBatch} samples. */
  default Context newContext(int maxBatch) {
    return NO_CONTEXT;
  }

  /**
   * Buffers for batches of up to {@code maxBatch} samples, for a workspace that fuses kernels
   * ({@code fuse}, {@link Workspace#plan}) or not: a layer made of layers ({@link Residual})
   * chooses its inner kernels here, so that one flag decides for the whole network.
   */
  default Context newContext(int maxBatch, boolean fuse) {
    return newContext(maxBatch);
  }

  /**
   * Whether this layer can run on channels-last activations, sample i's pixel (y, x) holding its
   * C channels at {@code (i * H * W + y * W + x) * C}: element-wise layers, and those with a
   * channels-last path. A {@link Workspace} runs channels-last only when every layer can.
   */
  default boolean channelsLastCapable() {
    return false;
  }

  /**
   * Buffers for a workspace whose activations are channels-last ({@code channelsLast}) or NCHW.
   * Layers whose kernels differ by layout override this and keep the layout in their context.
   */
  default Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    if (channelsLast && !channelsLastCapable()) {
      throw new IllegalStateException(getClass().getSimpleName() + " has no channels-last path");
    }
    return newContext(maxBatch, fuse);
  }

  void forward(Pass pass, Context ctx, float[] in, float[] out, int n);

  void backward(Pass pass, Context ctx, float[] in, float[] out, float[] gradOut, float[] gradIn,
      int n);

  /** Writes initial values of this layer's parameters and state. */
  default void init(float[] params, float[] state, java.util.SplittableRandom rng) {}

  /** The parameter slices that count as weights for L1/L2 (not biases, not BN). */
  default void weightRanges(java.util.List<ParamRange> out) {}

  /** The parameter slices that are biases or normalisation parameters. */
  default void otherParamRanges(java.util.List<ParamRange> out) {}

  /** Folds averaged batch statistics into the running statistics (batch norm only). */
  default void updateRunningStats(float[] state, float[] averagedStats) {}
}
