package convspark.worker;

import java.io.Serializable;

/**
 * One partition's samples, packed: features NCHW in one float array (already scaled and
 * normalised) and labels in one int array. Partitions hold exactly one block, so a cached
 * training set is a handful of large arrays, not one Java object per sample.
 */
public record SampleBlock(int count, int sampleSize, float[] features, int[] labels)
    implements Serializable {
  public SampleBlock {
    if (features.length != (long) count * sampleSize || labels.length != count) {
      throw new IllegalArgumentException("block of " + count + " samples of " + sampleSize
          + " values has " + features.length + " features and " + labels.length + " labels");
    }
  }

  /**
   * Splits {@code count} samples into {@code parts} contiguous, balanced blocks (sizes differ by
   * at most one). The caller shuffles first if the order carries meaning.
   */
  public static SampleBlock[] split(float[] features, int[] labels, int sampleSize, int parts) {
    int n = labels.length;
    SampleBlock[] blocks = new SampleBlock[parts];
    int start = 0;
    for (int p = 0; p < parts; p++) {
      int size = n / parts + (p < n % parts ? 1 : 0);
      float[] f = new float[size * sampleSize];
      System.arraycopy(features, start * sampleSize, f, 0, f.length);
      int[] l = new int[size];
      System.arraycopy(labels, start, l, 0, size);
      blocks[p] = new SampleBlock(size, sampleSize, f, l);
      start += size;
    }
    return blocks;
  }
}
