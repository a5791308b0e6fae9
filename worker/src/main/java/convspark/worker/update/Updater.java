package convspark.worker.update;

import convspark.common.nn.FiniteCopy;
import convspark.common.nn.Network;
import convspark.common.nn.ParamRange;
import convspark.common.optim.Adam;
import convspark.common.optim.Optimizer;
import convspark.common.optim.Regularization;
import convspark.common.optim.Sgd;
import convspark.worker.ModelState;
import convspark.worker.TrainingFailedException;
import java.util.ArrayList;
import java.util.List;

/**
 * The update rule of one training step, applied to a {@link ModelState} in place: divide the
 * summed gradient by the <b>global</b> sample count (Goyal et al.: normalise by kn, not n), stop
 * if the loss or the gradient is not finite, clip the gradient norm, add the L1/L2 gradient (after
 * clipping, as PyTorch's {@code clip_grad_norm_} and an optimizer's {@code weight_decay} do), step
 * the optimizer with the scheduled learning rate, and fold the batch-norm statistics into
 * the running statistics. Deterministic: replicas that apply it to the same sums stay identical.
 * Not thread-safe (one gradient buffer, one optimizer).
 */
public final class Updater {
  private final UpdateRule rule;
  private final Network net;
  private final Regularization reg;
  private final Optimizer opt;
  private final float[] grad;
  private final String checkpointDir;
  private ModelState bound;
  private float ownedInv;
  private double ownedLr;

  /**
   * @param checkpointDir where the last good checkpoint is kept (named in the divergence error)
   */
  public Updater(UpdateRule rule, Network net, String checkpointDir) {
    this.rule = rule;
    this.net = net;
    this.checkpointDir = checkpointDir;
    List<ParamRange> ranges = new ArrayList<>(net.weightRanges());
    if (rule.regularizeAll()) {
      ranges.addAll(net.otherParamRanges());
    }
    this.reg = new Regularization(rule.l1(), rule.l2(), ranges);
    this.opt = newOptimizer(rule.optimizer(), net);
    this.grad = new float[net.paramCount()];
  }

  /** A fresh optimizer of the rule's kind for this network. */
  public static Optimizer newOptimizer(OptimizerSettings o, Network net) {
    return switch (o.type()) {
      case SGD -> new Sgd(net.paramCount(), o.momentum(), o.nesterov());
      case ADAM -> new Adam(net.paramCount(), o.beta1(), o.beta2(), o.epsilon(),
          o.weightDecay(), net.weightRanges());
    };
  }

  /** The optimizer's config name ("sgd", "adam"), as checkpoints record it. */
  public String optimizerName() {
    return opt.name();
  }

  /** The rule this updater applies. */
  public UpdateRule rule() {
    return rule;
  }

  /** A state to start training from: these weights and a fresh optimizer. */
  public static ModelState start(UpdateRule rule, Network net, float[] params, float[] state) {
    Optimizer fresh = newOptimizer(rule.optimizer(), net);
    float[][] os = fresh.state();
    float[][] copy = new float[os.length][];
    for (int i = 0; i < os.length; i++) {
      copy[i] = os[i].clone();
    }
    return new ModelState(params, state, copy, fresh.steps());
  }

  /** The learning rate of global step {@code step}. */
  public double learningRate(long step, int stepsPerEpoch) {
    return rule.schedule().lr(step, stepsPerEpoch);
  }

  /**
   * Applies one step's update to {@code m} in place. Nothing happens when {@code count} is 0.
   *
   * @param gradSum gradient of the summed loss over the step's global batch (not modified)
   * @param count samples in the global batch
   * @param lossSum summed loss of those samples
   * @param bnStats count-weighted batch-norm statistics (state layout)
   * @param m the state to update
   * @param step 0-based global step (sets the learning rate)
   * @param epoch 0-based epoch (for the error message)
   * @param stepsPerEpoch steps per epoch (sets the learning rate)
   * @throws TrainingFailedException if the loss or the gradient is not finite
   */
  public void apply(float[] gradSum, long count, double lossSum, float[] bnStats, ModelState m,
      long step, int epoch, int stepsPerEpoch) {
    if (count <= 0) {
      return;
    }
    bind(m);
    double lr = learningRate(step, stepsPerEpoch);
    float[] params = m.params();
    double loss = lossSum / count;
    float inv = (float) (1.0 / count);
    for (int i = 0; i < grad.length; i++) {
      grad[i] = gradSum[i] * inv;
    }
    double clip = rule.clipGradNorm();
    if (clip > 0) {
      // the loss's gradient is clipped, the penalty's added after it, as PyTorch's
      // clip_grad_norm_ before an optimizer with weight_decay does
      double norm2 = squaredNorm(grad);
      if (!Double.isFinite(loss) || !Double.isFinite(norm2)) {
        throw diverged(step, epoch, lr, Double.isFinite(loss) ? "gradient" : "loss");
      }
      if (norm2 > clip * clip) {
        float f = (float) (clip / Math.sqrt(norm2));
        for (int i = 0; i < grad.length; i++) {
          grad[i] *= f;
        }
      }
      reg.addGradient(params, grad);
    } else {
      reg.addGradient(params, grad);
      // the (vectorised) finiteness test alone where no norm is needed
      if (!Double.isFinite(loss) || !FiniteCopy.allFinite(grad)) {
        throw diverged(step, epoch, lr, Double.isFinite(loss) ? "gradient" : "loss");
      }
    }
    opt.step(params, grad, lr);
    m.setOptimizer(opt.state(), opt.steps());
    net.updateRunningStats(m.state(), bnStats, count);
  }

  /**
   * Whether every parameter's update depends on its own gradient element alone, so that replicas
   * can each apply the part of the update they own ({@link #beginOwned}): true unless the
   * gradient is clipped by its global norm.
   */
  public boolean elementwise() {
    return !(rule.clipGradNorm() > 0);
  }

  /**
   * Starts a step whose update is applied in pieces ({@link #applyOwned}), each replica on the
   * part of the vector it owns, and ended by {@link #endOwned}: the ring engine's sharded update
   * (ZeRO stage 1). Element for element, the same arithmetic as {@link #apply}, so the same bits.
   *
   * @param count samples in the global batch, > 0 (known before the sums: every replica knows
   *     every partition's size)
   */
  public void beginOwned(long count, ModelState m, long step, int stepsPerEpoch) {
    if (!elementwise() || count <= 0) {
      throw new IllegalStateException("a sharded update needs an element-wise rule and samples");
    }
    bind(m);
    ownedInv = (float) (1.0 / count);
    ownedLr = learningRate(step, stepsPerEpoch);
  }

  /**
   * Updates parameters [from, to) of {@code m} (and their optimizer state) from the summed
   * gradient in {@code sums[from, to)}, and writes the new parameters into {@code sums[from,
   * to)}, where the ring's all-gather takes them to the other replicas.
   */
  public void applyOwned(float[] sums, int from, int to, ModelState m) {
    float[] params = m.params();
    float inv = ownedInv;
    for (int i = from; i < to; i++) {
      grad[i] = sums[i] * inv;
    }
    reg.addGradient(params, grad, from, to);
    opt.stepRange(params, grad, ownedLr, from, to);
    System.arraycopy(params, from, sums, from, to - from);
  }

  /**
   * Ends a sharded step: moves the new parameters from {@code gathered[0, paramCount)} (what
   * every owner wrote; left zero, ready to take the next step's gradient), stops if they or the
   * loss are not finite (a non-finite gradient element makes its parameter non-finite, and so
   * does an update too large for a float), counts the optimizer step and folds in the
   * batch-norm statistics.
   *
   * @throws TrainingFailedException if the loss or the new parameters are not finite
   */
  public void endOwned(float[] gathered, long count, double lossSum, float[] bnStats,
      ModelState m, long step, int epoch, int stepsPerEpoch) {
    float[] params = m.params();
    boolean finite = FiniteCopy.move(gathered, params, params.length);
    if (!Double.isFinite(lossSum / count) || !finite) {
      throw diverged(step, epoch, learningRate(step, stepsPerEpoch),
          Double.isFinite(lossSum / count) ? "update" : "loss");
    }
    opt.endStep();
    m.setOptimizer(opt.state(), opt.steps());
    net.updateRunningStats(m.state(), bnStats, count);
  }

  private TrainingFailedException diverged(long step, int epoch, double lr, String what) {
    return new TrainingFailedException("training diverged at step " + step + " (epoch "
        + (epoch + 1) + "): " + what + " is not finite (learning rate "
        + String.format("%.4g", lr)
        + "); lower train.base-lr or set train.clip-grad-norm; the last good checkpoint in "
        + checkpointDir + " is kept");
  }

  /**
   * The sum of squares of {@code g} in double precision, in four interleaved partial sums (a
   * fixed order, so every replica gets the same value; about 4x faster than one dependent chain
   * of additions over a model's gradient).
   */
  static double squaredNorm(float[] g) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int i = 0;
    for (; i + 3 < g.length; i += 4) {
      s0 += (double) g[i] * g[i];
      s1 += (double) g[i + 1] * g[i + 1];
      s2 += (double) g[i + 2] * g[i + 2];
      s3 += (double) g[i + 3] * g[i + 3];
    }
    for (; i < g.length; i++) {
      s0 += (double) g[i] * g[i];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** Makes the optimizer step {@code m}'s optimizer state (loading it when {@code m} is new). */
  private void bind(ModelState m) {
    if (bound != m) {
      opt.loadState(m.optimizerState(), m.optimizerSteps());
      m.setOptimizer(opt.state(), opt.steps());
      bound = m;
    }
  }
}
