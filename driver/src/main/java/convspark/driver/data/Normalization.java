package convspark.driver.data;

import convspark.common.BadInputException;
import convspark.driver.config.RunConfig;
import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

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

  /**
   * A fitted standard deviation below this is a constant channel's (an alpha channel, a border),
   * and {@link #fit} gives it std 1 instead, as scikit-learn's StandardScaler does: its values are
   * only centred. Dividing by the tiny std (or a floor like it) would make a test value slightly
   * off the training constant a million standard deviations away.
   */
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
   * The normalization config keys {@code data.normalize.*} ask for: {@code none} (scale only),
   * {@code given} (the configured mean and std) or {@code auto} ({@code fit}, called only then).
   */
  public static Normalization resolve(RunConfig.Data d, int channels,
      Supplier<Normalization> fit) {
    return switch (d.normalize()) {
      case AUTO -> fit.get();
      case NONE -> scaleOnly(d.scale(), channels);
      case GIVEN -> of(d.scale(), d.mean(), d.std(), channels);
    };
  }

  /**
   * Per-channel mean and population standard deviation of {@code x*scale} over all samples of
   * {@code set} ({@link Moments}); a constant channel's std is 1 ({@link #STD_FLOOR}).
   *
   * @throws BadInputException if the set holds NaN or infinite pixels
   */
  public static Normalization fit(ImageSet set, float scale) {
    int n = set.count();
    if (n == 0) {
      throw new IllegalArgumentException("cannot fit a normalization on an empty image set");
    }
    int hw = set.height() * set.width();
    Moments m = new Moments(set.channels(), hw);
    m.addSums(set.pixels(), 0, n);
    double[] mean = m.means(scale);
    for (double v : mean) {
      if (!Double.isFinite(v)) {
        set.validateFinite("data");
      }
    }
    m.addSquares(set.pixels(), 0, n, scale, mean);
    Normalization fitted = m.result(scale, mean);
    if (fitted == null) {
      set.validateFinite("data");
      throw new BadInputException("data: pixel values too large to normalize");
    }
    return fitted;
  }

  /**
   * The one algorithm that estimates the statistics, wherever the samples are (an array on the
   * driver, rows on the executors): two passes in double precision, the first summing the
   * unscaled pixels per channel (per sample, then over samples), the second the squared
   * deviations from the scaled mean. Accumulators of several partitions {@link #merge} in
   * partition order.
   */
  public static final class Moments implements Serializable {
    private static final long serialVersionUID = 1L;
    private final int channels;
    private final int hw;
    private final double[] sum;
    private final double[] sq;
    private long samples;

    public Moments(int channels, int hw) {
      this.channels = channels;
      this.hw = hw;
      this.sum = new double[channels];
      this.sq = new double[channels];
    }

    /** Pass 1: adds {@code count} NCHW samples starting at {@code offset}. */
    public void addSums(float[] px, int offset, int count) {
      for (int i = 0; i < count; i++) {
        for (int c = 0; c < channels; c++) {
          int base = offset + (i * channels + c) * hw;
          double s = 0;
          for (int j = 0; j < hw; j++) {
            s += px[base + j];
          }
          sum[c] += s;
        }
      }
      samples += count;
    }

    /** The scaled per-channel means after pass 1. */
    public double[] means(float scale) {
      double per = (double) samples * hw;
      double[] m = new double[channels];
      for (int c = 0; c < channels; c++) {
        m[c] = sum[c] * scale / per;
      }
      return m;
    }

    /** Pass 2: adds the squared deviations of {@code count} samples from {@code mean}. */
    public void addSquares(float[] px, int offset, int count, float scale, double[] mean) {
      for (int i = 0; i < count; i++) {
        for (int c = 0; c < channels; c++) {
          int base = offset + (i * channels + c) * hw;
          double mc = mean[c];
          double s = 0;
          for (int j = 0; j < hw; j++) {
            double d = (double) px[base + j] * scale - mc;
            s += d * d;
          }
          sq[c] += s;
        }
      }
    }

    /** Adds another partition's sums (same pass) into this one. */
    public Moments merge(Moments o) {
      for (int c = 0; c < channels; c++) {
        sum[c] += o.sum[c];
        sq[c] += o.sq[c];
      }
      samples += o.samples;
      return this;
    }

    /** Samples seen (pass 1). */
    public long samples() {
      return samples;
    }

    /**
     * Pass 2's samples are counted by pass 1: call on the pass-2 accumulator after merging.
     *
     * @return the normalization, or null when a std is not finite (values too large)
     */
    public Normalization result(float scale, double[] mean) {
      return result(scale, mean, samples);
    }

    /** As {@link #result(float, double[])} for a pass-2 accumulator that did not count. */
    public Normalization result(float scale, double[] mean, long n) {
      double per = (double) n * hw;
      float[] mf = new float[channels];
      float[] sf = new float[channels];
      for (int c = 0; c < channels; c++) {
        mf[c] = (float) mean[c];
        double std = Math.sqrt(sq[c] / per);
        sf[c] = std < STD_FLOOR ? 1f : (float) std;
        if (!Float.isFinite(sf[c])) {
          return null;
        }
      }
      return new Normalization(scale, mf, sf);
    }
  }

  /** The checkpoint metadata keys of the normalization a model was trained with. */
  public static final List<String> META_KEYS = List.of("norm.scale", "norm.mean", "norm.std");

  /** This normalization as checkpoint metadata ({@link #META_KEYS}). */
  public Map<String, String> toMeta() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("norm.scale", Float.toString(scale));
    m.put("norm.mean", floats(mean));
    m.put("norm.std", floats(std));
    return m;
  }

  /**
   * Whether {@code o} normalises as this does: the same channels, and scale, means and stds equal
   * to within a relative 1e-5 (a mean relative to its channel's std), so that statistics fitted
   * again on the same data (auto), whose last bit may follow the order of a distributed sum,
   * compare equal, and any change of mode, scale or values does not.
   */
  public boolean sameAs(Normalization o) {
    if (o.mean.length != mean.length || !near(scale, o.scale, Math.max(scale, o.scale))) {
      return false;
    }
    for (int c = 0; c < mean.length; c++) {
      float s = Math.max(std[c], o.std[c]);
      if (!near(mean[c], o.mean[c], s) || !near(std[c], o.std[c], s)) {
        return false;
      }
    }
    return true;
  }

  private static boolean near(float a, float b, float reference) {
    return Math.abs((double) a - b) <= 1e-5 * reference;
  }

  /** In words, for messages: "scale 0.003921569, mean [0.2860], std [0.3530]". */
  public String describe() {
    return "scale " + scale + ", mean " + Arrays.toString(mean) + ", std "
        + Arrays.toString(std);
  }

  /** Whether {@code meta} holds every key {@link #toMeta} writes. */
  public static boolean inMeta(Map<String, String> meta) {
    return meta.keySet().containsAll(META_KEYS);
  }

  /**
   * The normalization a checkpoint's metadata records.
   *
   * @throws BadInputException when the metadata has none, or an unusable one
   */
  public static Normalization fromMeta(Map<String, String> meta, int channels) {
    String key = "norm.scale";
    try {
      float scale = Float.parseFloat(meta.get(key));
      key = "norm.mean";
      float[] mean = parseFloats(meta.get(key));
      key = "norm.std";
      float[] std = parseFloats(meta.get(key));
      return of(scale, mean, std, channels);
    } catch (BadInputException e) {
      throw new BadInputException("checkpoint has no usable normalisation metadata: "
          + e.getMessage(), e);
    } catch (RuntimeException e) {
      String v = meta.get(key);
      throw new BadInputException("checkpoint has no usable normalisation metadata: " + key
          + (v == null ? " is missing" : " = \"" + (v.length() > 80 ? v.substring(0, 80) + "..."
          : v) + "\" is not " + (key.equals("norm.scale") ? "a number" : "a list of numbers")),
          e);
    }
  }

  private static String floats(float[] a) {
    StringBuilder b = new StringBuilder();
    for (float f : a) {
      b.append(b.length() == 0 ? "" : ",").append(f);
    }
    return b.toString();
  }

  private static float[] parseFloats(String s) {
    String[] parts = s.split(",");
    float[] a = new float[parts.length];
    for (int i = 0; i < a.length; i++) {
      a[i] = Float.parseFloat(parts[i]);
    }
    return a;
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
