package convspark.driver.engine;

import convspark.common.nn.Network;
import convspark.common.optim.LrSchedule;
import convspark.common.optim.ScalingRule;
import convspark.driver.TestData;
import convspark.driver.exec.Distributed;
import convspark.worker.Augment;
import convspark.worker.ModelState;
import convspark.worker.StepPlan;
import convspark.worker.update.Updater;
import convspark.worker.update.OptimizerSettings;
import convspark.worker.update.UpdateRule;
import org.apache.spark.api.java.JavaSparkContext;

/** The small data set and update rule the engine tests share. */
final class EngineFixture {
  private EngineFixture() {}

  /** n generated 12x12 images of 3 classes as centred pixels; their labels go into labels. */
  static float[] pixels(int n, int[] labels) {
    byte[][] images = TestData.generate(n, 3, labels);
    float[] x = new float[n * 144];
    for (int i = 0; i < n; i++) {
      for (int p = 0; p < 144; p++) {
        x[i * 144 + p] = (images[i][p] & 0xff) / 255f - 0.4f;
      }
    }
    return x;
  }

  /** SGD with Nesterov momentum, L1 and L2, linear scaling with warmup and cosine decay. */
  static UpdateRule sgd(int globalBatch) {
    return new UpdateRule(
        new OptimizerSettings(OptimizerSettings.Type.SGD, 0.9, true, 0.9, 0.999, 1e-8, 0),
        1e-4, 5e-4, false, 0,
        new LrSchedule(0.05, 20, globalBatch, ScalingRule.LINEAR, 0.5, LrSchedule.Decay.COSINE,
            2, 1, 0.5, 0));
  }

  /** What an engine test runs: cached blocks, the engines' setup, the plan and a start state. */
  record Case(Distributed.Blocks blocks, StepEngines.Setup setup, StepPlan plan,
      ModelState start) {}

  /**
   * 100 generated 12x12 images over {@code partitions} partitions named {@code name}, global
   * batch {@code globalBatch}, {@link #sgd} and weights from seed 3; release the blocks after.
   */
  static Case open(JavaSparkContext jsc, Network net, int partitions, int globalBatch,
      String name) {
    int n = 100;
    int[] labels = new int[n];
    float[] x = pixels(n, labels);
    UpdateRule rule = sgd(globalBatch);
    Distributed.Blocks blocks = Distributed.blocks(jsc, x, labels, 144, partitions, name);
    StepEngines.Setup setup = new StepEngines.Setup(jsc, blocks, partitions, net, rule, "/tmp");
    StepPlan plan = new StepPlan(net, globalBatch / partitions, 0, 0, 0, 7, 0.1, Augment.NONE);
    ModelState start = Updater.start(rule, net, net.initParams(3), net.initState());
    return new Case(blocks, setup, plan, start);
  }
}
