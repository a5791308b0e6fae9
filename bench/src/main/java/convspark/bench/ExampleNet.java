package convspark.bench;

import convspark.common.nn.Conv2d;
import convspark.common.nn.Dense;
import convspark.common.nn.Layer;
import convspark.common.nn.Network;
import convspark.common.nn.Residual;
import convspark.common.spec.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The network the kernel benchmarks measure, and the GEMMs each of its conv and dense layers
 * issues at a given batch size.
 *
 * <p>The model is the {@code model} block of {@code conf/fashion-mnist.conf} (read from the path
 * in system property {@code convspark.bench.conf}, else from {@code conf/fashion-mnist.conf}
 * relative to the working directory); when that file is absent, the embedded copy below is used.
 */
public final class ExampleNet {
  /** The batch size of every kernel benchmark (one Spark task's local batch). */
  public static final int BATCH = 64;

  /** A copy of the model block of conf/fashion-mnist.conf, used when the file is absent. */
  static final String EMBEDDED_MODEL = """
      model {
        input { channels = 1, height = 28, width = 28 }
        layers = [
          { type = conv, filters = 32, kernel = 3, padding = 1 }
          { type = batchnorm }
          { type = maxpool, kernel = 2 }
          { type = relu }
          { type = conv, filters = 64, kernel = 3, padding = 1 }
          { type = batchnorm }
          { type = maxpool, kernel = 2 }
          { type = relu }
          { type = dropout, rate = 0.2 }
          { type = flatten }
          { type = dense, units = 128 }
          { type = relu }
          { type = dropout, rate = 0.25 }
          { type = dense, units = 10 }
        ]
      }
      """;

  private ExampleNet() {}

  /** Where the model came from: a path, or "embedded". */
  public static String source() {
    Path p = confPath();
    return Files.isReadable(p) ? p.toString() : "embedded copy of conf/fashion-mnist.conf";
  }

  private static Path confPath() {
    return Path.of(System.getProperty("convspark.bench.conf", "conf/fashion-mnist.conf"));
  }

  public static Network network() {
    Path p = confPath();
    String hocon = EMBEDDED_MODEL;
    if (Files.isReadable(p)) {
      try {
        hocon = Files.readString(p);
      } catch (IOException e) {
        throw new IllegalStateException("cannot read " + p, e);
      }
    }
    return new Network(ModelSpec.parse(hocon));
  }

  /** Uniform values in [-1, 1): no zeros, no denormals. */
  public static void fillRandom(float[] a, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < a.length; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
  }

  /**
   * One row-major GEMM exactly as {@link convspark.common.blas.Blas#gemm} is called by a layer:
   * C[m x n] = alpha op(A) op(B) + beta C with the layer's leading dimensions.
   */
  public record Gemm(String role, boolean transA, boolean transB, int m, int n, int k, int lda,
      int ldb, float beta, int ldc) {
    public long flops() {
      return 2L * m * n * k;
    }

    public int aSize() {
      return (transA ? k : m) * lda;
    }

    public int bSize() {
      return (transB ? n : k) * ldb;
    }

    public int cSize() {
      return m * ldc;
    }

    /** "MxNxK" with op flags, e.g. "32x50176x9 NN". */
    public String describe() {
      return m + "x" + n + "x" + k + " " + (transA ? "T" : "N") + (transB ? "T" : "N");
    }
  }

  /** A conv or dense layer of the network with the GEMMs its forward and backward issue. */
  public record GemmLayer(String name, int index, Layer layer, String shape, boolean first,
      List<Gemm> forward, List<Gemm> backward) {
    public long forwardFlops() {
      return forward.stream().mapToLong(Gemm::flops).sum();
    }

    public long backwardFlops() {
      return backward.stream().mapToLong(Gemm::flops).sum();
    }

    public long flops() {
      return forwardFlops() + backwardFlops();
    }
  }

  /**
   * The conv and dense layers of {@code net}, named conv1, conv2, ..., dense1, ... in execution
   * order; those inside a residual block (body, then shortcut) carry the block's index.
   */
  public static List<GemmLayer> gemmLayers(Network net, int batch) {
    List<GemmLayer> out = new ArrayList<>();
    int convs = 0;
    int denses = 0;
    List<Layer> layers = new ArrayList<>();
    List<Integer> index = new ArrayList<>();
    for (int i = 0; i < net.layers().size(); i++) {
      flatten(net.layers().get(i), i, layers, index);
    }
    for (int j = 0; j < layers.size(); j++) {
      Layer l = layers.get(j);
      int i = index.get(j);
      boolean first = j == 0; // the first layer's input gradient is never computed
      if (l instanceof Conv2d c) {
        int oc = c.outShape().channels();
        int p = c.outShape().spatial();
        int ckk = (int) (c.macsPerImage() / ((long) oc * p));
        int np = batch * p;
        // ckk: one group's column depth; a grouped conv's g GEMMs are counted as one of the
        // same FLOPs, [oc, np, ckk]
        int k = (int) Math.round(Math.sqrt((double) ckk * c.groups() / c.inShape().channels()));
        List<Gemm> fwd = List.of(new Gemm("fwd", false, false, oc, np, ckk, ckk, np, 0f, np));
        List<Gemm> bwd = new ArrayList<>();
        bwd.add(new Gemm("wgrad", false, true, oc, ckk, np, np, np, 1f, ckk));
        if (!first) {
          bwd.add(new Gemm("igrad", true, false, ckk, np, oc, ckk, np, 0f, np));
        }
        out.add(new GemmLayer("conv" + (++convs), i, l,
            c.inShape() + " -> " + c.outShape() + " k" + k
                + (c.groups() > 1 ? " groups " + c.groups() : "")
                + (c.perImage() ? " (issued as " + batch + " per-image GEMMs)" : ""),
            first, fwd, List.copyOf(bwd)));
      } else if (l instanceof Dense d) {
        int ni = d.inShape().size();
        int no = d.outShape().size();
        boolean bias = d.paramCount() == ni * no + no;
        List<Gemm> fwd =
            List.of(new Gemm("fwd", false, true, batch, no, ni, ni, ni, bias ? 1f : 0f, no));
        List<Gemm> bwd = new ArrayList<>();
        bwd.add(new Gemm("wgrad", true, false, no, ni, batch, no, ni, 1f, ni));
        if (!first) {
          bwd.add(new Gemm("igrad", false, false, batch, ni, no, no, ni, 0f, ni));
        }
        out.add(new GemmLayer("dense" + (++denses), i, l, ni + " -> " + no, first, fwd,
            List.copyOf(bwd)));
      }
    }
    return out;
  }

  private static void flatten(Layer l, int i, List<Layer> layers, List<Integer> index) {
    if (l instanceof Residual r) {
      r.body().forEach(x -> flatten(x, i, layers, index));
      r.shortcut().forEach(x -> flatten(x, i, layers, index));
    } else {
      layers.add(l);
      index.add(i);
    }
  }

  public static GemmLayer gemmLayer(Network net, int batch, String name) {
    for (GemmLayer g : gemmLayers(net, batch)) {
      if (g.name().equals(name)) {
        return g;
      }
    }
    throw new IllegalArgumentException("no layer named " + name + " in the example network");
  }
}
