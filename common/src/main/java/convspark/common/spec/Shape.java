package convspark.common.spec;

import java.io.Serializable;

/** The shape of one sample: channels x height x width (a feature vector is F x 1 x 1). */
public record Shape(int channels, int height, int width) implements Serializable {
  public Shape {
    if (channels <= 0 || height <= 0 || width <= 0) {
      throw new IllegalArgumentException(
          "shape dimensions must be positive, found " + channels + "x" + height + "x" + width);
    }
    if ((long) channels * height * width > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a sample of " + channels + "x" + height + "x" + width
          + " values is more than a Java array can hold");
    }
  }

  /** A flat feature vector of {@code n} values. */
  public static Shape vector(int n) {
    return new Shape(n, 1, 1);
  }

  /**
   * Output size along one axis of a window (convolution or pooling) of size {@code kernel} moved
   * by {@code stride} over {@code size} values padded by {@code padding} on both sides, in floor
   * mode (as PyTorch); non-positive when the window does not fit.
   */
  public static int outSize(int size, int kernel, int stride, int padding) {
    return Math.floorDiv(size + 2 * padding - kernel, stride) + 1;
  }

  /**
   * Shape of {@code channels} planes, each the output of a {@code kh} x {@code kw} window moved by
   * {@code stride} over this shape's planes padded by {@code padding} (see {@link #outSize}).
   */
  public Shape window(int channels, int kh, int kw, int stride, int padding) {
    return new Shape(channels, outSize(height, kh, stride, padding),
        outSize(width, kw, stride, padding));
  }

  /** Number of floats in one sample. */
  public int size() {
    return channels * height * width;
  }

  /** Spatial size height*width. */
  public int spatial() {
    return height * width;
  }

  @Override
  public String toString() {
    return channels + "x" + height + "x" + width;
  }
}
