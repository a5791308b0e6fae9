package convspark.common.nn;

import convspark.common.spec.ModelSpec;
import java.util.SplittableRandom;

/**
 * One training step and one input-gradient pass of a network run twice on the same random
 * parameters (batch-norm gammas and betas of both signs), state and inputs: with the fused
 * kernels of {@link Workspace#plan} ({@code [0]}) and with every layer on its own ({@code [1]}).
 * The tests of the fused kernels compare the two.
 */
record FusedVsSeparate(Workspace[] workspaces, float[][] logits, float[][] grads, float[][] gin,
    float[][] stats) {

  /**
   * {@code inputMean}: added to standard normal inputs; {@code spaced}: the gradient check's
   * inputs instead ({@link GradientCheckTest#spacedInputs}).
   */
  static FusedVsSeparate run(ModelSpec spec, int n, boolean training, double inputMean,
      boolean spaced) {
    Network net = new Network(spec);
    float[] params = net.initParams(11);
    SplittableRandom rng = new SplittableRandom(3);
    for (ParamRange r : net.otherParamRanges()) {
      for (int i = r.offset(); i < r.offset() + r.length(); i++) {
        params[i] = (float) rng.nextDouble(-1.5, 1.5); // negative gammas too
      }
    }
    float[] state = net.initState();
    for (int i = 0; i < state.length; i++) {
      state[i] = (float) (0.2 + rng.nextDouble());
    }
    float[] x = new float[n * net.inputShape().size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (inputMean + rng.nextGaussian());
    }
    if (spaced) {
      x = GradientCheckTest.spacedInputs(x.length, rng);
    }
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = rng.nextInt(net.classes());
    }
    FusedVsSeparate out = new FusedVsSeparate(new Workspace[2], new float[2][], new float[2][],
        new float[2][], new float[2][]);
    for (int v = 0; v < 2; v++) {
      Workspace ws = net.newWorkspace(n, v == 0);
      out.workspaces[v] = ws;
      System.arraycopy(x, 0, ws.input(), 0, x.length);
      System.arraycopy(labels, 0, ws.labels(), 0, n);
      out.grads[v] = new float[params.length];
      out.stats[v] = new float[net.stateCount()];
      ws.trainStep(new Pass(params, out.grads[v], state, training, 9L, out.stats[v]), n, 0.1);
      out.logits[v] = ws.logits().clone();
      float[] gl = new float[out.logits[v].length];
      SoftmaxCrossEntropy.lossAndGrad(out.logits[v], labels, 0, n, net.classes(), 0.1, gl);
      out.gin[v] = ws.backwardToInput(new Pass(params, new float[params.length], state,
          training, 9L, null), n, gl, new float[x.length]);
    }
    return out;
  }
}
