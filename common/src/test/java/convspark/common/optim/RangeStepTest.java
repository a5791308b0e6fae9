package convspark.common.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;

import convspark.common.nn.ParamRange;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * What the ring engine's sharded update relies on: an optimizer step and the regularisation
 * gradient applied in pieces that cover the vector give exactly the bits of one whole step, over
 * several steps (so the state and Adam's step count carry over).
 */
class RangeStepTest {
  private static final int N = 1_003;
  private static final List<ParamRange> WEIGHTS =
      List.of(new ParamRange(0, 400), new ParamRange(450, 300), new ParamRange(1_000, 3));

  private static float[] random(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextDouble() * 2 - 1);
    }
    return a;
  }

  /** Cuts [0, N) into pieces of uneven sizes, some empty. */
  private static int[] cuts() {
    return new int[] {0, 0, 7, 399, 400, 401, 451, 777, 1_000, 1_002, N};
  }

  private static void check(java.util.function.Supplier<Optimizer> make, String what) {
    Optimizer whole = make.get();
    Optimizer pieces = make.get();
    float[] p1 = random(1, N);
    float[] p2 = p1.clone();
    Regularization reg = new Regularization(0.01, 0.05, WEIGHTS);
    for (int step = 0; step < 4; step++) {
      float[] g = random(10 + step, N);
      float[] g1 = g.clone();
      float[] g2 = g.clone();
      double lr = 0.1 / (step + 1);
      reg.addGradient(p1, g1);
      whole.step(p1, g1, lr);
      int[] c = cuts();
      // pieces in reverse order: no piece may depend on another having run
      for (int k = c.length - 2; k >= 0; k--) {
        reg.addGradient(p2, g2, c[k], c[k + 1]);
        pieces.stepRange(p2, g2, lr, c[k], c[k + 1]);
      }
      pieces.endStep();
      for (int i = 0; i < N; i++) {
        assertEquals(Float.floatToRawIntBits(p1[i]), Float.floatToRawIntBits(p2[i]),
            what + ", step " + step + ", element " + i);
      }
      assertEquals(whole.steps(), pieces.steps(), what);
      float[][] s1 = whole.state();
      float[][] s2 = pieces.state();
      for (int a = 0; a < s1.length; a++) {
        for (int i = 0; i < s1[a].length; i++) {
          assertEquals(Float.floatToRawIntBits(s1[a][i]), Float.floatToRawIntBits(s2[a][i]),
              what + ", state " + a + ", element " + i);
        }
      }
    }
  }

  @Test
  void stepsInPiecesGiveTheBitsOfWholeSteps() {
    check(() -> new Sgd(N, 0, false), "SGD");
    check(() -> new Sgd(N, 0.9, false), "SGD with momentum");
    check(() -> new Sgd(N, 0.9, true), "SGD with Nesterov momentum");
    check(() -> new Adam(N, 0.9, 0.999, 1e-8, 0, WEIGHTS), "Adam");
    check(() -> new Adam(N, 0.8, 0.99, 1e-6, 0.05, WEIGHTS), "AdamW");
  }
}
