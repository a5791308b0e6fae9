package convspark.peers;

import com.typesafe.config.ConfigFactory;
import convspark.common.blas.Blas;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.common.optim.Regularization;
import convspark.common.optim.Sgd;
import convspark.common.spec.ModelSpec;
import java.io.File;

/**
 * Loss sanity check, convspark side: the {@code model} block of a config trained for STEPS steps
 * of batch 64 on the first STEPS x 64 Fashion-MNIST training images in file order (no shuffle),
 * pixels / 255 normalised with the training split's mean and std, He-normal init (the config's
 * default), SGD Nesterov momentum 0.9 at a constant learning rate, L2 5e-4 (= weight decay 1e-3)
 * on conv/dense weights, label smoothing 0.1: exactly what the driver does per step (gradient of
 * the summed loss / n, plus the L2 gradient, then the optimizer), without Spark.
 *
 * <p>Usage: {@code ConvsparkLossPeer CONFIG STEPS [LR] [SEED]}. Prints the loss of the first step,
 * the mean loss of the last 20 steps (at most half of them) and a RESULT line.
 */
public final class ConvsparkLossPeer {
  private ConvsparkLossPeer() {}

  public static void main(String[] args) throws Exception {
    ModelSpec spec = ModelSpec.fromConfig(
        ConfigFactory.parseFile(new File(args[0])).getConfig("model"), "model");
    int steps = Integer.parseInt(args[1]);
    double lr = args.length > 2 ? Double.parseDouble(args[2]) : 0.05;
    long seed = args.length > 3 ? Long.parseLong(args[3]) : 42;
    int batch = 64;
    FashionMnist train = FashionMnist.load(FashionMnist.DIR, "train", 0);
    double[] ms = FashionMnist.meanStd(train);
    train.normalize(ms[0], ms[1]);

    Network net = new Network(spec);
    float[] params = net.initParams(seed);
    float[] state = net.initState();
    Sgd opt = new Sgd(net.paramCount(), 0.9, true);
    Regularization reg = new Regularization(0, 5e-4, net.weightRanges());
    Workspace ws = net.newWorkspace(batch);
    float[] gradSum = new float[net.paramCount()];
    float[] grad = new float[net.paramCount()];
    float[] bn = new float[net.stateCount()];
    double[] losses = new double[steps];
    long t0 = System.nanoTime();
    for (int s = 0; s < steps; s++) {
      int off = (s * batch) % (train.count - batch + 1);
      System.arraycopy(train.images, off * FashionMnist.PIXELS, ws.input(), 0,
          batch * FashionMnist.PIXELS);
      System.arraycopy(train.labels, off, ws.labels(), 0, batch);
      java.util.Arrays.fill(gradSum, 0f);
      java.util.Arrays.fill(bn, 0f);
      Workspace.Outcome o = ws.trainStep(new Pass(params, gradSum, state, true, s, bn), batch,
          0.1);
      losses[s] = o.lossSum() / batch;
      float inv = 1f / batch;
      for (int i = 0; i < grad.length; i++) {
        grad[i] = gradSum[i] * inv;
      }
      reg.addGradient(params, grad);
      opt.step(params, grad, lr);
      net.updateRunningStats(state, bn, batch);
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    report("convspark", losses, steps, lr, net.paramCount(), secs, Blas.describe());
  }

  /** Shared by the Java peers: first-step loss, mean of the last 20 (at most half) and RESULT. */
  static void report(String who, double[] losses, int steps, double lr, long params, double secs,
      String blas) {
    int tail = Math.max(1, Math.min(20, steps / 2));
    double last = 0;
    for (int i = steps - tail; i < steps; i++) {
      last += losses[i];
    }
    last /= tail;
    System.out.printf("%s: %d params; loss step 1 %.4f; mean loss of steps %d-%d %.4f "
        + "(lr %.3g, %.1f s)%n", who, params, losses[0], steps - tail + 1, steps, last, lr, secs);
    new Out().put("peer", who).put("steps", steps).put("params", params)
        .put("first_loss", losses[0]).put("last_loss", last).put("last_n", tail)
        .put("lr", lr).put("seconds", secs).put("blas", blas).print();
  }
}
