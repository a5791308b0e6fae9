package convspark.common.nn;

import convspark.common.spec.Shape;
import java.util.Arrays;

/**
 * A conv followed by a fused batch norm + max-pool + ReLU ({@link BatchNormPoolRelu}), run group
 * by group (an image, or a chunk of the conv's batched strategy) so that what one kernel writes
 * is still in cache when the next reads it: in forward each group's conv output is added to the
 * batch statistics right after the GEMM wrote it; in backward each group's conv output gradient
 * is written by the block just before the conv's backward reads it. Run layer after layer, both
 * went through memory once the conv output outgrew the cache: at a task batch of 256, conv1's is
 * 25.6 MB. A {@link Workspace} uses it wherever a conv is followed by such a block.
 */
final class ConvBnPoolRelu implements Layer {
  private static final long serialVersionUID = 1L;
  private final Conv2d conv;
  private final BatchNormPoolRelu block;

  ConvBnPoolRelu(Conv2d conv, BatchNormPoolRelu block) {
    this.conv = conv;
    this.block = block;
  }

  @Override
  public Shape inShape() {
    return conv.inShape();
  }

  @Override
  public Shape outShape() {
    return block.outShape();
  }

  /** The two kernels' contexts, the conv's output and its gradient (the block's input). */
  private record Ctx(Context conv, Context block, float[] convOut, float[] convGrad)
      implements Context {}

  @Override
  public Context newContext(int maxBatch) {
    return newContext(maxBatch, true, false);
  }

  /** Channels-last where the conv has the path (the block always has). */
  @Override
  public boolean channelsLastCapable() {
    return conv.channelsLastCapable();
  }

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    int size = maxBatch * conv.outShape().size();
    return new Ctx(conv.newContext(maxBatch, fuse, channelsLast),
        block.newContext(maxBatch, fuse, channelsLast), new float[size], new float[size]);
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    Ctx ctx = (Ctx) context;
    int step = conv.groupStep(ctx.conv(), n);
    for (int i0 = 0; i0 < n; i0 += step) {
      int cn = Math.min(step, n - i0);
      conv.forwardGroup(pass, ctx.conv(), x, ctx.convOut(), i0, cn);
      if (pass.training()) {
        block.statsAdd(ctx.block(), ctx.convOut(), i0, cn);
      }
    }
    block.statsEnd(pass, ctx.block(), n);
    block.pool(pass, ctx.block(), ctx.convOut(), y, 0, n);
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    Ctx ctx = (Ctx) context;
    block.gradSums(pass, ctx.block(), y, gy, n);
    if (gx != null && !conv.writesInputGradient(ctx.conv())) {
      Arrays.fill(gx, 0, n * conv.inShape().size(), 0f);
    }
    int step = conv.groupStep(ctx.conv(), n);
    for (int i0 = 0; i0 < n; i0 += step) {
      int cn = Math.min(step, n - i0);
      block.inputGrad(ctx.block(), ctx.convOut(), y, gy, ctx.convGrad(), i0, cn, n);
      conv.backwardGroup(pass, ctx.conv(), x, ctx.convGrad(), gx, i0, cn, n);
    }
  }
}
