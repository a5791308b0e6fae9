package convspark.driver;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;

/**
 * A small, learnable, generated image data set for tests that must not depend on Fashion-MNIST:
 * 1 x 12 x 12 grayscale images of 4 classes; class c has a bright 4 x 4 square in quadrant c,
 * placed with a random offset, on uniform noise. A small CNN separates them well; a model that
 * learned nothing scores 0.25.
 */
public final class TestData {
  private TestData() {}

  public static final int SIZE = 12;
  public static final int CLASSES = 4;

  /** Pixels (0..255) of n images and their labels. */
  public static byte[][] generate(int n, long seed, int[] labelsOut) {
    SplittableRandom rng = new SplittableRandom(seed);
    byte[][] images = new byte[n][SIZE * SIZE];
    for (int i = 0; i < n; i++) {
      int c = rng.nextInt(CLASSES);
      labelsOut[i] = c;
      byte[] img = images[i];
      for (int p = 0; p < img.length; p++) {
        img[p] = (byte) rng.nextInt(90);
      }
      int oy = (c / 2) * 6 + rng.nextInt(3);
      int ox = (c % 2) * 6 + rng.nextInt(3);
      for (int y = 0; y < 4; y++) {
        for (int x = 0; x < 4; x++) {
          img[(oy + y) * SIZE + ox + x] = (byte) (150 + rng.nextInt(100));
        }
      }
    }
    return images;
  }

  /** Writes n samples as gzipped IDX files {@code prefix-images.idx.gz} / labels; returns them. */
  public static Path[] writeIdx(Path dir, String prefix, int n, long seed) throws IOException {
    int[] labels = new int[n];
    byte[][] images = generate(n, seed, labels);
    Path img = dir.resolve(prefix + "-images.idx.gz");
    Path lab = dir.resolve(prefix + "-labels.idx.gz");
    try (DataOutputStream out = new DataOutputStream(gz(img))) {
      out.writeInt(0x00000803);
      out.writeInt(n);
      out.writeInt(SIZE);
      out.writeInt(SIZE);
      for (byte[] b : images) {
        out.write(b);
      }
    }
    try (DataOutputStream out = new DataOutputStream(gz(lab))) {
      out.writeInt(0x00000801);
      out.writeInt(n);
      for (int l : labels) {
        out.writeByte(l);
      }
    }
    return new Path[] {img, lab};
  }

  private static OutputStream gz(Path p) throws IOException {
    return new GZIPOutputStream(Files.newOutputStream(p));
  }

  /** The project directory: -Dconvspark.root (set by the POM), else found from user.dir. */
  public static Path projectRoot() {
    String p = System.getProperty("convspark.root");
    if (p != null) {
      return Path.of(p).toAbsolutePath().normalize();
    }
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (java.nio.file.Files.exists(d.resolve("scripts/local-cluster.sh"))) {
        return d;
      }
    }
    throw new IllegalStateException("no scripts/local-cluster.sh above " + Path.of("")
        .toAbsolutePath());
  }

  /**
   * Writes {@code train} training samples (seed 1) and {@code test} test samples (seed 2) as IDX
   * files in {@code dir}, and {@link #config} for them as {@code dir/name}; returns the config.
   */
  public static Path writeConfig(Path dir, String name, int train, int test) throws IOException {
    Path[] tr = writeIdx(dir, "train", train, 1);
    Path[] te = writeIdx(dir, "test", test, 2);
    return Files.writeString(dir.resolve(name), config(tr[0], tr[1], te[0], te[1]));
  }

  /** A config for the generated data: a small conv net with BN and dropout. */
  public static String config(Path train0, Path train1, Path test0, Path test1) {
    return """
        data {
          format = idx
          train { images = "%s", labels = "%s" }
          test { images = "%s", labels = "%s" }
          scale = 0.00392156862745098
          validation-fraction = 0.2
        }
        model {
          input { channels = 1, height = 12, width = 12 }
          layers = [
            { type = conv, filters = 6, kernel = 3, padding = 1 }
            { type = batchnorm }
            { type = relu }
            { type = maxpool, kernel = 2 }
            { type = dropout, rate = 0.1 }
            { type = flatten }
            { type = dense, units = 4 }
          ]
        }
        train {
          epochs = 4
          workers = 2
          global-batch = 32
          base-lr = 0.05
          base-batch = 32
          warmup-epochs = 1
          schedule = cosine
          optimizer { type = sgd, momentum = 0.9, nesterov = true }
          l2 = 1e-4
          label-smoothing = 0.1
          seed = 7
          log-every-steps = 0
        }
        spark { master = "local[2]" }
        """.formatted(train0, train1, test0, test1);
  }

  /**
   * {@code sets} after the --set values that empty the IDX files {@link #config} names: a run of
   * another data.format (csv, dataframe) on that config, where they would be refused as keys
   * the format does not read.
   */
  public static String[] noIdx(String... sets) {
    String[] all = new String[4 + sets.length];
    String[] blank = {"data.train.images=", "data.train.labels=", "data.test.images=",
        "data.test.labels="};
    System.arraycopy(blank, 0, all, 0, 4);
    System.arraycopy(sets, 0, all, 4, sets.length);
    return all;
  }

  /** {@code args} (a command line), then {@link #noIdx}'s values, each after "--set". */
  public static String[] noIdxArgs(String... args) {
    String[] blank = noIdx();
    String[] all = java.util.Arrays.copyOf(args, args.length + 2 * blank.length);
    for (int i = 0; i < blank.length; i++) {
      all[args.length + 2 * i] = "--set";
      all[args.length + 2 * i + 1] = blank[i];
    }
    return all;
  }
}
