package convspark.common.nn;

import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;

/**
 * Batch norm followed by ReLU as one kernel (the conv-BN-ReLU of every residual block body and
 * stem): forward writes max(0, batch norm) in the pass that normalises; backward reads the ReLU's
 * mask from the output (y > 0) where batch norm reads its output gradient, so the intermediate
 * activation and its gradient are never written. The arithmetic is the two layers' (same
 * expressions, same order), so results are bit-identical to them. A {@link Workspace}, and a
 * {@link Residual} for its chains, runs it in place of the two layers ({@link #fuse}); they keep
 * their parameters, state and places in the network, so nothing else sees the difference.
 */
final class BatchNormRelu implements Layer {
  private static final long serialVersionUID = 1L;
  private final BatchNorm bn;

  private BatchNormRelu(BatchNorm bn) {
    this.bn = bn;
  }

  /**
   * The fused layer for {@code a, b} if they are a batch norm and a ReLU and the Vector API is
   * present (its masked kernels are the fast part); otherwise null.
   */
  static BatchNormRelu fuse(Layer a, Layer b) {
    if (!Kernels.VECTOR_API) {
      return null;
    }
    if (a instanceof BatchNorm norm && b instanceof Activation act
        && act.kind() == Nonlinearity.RELU) {
      return new BatchNormRelu(norm);
    }
    return null;
  }

  @Override
  public Shape inShape() {
    return bn.inShape();
  }

  @Override
  public Shape outShape() {
    return bn.outShape();
  }

  @Override
  public Context newContext(int maxBatch) {
    return bn.newContext(maxBatch);
  }

  @Override
  public boolean channelsLastCapable() {
    return true;
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    return bn.newContext(maxBatch, fuse, channelsLast);
  }

  @Override
  public void forward(Pass pass, Context ctx, float[] x, float[] y, int n) {
    bn.forward(pass, ctx, x, y, n, true);
  }

  @Override
  public void backward(Pass pass, Context ctx, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    bn.backward(pass, ctx, x, y, gy, gx, n, true);
  }
}
