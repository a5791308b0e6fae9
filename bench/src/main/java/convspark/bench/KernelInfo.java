package convspark.bench;

import convspark.bench.ExampleNet.Gemm;
import convspark.bench.ExampleNet.GemmLayer;
import convspark.common.blas.Blas;
import convspark.common.nn.Network;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints, as one JSON object on stdout, what the kernel benchmark report needs besides timings:
 * which BLAS loaded, the JVM, the example network's spec as JSON ({@code spec}, what
 * {@code bench/peers/torch_peer.py --spec} builds the PyTorch mirror from), and per conv/dense
 * layer of that network at batch {@link ExampleNet#BATCH} its shape, its GEMMs and the FLOPs of
 * its forward+backward. The network is {@link ExampleNet}'s: {@code -Dconvspark.bench.conf=PATH}
 * picks another config's model (scripts/bench-resnet.sh passes the residual net's).
 *
 * <p>{@code java -cp bench/target/benchmarks.jar convspark.bench.KernelInfo}
 */
public final class KernelInfo {
  private KernelInfo() {}

  public static void main(String[] args) {
    Network net = ExampleNet.network();
    int batch = ExampleNet.BATCH;
    StringBuilder sb = new StringBuilder();
    sb.append("{\n");
    field(sb, "blas", Blas.describe()).append(",\n");
    field(sb, "blasNative", Blas.isNative()).append(",\n");
    field(sb, "blasLibrary", Blas.info().library()).append(",\n");
    field(sb, "blasVersion", Blas.info().version()).append(",\n");
    field(sb, "blasKernel", Blas.info().kernel()).append(",\n");
    field(sb, "java", System.getProperty("java.vm.name") + " "
        + System.getProperty("java.runtime.version")).append(",\n");
    field(sb, "model", ExampleNet.source()).append(",\n");
    field(sb, "batch", batch).append(",\n");
    field(sb, "params", net.paramCount()).append(",\n");
    // the model spec as JSON (ModelSpec.render()): what bench/peers/torch_peer.py --spec builds
    sb.append("  \"spec\": ").append(net.spec().render()).append(",\n");
    sb.append("  \"layers\": [\n");
    List<String> items = new ArrayList<>();
    for (GemmLayer g : ExampleNet.gemmLayers(net, batch)) {
      StringBuilder l = new StringBuilder("    {");
      l.append("\"name\": ").append(quote(g.name()));
      l.append(", \"index\": ").append(g.index());
      l.append(", \"shape\": ").append(quote(g.shape()));
      l.append(", \"first\": ").append(g.first());
      l.append(", \"forwardFlops\": ").append(g.forwardFlops());
      l.append(", \"backwardFlops\": ").append(g.backwardFlops());
      l.append(", \"flops\": ").append(g.flops());
      List<String> gs = new ArrayList<>();
      List<Gemm> all = new ArrayList<>(g.forward());
      all.addAll(g.backward());
      for (Gemm m : all) {
        gs.add(quote(m.role() + " " + m.describe()));
      }
      l.append(", \"gemms\": [").append(String.join(", ", gs)).append("]}");
      items.add(l.toString());
    }
    sb.append(String.join(",\n", items)).append("\n  ]\n}");
    System.out.println(sb);
  }

  private static StringBuilder field(StringBuilder sb, String k, Object v) {
    sb.append("  ").append(quote(k)).append(": ");
    return sb.append(v instanceof String s ? quote(s) : String.valueOf(v));
  }

  private static String quote(String s) {
    StringBuilder q = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        q.append('\\').append(c);
      } else if (c < 0x20) {
        q.append(String.format("\\u%04x", (int) c));
      } else {
        q.append(c);
      }
    }
    return q.append('"').toString();
  }
}
