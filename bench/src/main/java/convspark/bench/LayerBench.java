package convspark.bench;

import convspark.bench.ExampleNet.Gemm;
import convspark.bench.ExampleNet.GemmLayer;
import convspark.common.blas.Blas;
import convspark.common.nn.Layer;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One conv or dense layer of the example network at batch {@link ExampleNet#BATCH}: the layer's
 * own forward+backward through the {@link Layer} API ({@code kernel}) against the bare sgemm calls
 * of exactly the same shapes, transposes, leading dimensions and betas ({@code sgemm}). The ratio
 * of their times is the kernel's efficiency: what im2col, col2im, layout copies and bias sums
 * cost on top of the GEMMs.
 *
 * <p>The first layer of the network gets no input gradient (gradIn == null, as in
 * {@code Workspace.trainStep}), so its backward is one GEMM (weight gradient) instead of two, in
 * both variants. {@code kernelFwd/kernelBwd/sgemmFwd/sgemmBwd} split the same work into its two
 * halves for finding hot spots (not run by default by scripts/bench-kernel.sh).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Threads(1)
@Fork(value = 2, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LayerBench {
  @Param({"conv1", "conv2", "dense1", "dense2"})
  public String layer;

  private GemmLayer target;
  private Layer l;
  private Layer.Context ctx;
  private Pass pass;
  private float[] in;
  private float[] out;
  private float[] gradOut;
  private float[] gradIn;

  private Gemm[] fwd;
  private Gemm[] bwd;
  private float[][] fa;
  private float[][] fb;
  private float[][] fc;
  private float[][] ba;
  private float[][] bb;
  private float[][] bc;

  @Setup(Level.Trial)
  public void setUp() {
    Network net = ExampleNet.network();
    int n = ExampleNet.BATCH;
    target = ExampleNet.gemmLayer(net, n, layer);
    l = target.layer();
    // the layout the layer has inside its network's workspaces (channels-last when every layer
    // can, unless -Dconvspark.nn.layout=nchw); random inputs either way
    ctx = l.newContext(n, true, net.newWorkspace(1).channelsLast());
    float[] params = net.initParams(42);
    pass = new Pass(params, new float[net.paramCount()], net.initState(), true, 7L,
        new float[net.stateCount()]);
    in = new float[n * l.inShape().size()];
    out = new float[n * l.outShape().size()];
    gradOut = new float[n * l.outShape().size()];
    gradIn = target.first() ? null : new float[n * l.inShape().size()];
    ExampleNet.fillRandom(in, 1);
    ExampleNet.fillRandom(gradOut, 2);

    fwd = target.forward().toArray(new Gemm[0]);
    bwd = target.backward().toArray(new Gemm[0]);
    fa = operands(fwd, 0);
    fb = operands(fwd, 1);
    fc = operands(fwd, 2);
    ba = operands(bwd, 0);
    bb = operands(bwd, 1);
    bc = operands(bwd, 2);
  }

  private static float[][] operands(Gemm[] gemms, int which) {
    float[][] r = new float[gemms.length][];
    for (int i = 0; i < gemms.length; i++) {
      Gemm g = gemms[i];
      r[i] = new float[which == 0 ? g.aSize() : which == 1 ? g.bSize() : g.cSize()];
      ExampleNet.fillRandom(r[i], 10L * i + which);
    }
    return r;
  }

  /** Gradients are accumulated (beta = 1): start every iteration from zero to keep them small. */
  @Setup(Level.Iteration)
  public void zeroAccumulators() {
    Arrays.fill(pass.grads(), 0f);
    for (int i = 0; i < bwd.length; i++) {
      if (bwd[i].beta() != 0f) {
        Arrays.fill(bc[i], 0f);
      }
    }
    for (int i = 0; i < fwd.length; i++) {
      if (fwd[i].beta() != 0f) {
        ExampleNet.fillRandom(fc[i], 99);
      }
    }
  }

  private static void run(Gemm[] gemms, float[][] a, float[][] b, float[][] c) {
    for (int i = 0; i < gemms.length; i++) {
      Gemm g = gemms[i];
      Blas.gemm(g.transA(), g.transB(), g.m(), g.n(), g.k(), 1f, a[i], 0, g.lda(), b[i], 0,
          g.ldb(), g.beta(), c[i], 0, g.ldc());
    }
  }

  /** The layer's forward then backward, as the network runs them. */
  @Benchmark
  public float kernel() {
    int n = ExampleNet.BATCH;
    l.forward(pass, ctx, in, out, n);
    l.backward(pass, ctx, in, out, gradOut, gradIn, n);
    return out[0];
  }

  /** The same GEMMs, nothing else. */
  @Benchmark
  public float sgemm() {
    run(fwd, fa, fb, fc);
    run(bwd, ba, bb, bc);
    return fc[0][0];
  }

  @Benchmark
  public float kernelFwd() {
    l.forward(pass, ctx, in, out, ExampleNet.BATCH);
    return out[0];
  }

  /**
   * Backward alone. For a conv layer with an input gradient the context's column buffer then
   * holds the previous call's column gradient rather than im2col(in): same shapes, same work.
   */
  @Benchmark
  public float kernelBwd() {
    l.backward(pass, ctx, in, out, gradOut, gradIn, ExampleNet.BATCH);
    return pass.grads()[l.paramOffset()];
  }

  @Benchmark
  public float sgemmFwd() {
    run(fwd, fa, fb, fc);
    return fc[0][0];
  }

  @Benchmark
  public float sgemmBwd() {
    run(bwd, ba, bb, bc);
    return bc[0][0];
  }
}
