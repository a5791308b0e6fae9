package convspark.bench;

import convspark.common.nn.Layer;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import java.util.Arrays;

/**
 * A/B timing of one layer of the example network under two settings of a system property read
 * when a layer builds its workspace (e.g. {@code convspark.conv.chunkFloats}), in one JVM: two
 * contexts are built, one per setting, and forward+backward calls alternate between them, so
 * both see the same machine load (meant for shared machines, where separate runs minutes apart
 * are not comparable). Prints the median and quartiles of each, in ms per call.
 *
 * <p>{@code java -cp bench/target/benchmarks.jar convspark.bench.LayerAB LAYER_INDEX BATCH
 * PROPERTY VALUE_A VALUE_B [CALLS]}, e.g. {@code ... LayerAB 4 256 convspark.conv.chunkFloats
 * 524288 1000000000 200} (layer 4 is conv2).
 */
public final class LayerAB {
  private LayerAB() {}

  public static void main(String[] args) {
    int index = Integer.parseInt(args[0]);
    int n = Integer.parseInt(args[1]);
    String property = args[2];
    String[] values = {args[3], args[4]};
    int calls = args.length > 5 ? Integer.parseInt(args[5]) : 100;
    Network net = ExampleNet.network();
    Layer layer = net.layers().get(index);
    Layer.Context[] ctx = new Layer.Context[2];
    for (int v = 0; v < 2; v++) {
      System.setProperty(property, values[v]);
      ctx[v] = layer.newContext(n);
    }
    float[] x = new float[n * layer.inShape().size()];
    float[] y = new float[n * layer.outShape().size()];
    float[] gy = new float[y.length];
    float[] gx = new float[x.length];
    ExampleNet.fillRandom(x, 1);
    ExampleNet.fillRandom(gy, 2);
    Pass pass = new Pass(net.initParams(42), new float[net.paramCount()], net.initState(), true,
        7L, new float[net.stateCount()]);
    int warmup = Math.max(10, calls / 5);
    double[][] ms = new double[2][calls];
    for (int c = -warmup; c < calls; c++) {
      for (int v = 0; v < 2; v++) {
        int which = (c & 1) == 0 ? v : 1 - v; // alternate which goes first
        long t0 = System.nanoTime();
        layer.forward(pass, ctx[which], x, y, n);
        layer.backward(pass, ctx[which], x, y, gy, gx, n);
        if (c >= 0) {
          ms[which][c] = (System.nanoTime() - t0) / 1e6;
        }
      }
    }
    System.out.printf("layer %d (%s -> %s), batch %d, %d alternating calls each, %s%n", index,
        layer.inShape(), layer.outShape(), n, calls, convspark.common.blas.Blas.describe());
    for (int v = 0; v < 2; v++) {
      double[] s = ms[v].clone();
      Arrays.sort(s);
      System.out.printf("  %s=%s: median %.3f ms (quartiles %.3f-%.3f), %.4f ms per image%n",
          property, values[v], s[calls / 2], s[calls / 4], s[3 * calls / 4], s[calls / 2] / n);
    }
  }
}
