package convspark.common.nn;

import convspark.common.spec.Shape;

/** Reads C x H x W as a vector of C*H*W values in C, H, W order (as torch.nn.Flatten). */
public final class Flatten extends BoundLayer {
  private static final long serialVersionUID = 1L;

  public Flatten(Shape in) {
    super(in, Shape.vector(in.size()), 0, 0);
  }

  /** Channels-last only where there is nothing to reorder: one pixel per channel. */
  @Override
  public boolean channelsLastCapable() {
    return in.spatial() == 1;
  }




  @Override
  public void forward(Pass pass, Context ctx, float[] x, float[] y, int n) {
    System.arraycopy(x, 0, y, 0, n * in.size());
  }

  @Override
  public void backward(Pass pass, Context ctx, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx != null) {
      System.arraycopy(gy, 0, gx, 0, n * in.size());
    }
  }
}
