package convspark.driver.data;

import convspark.common.BadInputException;
import java.io.Serializable;
import java.util.Arrays;

/**
 * Per-channel input normalization {@code x -> (x*scale - mean[c]) / std[c]}, computed in float
 * exactly as written. Construct from configuration with {@link #of} (which validates against the
 * channel count), or estimate from data with {@link #fit}.
 *
 * <p>The constructor copies the arrays; {@code equals}/{@code hashCode} compare their contents.
 */
public record Normalization(float scale, float[] mean, float[] std) implements Serializable {
  /** Configuration key of the per-channel means, used in error messages. */
  public static final String MEAN_KEY = "data.normalize.mean";

  /** Configuration key of the per-channel standard deviations, used in error messages. */
  public static final String STD_KEY = "data.normalize.std";

  /** Smallest standard deviation {@link #fit} returns (constant channels would divide by 0). */
  public static final double STD_FLOOR = 1e-6;

  /**
   * Validates the values: scale finite and positive (IllegalArgumentException), every mean finite
   * and every std finite and {@code > 0}, and as many stds as means (BadInputException naming
   * {@value #MEAN_KEY} or {@value #STD_KEY}).
   */
  public Normalization {
    if (!(Float.isFinite(scale) && scale > 0)) {
      throw new IllegalArgumentException(
          "normalization scale must be a positive finite number, found " + scale);
    }
    if (mean == null) {
      throw new BadInputException(MEAN_KEY + ": missing; expected one number per channel");
    }
    if (std == null) {
      throw new BadInputException(STD_KEY + ": missing; expected one number per channel");
    }
    mean = mean.clone();
    std = std.clone();
    for (int c = 0; c < mean.length; c++) {
      if (!Float.isFinite(mean[c])) {
        throw new BadInputException(
            MEAN_KEY + ": value " + c + " is " + mean[c] + ", expected a finite number");
      }
    }
    for (int c = 0; c < std.length; c++) {
      if (!(Float.isFinite(std[c]) && std[c] > 0)) {
        throw new BadInputException(
            STD_KEY + ": value " + c + " is " + std[c] + ", expected a finite number > 0");
      }
    }
    if (mean.length != std.length) {
      throw new BadInputException(
          STD_KEY + ": has " + std.length + " values but " + MEAN_KEY + " has " + mean.length
              + "; expected one per channel in both");
    }
  }

  /**
   * A normalization from configuration values, checked against the data's channel count.
   *
   * @throws BadInputException naming {@value #MEAN_KEY} or {@value #STD_KEY}
   */
  public static Normalization of(float scale, float[] mean, float[] std, int channels) {
    Normalization n = new Normalization(scale, mean, std);
    n.validate(channels);
    return n;
  }

  /** Only scaling: mean 0 and std 1 for every channel. */
  public static Normalization scaleOnly(float scale, int channels) {
    float[] ones = new float[channels];
    Arrays.fill(ones, 1f);
    return new Normalization(scale, new float[channels], ones);
  }

  /**
   * Checks that there is one mean and one std per channel.
   *
   * @throws BadInputException naming {@value #MEAN_KEY} or {@value #STD_KEY}
   */
  public void validate(int channels) {
    if (mean.length != channels) {
      throw new BadInputException(
          MEAN_KEY + ": expected " + channels + " values (one per channel), found "
              + mean.length);
    }
    if (std.length != channels) {
      throw new BadInputException(
          STD_KEY + ": expected " + channels + " values (one per channel), found " + std.length);
    }
  }

  /** Number of channels this normalization applies to. */
  public int channels() {
    return mean.length;
  }

  /**
   * Per-channel mean and population standard deviation of {@code x*scale} over all samples of
   * {@code set}, accumulated in double precision (two passes); std is at least {@link #STD_FLOOR}.
   *
   * @throws BadInputException if the set holds NaN or infinite pixels
   */
  public static Normalization fit(ImageSet set, float scale) {
    int n = set.count();
    if (n == 0) {
      throw new IllegalArgumentException("cannot fit a normalization on an empty image set");
    }
    int channels = set.channels();
    int hw = set.height() * set.width();
    float[] px = set.pixels();
    double[] sum = new double[channels];
    for (int i = 0; i < n; i++) {
      for (int c = 0; c < channels; c++) {
        int base = (i * channels + c) * hw;
        double s = 0;
        for (int j = 0; j < hw; j++) {
          s += px[base + j];
        }
        sum[c] += s;
      }
    }
    double per = (double) n * hw;
    double[] m = new double[channels];
    for (int c = 0; c < channels; c++) {
      m[c] = sum[c] * scale / per;
      if (!Double.isFinite(m[c])) {
        set.validateFinite("data");
      }
    }
    double[] sq = new double[channels];
    for (int i = 0; i < n; i++) {
      for (int c = 0; c < channels; c++) {
        int base = (i * channels + c) * hw;
        double mc = m[c];
        double s = 0;
        for (int j = 0; j < hw; j++) {
          double d = (double) px[base + j] * scale - mc;
          s += d * d;
        }
        sq[c] += s;
      }
    }
    float[] mean = new float[channels];
    float[] std = new float[channels];
    for (int c = 0; c < channels; c++) {
      mean[c] = (float) m[c];
      std[c] = (float) Math.max(Math.sqrt(sq[c] / per), STD_FLOOR);
      if (!Float.isFinite(std[c])) {
        set.validateFinite("data");
        throw new BadInputException("data: pixel values too large to normalize: channel " + c
            + " has standard deviation " + std[c]);
      }
    }
    return new Normalization(scale, mean, std);
  }

  /**
   * Normalizes {@code count} NCHW samples of {@code channels*hw} floats starting at {@code offset},
   * in place.
   */
  public void applyInPlace(float[] pixels, int offset, int count, int channels, int hw) {
    if (channels != mean.length) {
      throw new IllegalArgumentException(
          "normalization has " + mean.length + " channels, data has " + channels);
    }
    long end = offset + (long) count * channels * hw;
    if (offset < 0 || count < 0 || hw < 0 || end > pixels.length) {
      throw new IndexOutOfBoundsException(
          "range offset " + offset + " + " + count + " samples of " + channels + "x" + hw
              + " exceeds array length " + pixels.length);
    }
    int k = offset;
    for (int i = 0; i < count; i++) {
      for (int c = 0; c < channels; c++) {
        float m = mean[c];
        float s = std[c];
        for (int j = 0; j < hw; j++, k++) {
          pixels[k] = (pixels[k] * scale - m) / s;
        }
      }
    }
  }

  /** A normalized copy of {@code set}. */
  public ImageSet apply(ImageSet set) {
    float[] px = set.pixels().clone();
    applyInPlace(px, 0, set.count(), set.channels(), set.height() * set.width());
    return new ImageSet(
        set.count(), set.channels(), set.height(), set.width(), px, set.labels().clone());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Normalization other
        && Float.compare(scale, other.scale) == 0
        && Arrays.equals(mean, other.mean)
        && Arrays.equals(std, other.std);
  }

  @Override
  public int hashCode() {
    return (Float.hashCode(scale) * 31 + Arrays.hashCode(mean)) * 31 + Arrays.hashCode(std);
  }

  @Override
  public String toString() {
    return "Normalization[scale=" + scale + ", mean=" + Arrays.toString(mean) + ", std="
        + Arrays.toString(std) + "]";
  }
}
