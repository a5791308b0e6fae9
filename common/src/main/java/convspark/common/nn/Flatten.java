package convspark.common.nn;

import convspark.common.spec.Shape;

/** Reads C x H x W as a vector of C*H*W values in C, H, W order (as torch.nn.Flatten). */
public final class Flatten extends BoundLayer {
  private static final long serialVersionUID = 1L;

  public Flatten(Shape in) {
    super(in, Shape.vector(in.size()), 0, 0);
  }

  /**
   * Channels-last too: then the C, H, W order is made by transposing each sample's pixel rows
   * (which a {@link Workspace} runs; in NCHW it shares the buffer and runs nothing).
   */
  @Override
  public boolean channelsLastCapable() {
    return true;
  }

  /** Whether this layer moves values: channels-last activations of more than one pixel. */
  boolean reorders(boolean channelsLast) {
    return channelsLast && in.spatial() > 1 && in.channels() > 1;
  }

  /**
   * With vector gathers ({@link Conv2d#gathers}): lane maps {0, C, 2C, ..} (forward reads a
   * channel's pixels C apart) and {0, HW, 2HW, ..} (backward reads a pixel's channels HW apart);
   * else null, and the transposes run one value at a time.
   */
  private record Ctx(boolean reorder, int[] pixelLanes, int[] channelLanes) implements Context {}

  @Override
  public Context newContext(int maxBatch, boolean fuse, boolean channelsLast) {
    boolean reorder = reorders(channelsLast);
    if (!reorder || !Conv2d.gathers()) {
      return new Ctx(reorder, null, null);
    }
    int lanes = VectorKernels.lanes();
    int[] pixelLanes = new int[lanes];
    int[] channelLanes = new int[lanes];
    for (int j = 0; j < lanes; j++) {
      pixelLanes[j] = j * in.channels();
      channelLanes[j] = j * in.spatial();
    }
    return new Ctx(true, pixelLanes, channelLanes);
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    if (!(context instanceof Ctx ctx && ctx.reorder())) {
      System.arraycopy(x, 0, y, 0, n * in.size());
      return;
    }
    int c = in.channels();
    int hw = in.spatial();
    if (ctx.pixelLanes() == null) {
      Workspace.toNchw(x, y, n, c, hw);
      return;
    }
    for (int i = 0; i < n; i++) {
      int base = i * c * hw;
      for (int ci = 0; ci < c; ci++) {
        VectorKernels.gatherStrided(x, base + ci, c, ctx.pixelLanes(), y, base + ci * hw, hw);
      }
    }
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx == null) {
      return;
    }
    if (!(context instanceof Ctx ctx && ctx.reorder())) {
      System.arraycopy(gy, 0, gx, 0, n * in.size());
      return;
    }
    int c = in.channels();
    int hw = in.spatial();
    if (ctx.channelLanes() == null) {
      Workspace.toChannelsLast(gy, gx, n, c, hw);
      return;
    }
    for (int i = 0; i < n; i++) {
      int base = i * c * hw;
      for (int p = 0; p < hw; p++) {
        VectorKernels.gatherStrided(gy, base + p, hw, ctx.channelLanes(), gx, base + p * c, c);
      }
    }
  }
}
