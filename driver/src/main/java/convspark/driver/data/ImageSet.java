package convspark.driver.data;

import convspark.common.BadInputException;
import convspark.worker.PartitionStep;
import java.io.Serializable;
import java.util.Arrays;

/**
 * An in-memory labelled image set in NCHW layout: sample {@code i} occupies {@code
 * pixels[i*sampleSize() .. (i+1)*sampleSize())}, channel-major, then rows, then columns. Pixel values
 * are raw as read (for IDX files 0..255 as float, unscaled); see {@link Normalization}.
 *
 * <p>{@code equals} compares contents; {@code hashCode} only the shape (cheap, consistent with
 * equals).
 */
public record ImageSet(int count, int channels, int height, int width, float[] pixels, int[] labels)
    implements Serializable {

  /** Result of {@link #split}: disjoint train and holdout sets that together hold every sample. */
  public record Split(ImageSet train, ImageSet holdout) implements Serializable {}

  /** Validates the shape and the array lengths. */
  public ImageSet {
    if (count < 0) {
      throw new IllegalArgumentException("image count must be >= 0, found " + count);
    }
    if (channels <= 0 || height <= 0 || width <= 0) {
      throw new IllegalArgumentException(
          "image shape must be positive, found " + channels + "x" + height + "x" + width);
    }
    if (pixels == null || labels == null) {
      throw new IllegalArgumentException("pixels and labels must not be null");
    }
    long expected = (long) count * channels * height * width;
    if ((long) channels * height * width > Integer.MAX_VALUE || pixels.length != expected) {
      throw new IllegalArgumentException(
          "pixels.length must be count*channels*height*width = " + count + "*" + channels + "*"
              + height + "*" + width + ", found " + pixels.length);
    }
    if (labels.length != count) {
      throw new IllegalArgumentException(
          "labels.length must equal count " + count + ", found " + labels.length);
    }
  }

  /** Number of floats per sample: channels*height*width. */
  public int sampleSize() {
    return channels * height * width;
  }

  /**
   * Checks that every label is in {@code [0, classes)}.
   *
   * @param source the file or data set name used in the message
   * @throws BadInputException naming the source, the first bad index and its value
   */
  public void validateLabels(int classes, String source) {
    if (classes <= 0) {
      throw new IllegalArgumentException("classes must be positive, found " + classes);
    }
    for (int i = 0; i < count; i++) {
      int l = labels[i];
      if (l < 0 || l >= classes) {
        throw new BadInputException(
            source + ": label " + l + " of sample " + i + " (counting from 0) is outside [0, "
                + classes + ")"
                + " (the model has " + classes + " classes)");
      }
    }
  }

  /**
   * Checks that every pixel is finite.
   *
   * @param source the file or data set name used in the message
   * @throws BadInputException naming the source and the first sample with a NaN or infinite value
   */
  public void validateFinite(String source) {
    for (int p = 0; p < pixels.length; p++) {
      float v = pixels[p];
      if (!Float.isFinite(v)) {
        int s = sampleSize();
        int i = p / s;
        int r = p % s;
        int hw = height * width;
        throw new BadInputException(
            source + ": sample " + i + " has a non-finite pixel value " + v + " at channel "
                + (r / hw) + ", row " + ((r % hw) / width) + ", column " + (r % width)
                + "; expected finite numbers");
      }
    }
  }

  /**
   * Checks that every pixel, multiplied by {@code scale}, is at most {@code limit} in magnitude: a
   * single absurd value (a corrupted 1e30 in a CSV) would otherwise dominate the normalisation
   * statistics and the run would train on garbage without an error.
   *
   * @throws BadInputException naming the source, the sample, its position and the value
   */
  public void validateMagnitude(String source, double scale, double limit) {
    double raw = limit / Math.abs(scale);
    for (int p = 0; p < pixels.length; p++) {
      float v = pixels[p];
      if (Math.abs(v) > raw) {
        int s = sampleSize();
        int i = p / s;
        int r = p % s;
        int hw = height * width;
        throw new BadInputException(
            source + ": sample " + i + " (counting from 0) has pixel value " + v + " at channel "
                + (r / hw)
                + ", row " + ((r % hw) / width) + ", column " + (r % width) + "; times data.scale ("
                + (float) scale + ") that is beyond +-" + (float) limit + ", not an image value");
      }
    }
  }

  /**
   * A new set holding the samples at {@code indices}, in that order (duplicates allowed).
   *
   * @throws IndexOutOfBoundsException if an index is outside {@code [0, count)}
   */
  public ImageSet subset(int[] indices) {
    int s = sampleSize();
    long total = (long) indices.length * s;
    if (total > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("subset of " + indices.length + " samples is too large");
    }
    float[] px = new float[(int) total];
    int[] lb = new int[indices.length];
    for (int k = 0; k < indices.length; k++) {
      int i = indices[k];
      if (i < 0 || i >= count) {
        throw new IndexOutOfBoundsException(
            "subset index " + i + " at position " + k + " is outside [0, " + count + ")");
      }
      System.arraycopy(pixels, i * s, px, k * s, s);
      lb[k] = labels[i];
    }
    return new ImageSet(indices.length, channels, height, width, px, lb);
  }

  /**
   * Splits {@code set} randomly into train and holdout. A Fisher-Yates shuffle seeded with {@code
   * seed} (always; the result depends only on the seed and the count) orders the samples; the first
   * {@code round(count*fraction)} go to the holdout, the rest to train, each in shuffled order.
   *
   * @param fraction holdout fraction in [0, 1]
   */
  public static Split split(ImageSet set, double fraction, long seed) {
    if (!(fraction >= 0.0 && fraction <= 1.0)) {
      throw new IllegalArgumentException("holdout fraction must be in [0, 1], found " + fraction);
    }
    int n = set.count();
    int h = (int) Math.round(n * fraction);
    int[] perm = new int[n];
    PartitionStep.shuffle(perm, n, seed);
    ImageSet holdout = set.subset(Arrays.copyOfRange(perm, 0, h));
    ImageSet train = set.subset(Arrays.copyOfRange(perm, h, n));
    return new Split(train, holdout);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ImageSet other
        && count == other.count
        && channels == other.channels
        && height == other.height
        && width == other.width
        && Arrays.equals(labels, other.labels)
        && Arrays.equals(pixels, other.pixels);
  }

  @Override
  public int hashCode() {
    return ((count * 31 + channels) * 31 + height) * 31 + width;
  }

  @Override
  public String toString() {
    return "ImageSet[count=" + count + ", shape=" + channels + "x" + height + "x" + width + "]";
  }
}
