package convspark.bench;

import convspark.common.blas.Blas;
import convspark.common.nn.Flatten;
import convspark.common.nn.Layer;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.SoftmaxCrossEntropy;
import convspark.common.nn.Workspace;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Where the time of one training step goes: runs the example network's layers one by one at
 * batch {@link ExampleNet#BATCH} (the same calls, buffers and order as {@code
 * Workspace.trainStep}) and prints each layer's median forward and backward time and its share of
 * the step. A diagnostic to go with the JMH figures, not a benchmark of its own (no forks, plain
 * nanoTime around each call).
 *
 * <p>{@code OPENBLAS_NUM_THREADS=1 java --add-modules=jdk.incubator.vector -cp
 * bench/target/benchmarks.jar convspark.bench.StepProfile [steps] [--markdown] [--batch=N]}
 * (batch {@link ExampleNet#BATCH} unless given; {@code -Dconvspark.nn.fuse=false} profiles the
 * layers unfused).
 */
public final class StepProfile {
  private StepProfile() {}

  public static void main(String[] args) {
    int steps = 60;
    boolean markdown = false;
    int n = ExampleNet.BATCH;
    for (String a : args) {
      if (a.equals("--markdown")) {
        markdown = true;
      } else if (a.startsWith("--batch=")) {
        n = Integer.parseInt(a.substring("--batch=".length()));
      } else {
        steps = Integer.parseInt(a);
      }
    }
    int warmup = Math.max(20, steps / 2);
    Network net = ExampleNet.network();
    // the kernels Workspace runs: fused unless -Dconvspark.nn.fuse=false
    List<Workspace.Step> plan = Workspace.plan(net,
        !"false".equalsIgnoreCase(System.getProperty(Workspace.FUSE_PROPERTY)));
    List<Layer> layers = new ArrayList<>();
    for (Workspace.Step st : plan) {
      layers.add(st.layer());
    }
    int count = layers.size();
    float[][] acts = new float[count + 1][];
    Layer.Context[] ctx = new Layer.Context[count];
    acts[0] = new float[n * net.inputShape().size()];
    int max = net.inputShape().size();
    for (int i = 0; i < count; i++) {
      // as Workspace: a flatten's output is its input buffer, and it runs no code
      acts[i + 1] = layers.get(i) instanceof Flatten ? acts[i]
          : new float[n * layers.get(i).outShape().size()];
      ctx[i] = layers.get(i).newContext(n);
      max = Math.max(max, layers.get(i).outShape().size());
    }
    float[] gradA = new float[n * max];
    float[] gradB = new float[n * max];
    int[] labels = new int[n];
    ExampleNet.fillRandom(acts[0], 1);
    for (int i = 0; i < n; i++) {
      labels[i] = i % net.classes();
    }
    Pass pass = new Pass(net.initParams(42), new float[net.paramCount()], net.initState(), true,
        7L, new float[net.stateCount()]);

    long[][] fwd = new long[count][steps];
    long[][] bwd = new long[count][steps];
    long[] loss = new long[steps];
    long[] total = new long[steps];
    for (int s = -warmup; s < steps; s++) {
      Arrays.fill(pass.grads(), 0f);
      long t0 = System.nanoTime();
      for (int i = 0; i < count; i++) {
        if (layers.get(i) instanceof Flatten) {
          continue;
        }
        long a = System.nanoTime();
        layers.get(i).forward(pass, ctx[i], acts[i], acts[i + 1], n);
        if (s >= 0) {
          fwd[i][s] = System.nanoTime() - a;
        }
      }
      long a = System.nanoTime();
      SoftmaxCrossEntropy.countCorrect(acts[count], labels, 0, n, net.classes());
      SoftmaxCrossEntropy.lossAndGrad(acts[count], labels, 0, n, net.classes(), 0.1, gradA);
      if (s >= 0) {
        loss[s] = System.nanoTime() - a;
      }
      float[] gy = gradA;
      for (int i = count - 1; i >= 0; i--) {
        if (layers.get(i) instanceof Flatten) {
          continue;
        }
        float[] gx = i == 0 ? null : (gy == gradA ? gradB : gradA);
        long b = System.nanoTime();
        layers.get(i).backward(pass, ctx[i], acts[i], acts[i + 1], gy, gx, n);
        if (s >= 0) {
          bwd[i][s] = System.nanoTime() - b;
        }
        gy = gx;
      }
      if (s >= 0) {
        total[s] = System.nanoTime() - t0;
      }
    }
    double step = median(total);
    double ls = median(loss);
    if (markdown) {
      System.out.printf(Locale.ROOT, "Step %.2f ms (median of %d steps after %d warm-up steps, batch %d,"
          + " %.0f images/s; per-call medians, so the rows need not add up exactly).%n%n", step,
          steps, warmup, n, n / step * 1e3);
      System.out.println("| # | layer | output shape | forward ms | backward ms | share of step |");
      System.out.println("|---:|---|---|---:|---:|---:|");
    } else {
      System.out.println("BLAS: " + Blas.describe());
      System.out.printf(Locale.ROOT, "step: %.2f ms median over %d steps (batch %d, %.0f images/s)%n",
          step, steps, n, n / step * 1e3);
      System.out.printf(Locale.ROOT, "%-3s %-28s %-14s %9s %9s %7s%n", "#", "layer", "out shape",
          "fwd ms", "bwd ms", "share");
    }
    String fmt = markdown ? "| %s | %s | %s | %.3f | %s | %.1f%% |%n" : "%-3s %-28s %-14s %9.3f %9s %6.1f%%%n";
    for (int i = 0; i < count; i++) {
      Layer l = layers.get(i);
      double f = median(fwd[i]);
      double b = median(bwd[i]);
      System.out.printf(Locale.ROOT, fmt, i, plan.get(i).name(net), l.outShape(), f,
          String.format(Locale.ROOT, "%.3f", b), (f + b) / step * 100);
    }
    System.out.printf(Locale.ROOT, fmt, "-", "loss (softmax CE)", "", ls, "", ls / step * 100);
  }

  private static double median(long[] ns) {
    long[] c = ns.clone();
    Arrays.sort(c);
    return c[c.length / 2] / 1e6;
  }
}
