package convspark.bench;

import com.typesafe.config.ConfigFactory;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.common.spec.ModelSpec;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

/**
 * Bytes allocated per training step of a config's model, one thread, batch 64, after WARMUP
 * steps (default 400, so that the kernels run compiled): the thread's allocated-bytes counter
 * over the next 100 steps. Issue 17 asks for under 1 KB; JMH's {@code -prof gc} in scripts/bench-kernel.sh
 * measures the example net only, this any net, in either layout ({@code
 * -Dconvspark.nn.layout=nchw}). Usage: {@code AllocPerStep CONFIG [WARMUP]}.
 */
public final class AllocPerStep {
  private AllocPerStep() {}

  public static void main(String[] args) {
    ModelSpec spec = ModelSpec.fromConfig(
        ConfigFactory.parseFile(new File(args[0])).getConfig("model"), "model");
    Network net = new Network(spec);
    int n = 64;
    Workspace ws = net.newWorkspace(n);
    float[] params = net.initParams(42);
    float[] state = net.initState();
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < ws.input().length; i++) {
      ws.input()[i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < n; i++) {
      ws.labels()[i] = r.nextInt(net.classes());
    }
    Pass pass = new Pass(params, new float[params.length], state, true, 7L,
        new float[state.length]);
    com.sun.management.ThreadMXBean mx =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 400;
    for (int i = 0; i < warmup; i++) {
      ws.trainStep(pass, n, 0.1);
    }
    int steps = 100;
    long b0 = mx.getCurrentThreadAllocatedBytes();
    for (int i = 0; i < steps; i++) {
      ws.trainStep(pass, n, 0.1);
    }
    long b1 = mx.getCurrentThreadAllocatedBytes();
    System.out.printf("%s, activations %s: %d bytes allocated per step (batch %d, mean of %d"
        + " steps after %d)%n", args[0], ws.channelsLast() ? "channels-last" : "NCHW",
        (b1 - b0) / steps, n, steps, warmup);
  }
}
