package convspark.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.optim.Adam;
import convspark.common.optim.Optimizer;
import convspark.common.optim.Sgd;
import convspark.common.spec.ModelSpec;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.junit.jupiter.api.Test;

/**
 * A whole small network trained in one process (no Spark) with the worker's step on a
 * generated, learnable data set: 3 classes of 1x10x10 images (a bright bar that is horizontal,
 * vertical or diagonal, at a random position, on noise). Chance is 1/3; it must reach 0.95 on
 * held-out samples.
 */
class SingleProcessTrainingTest {
  static final int S = 10;

  static SampleBlock data(int n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] f = new float[n * S * S];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      int c = rng.nextInt(3);
      y[i] = c;
      int base = i * S * S;
      for (int p = 0; p < S * S; p++) {
        f[base + p] = (float) (rng.nextDouble() * 0.6 - 0.3);
      }
      int r = 2 + rng.nextInt(6);
      int o = rng.nextInt(4);
      for (int k = 0; k < 5; k++) {
        int yy = c == 0 ? r : o + k;
        int xx = c == 1 ? r : o + k;
        f[base + yy * S + xx] += 1.5f;
      }
    }
    return new SampleBlock(n, S * S, f, y);
  }

  static double train(IntFunction<Optimizer> optimizer, double lr, int epochs) {
    Network net = new Network(ModelSpec.parse("""
        input { channels = 1, height = 10, width = 10 }
        layers = [
          { type = conv, filters = 8, kernel = 3, padding = 1 }
          { type = batchnorm }
          { type = relu }
          { type = maxpool, kernel = 2 }
          { type = dropout, rate = 0.1 }
          { type = flatten }
          { type = dense, units = 16 }
          { type = relu }
          { type = dense, units = 3 }
        ]
        """));
    SampleBlock train = data(600, 1);
    SampleBlock test = data(300, 2);
    float[] params = net.initParams(5);
    Optimizer opt = optimizer.apply(params.length);
    float[] state = net.initState();
    int batch = 30;
    StepPlan plan = new StepPlan(net, batch, 0, 0, 0, 9, 0.05, Augment.NONE);
    long step = 0;
    for (int e = 0; e < epochs; e++) {
      for (int s = 0; s < train.count() / batch; s++, step++) {
        StepResult r = PartitionStep.compute(train, 0, plan.at(e, s, step), params, state);
        float[] g = r.gradSum;
        for (int i = 0; i < g.length; i++) {
          g[i] /= r.count;
        }
        opt.step(params, g, lr);
        net.updateRunningStats(state, r.bnStats, r.count);
      }
    }
    Evaluation ev = Evaluation.of(test, net, params, state, 100, 0.0);
    assertEquals(300, ev.count);
    return ev.accuracy();
  }

  @Test
  void sgdWithNesterovLearnsTheTask() {
    double acc = train(n -> new Sgd(n, 0.9, true), 0.05, 6);
    assertTrue(acc >= 0.95, "held-out accuracy " + acc);
  }

  @Test
  void adamLearnsTheTask() {
    double acc = train(n -> new Adam(n, 0.9, 0.999, 1e-8, 0, List.of()), 0.003, 6);
    assertTrue(acc >= 0.95, "held-out accuracy " + acc);
  }
}
