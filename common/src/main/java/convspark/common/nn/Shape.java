package convspark.common.nn;

import java.io.Serializable;

/** The shape of one sample: channels x height x width (a feature vector is F x 1 x 1). */
public record Shape(int channels, int height, int width) implements Serializable {
  public Shape {
    if (channels <= 0 || height <= 0 || width <= 0) {
      throw new IllegalArgumentException(
          "shape dimensions must be positive, found " + channels + "x" + height + "x" + width);
    }
  }

  /** A flat feature vector of {@code n} values. */
  public static Shape vector(int n) {
    return new Shape(n, 1, 1);
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
