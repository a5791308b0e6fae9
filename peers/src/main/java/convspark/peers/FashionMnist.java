package convspark.peers;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Fashion-MNIST from the IDX files (gzipped or not): pixels scaled to [0, 1], then, if asked,
 * normalised with the mean and standard deviation of the whole training split, as convspark's
 * {@code data.normalize.mode = auto} does (a single channel).
 */
public final class FashionMnist {
  public static final String DIR = "/usr/share/datasets/fashion-mnist";
  public static final int PIXELS = 28 * 28;

  public final float[] images; // n x 784, row-major
  public final int[] labels;
  public final int count;

  private FashionMnist(float[] images, int[] labels) {
    this.images = images;
    this.labels = labels;
    this.count = labels.length;
  }

  /** "train" or "t10k", scaled to [0, 1], at most {@code limit} samples (0: all). */
  public static FashionMnist load(String dir, String split, int limit) throws IOException {
    int[] labels = readLabels(Path.of(dir, split + "-labels-idx1-ubyte.gz"), limit);
    float[] images = readImages(Path.of(dir, split + "-images-idx3-ubyte.gz"), labels.length);
    return new FashionMnist(images, labels);
  }

  /** Mean and standard deviation over every pixel of {@code d} (population std, in double). */
  public static double[] meanStd(FashionMnist d) {
    double s = 0;
    double s2 = 0;
    for (float v : d.images) {
      s += v;
      s2 += (double) v * v;
    }
    double n = d.images.length;
    double mean = s / n;
    return new double[] {mean, Math.sqrt(Math.max(s2 / n - mean * mean, 1e-12))};
  }

  public void normalize(double mean, double std) {
    float m = (float) mean;
    float inv = (float) (1.0 / std);
    for (int i = 0; i < images.length; i++) {
      images[i] = (images[i] - m) * inv;
    }
  }

  private static InputStream open(Path p) throws IOException {
    InputStream in = Files.newInputStream(p);
    return p.toString().endsWith(".gz") ? new GZIPInputStream(in, 1 << 16) : in;
  }

  private static int[] readLabels(Path p, int limit) throws IOException {
    try (DataInputStream in = new DataInputStream(open(p))) {
      if (in.readInt() != 0x801) {
        throw new IOException(p + ": not an IDX label file");
      }
      int n = in.readInt();
      if (limit > 0) {
        n = Math.min(n, limit);
      }
      byte[] b = new byte[n];
      in.readFully(b);
      int[] labels = new int[n];
      for (int i = 0; i < n; i++) {
        labels[i] = b[i] & 0xff;
      }
      return labels;
    }
  }

  private static float[] readImages(Path p, int n) throws IOException {
    try (DataInputStream in = new DataInputStream(open(p))) {
      if (in.readInt() != 0x803) {
        throw new IOException(p + ": not an IDX image file");
      }
      int total = in.readInt();
      int rows = in.readInt();
      int cols = in.readInt();
      if (rows * cols != PIXELS || total < n) {
        throw new IOException(p + ": unexpected shape " + total + "x" + rows + "x" + cols);
      }
      byte[] b = new byte[n * PIXELS];
      in.readFully(b);
      float[] x = new float[b.length];
      for (int i = 0; i < b.length; i++) {
        x[i] = (b[i] & 0xff) / 255f;
      }
      return x;
    }
  }
}
