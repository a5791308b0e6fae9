package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.common.optim.Sgd;
import convspark.common.spec.ModelSpec;
import convspark.driver.SparkTestSession;
import convspark.driver.TestData;
import convspark.driver.exec.AllReduce;
import convspark.driver.exec.Distributed;
import convspark.driver.exec.Weights;
import convspark.worker.Augment;
import convspark.worker.StepPlan;
import convspark.worker.StepResult;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Distributed equals local: with the same params and a global batch covering the whole data
 * set, one step on 1, 2 and 4 partitions gives the same averaged gradient and the same updated
 * parameters as one single-process forward/backward over all samples. The model has no batch
 * norm or dropout, whose per-worker statistics and masks legitimately differ with the
 * partitioning. Tolerance: float32 summation order, 1e-5 of the largest gradient component.
 */
class EquivalenceTest {
  static SparkSession spark;
  static JavaSparkContext jsc;

  @BeforeAll
  static void start() {
    spark = SparkTestSession.start();
    jsc = SparkTestSession.jsc(spark);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  @Test
  void oneStepOnOneTwoAndFourPartitionsEqualsSingleProcess() {
    ModelSpec spec = ModelSpec.parse("""
        input { channels = 1, height = 12, width = 12 }
        layers = [
          { type = conv, filters = 4, kernel = 3, stride = 2, padding = 1 }
          { type = tanh }
          { type = maxpool, kernel = 2 }
          { type = flatten }
          { type = dense, units = 8 }
          { type = relu }
          { type = dense, units = 4 }
        ]
        """);
    Network net = new Network(spec);
    int n = 48;
    int[] labels = new int[n];
    byte[][] images = TestData.generate(n, 3, labels);
    int size = 144;
    float[] x = new float[n * size];
    for (int i = 0; i < n; i++) {
      for (int p = 0; p < size; p++) {
        x[i * size + p] = (images[i][p] & 0xff) / 255f - 0.4f;
      }
    }
    float[] params = net.initParams(11);
    float[] state = net.initState();

    // single process reference
    Workspace ws = net.newWorkspace(n);
    System.arraycopy(x, 0, ws.input(), 0, x.length);
    System.arraycopy(labels, 0, ws.labels(), 0, n);
    float[] ref = new float[params.length];
    double refLoss = ws.trainStep(new Pass(params, ref, state, true, 1, null), n, 0.1).lossSum();
    double maxAbs = 0;
    for (int i = 0; i < ref.length; i++) {
      ref[i] /= n;
      maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
    }
    assertTrue(maxAbs > 1e-3, "the reference gradient must not be trivially zero");
    float[] refParams = params.clone();
    new Sgd(params.length, 0.9, true).step(refParams, ref, 0.1);

    for (int partitions : new int[] {1, 2, 4}) {
      Distributed.Blocks blocks = Distributed.blocks(jsc, x, labels, size, partitions, "eq");
      StepPlan plan = new StepPlan(net, n / partitions, 0, 0, 0, 5, 0.1, Augment.NONE);
      Broadcast<Weights> b = jsc.broadcast(new Weights(params.clone(), state.clone()));
      StepResult r = Distributed.step(blocks.rdd(), plan, b, AllReduce.ordered());
      b.destroy();
      blocks.release();
      assertEquals(n, r.count, "every sample is used once");
      assertEquals(refLoss, r.lossSum, 1e-4 * refLoss, "loss sum, " + partitions + " partitions");
      float[] g = new float[params.length];
      for (int i = 0; i < g.length; i++) {
        g[i] = r.gradSum[i] / r.count;
        assertEquals(ref[i], g[i], 1e-5 * maxAbs,
            "gradient " + i + " with " + partitions + " partitions");
      }
      float[] p = params.clone();
      new Sgd(params.length, 0.9, true).step(p, g, 0.1);
      for (int i = 0; i < p.length; i++) {
        assertEquals(refParams[i], p[i], 1e-6, "updated param " + i);
      }
    }
  }

  @Test
  void treeAllReduceSumsLikeOrdered() {
    ModelSpec spec = ModelSpec.parse("""
        input { channels = 1, height = 12, width = 12 }
        layers = [ { type = flatten }, { type = dense, units = 4 } ]
        """);
    Network net = new Network(spec);
    int n = 40;
    int[] labels = new int[n];
    byte[][] images = TestData.generate(n, 4, labels);
    float[] x = new float[n * 144];
    for (int i = 0; i < n; i++) {
      for (int p = 0; p < 144; p++) {
        x[i * 144 + p] = (images[i][p] & 0xff) / 255f;
      }
    }
    float[] params = net.initParams(2);
    Distributed.Blocks blocks = Distributed.blocks(jsc, x, labels, 144, 4, "tree");
    StepPlan plan = new StepPlan(net, 10, 0, 0, 0, 5, 0.0, Augment.NONE);
    Broadcast<Weights> b = jsc.broadcast(new Weights(params, new float[0]));
    StepResult a = Distributed.step(blocks.rdd(), plan, b, AllReduce.ordered());
    StepResult t = Distributed.step(blocks.rdd(), plan, b, AllReduce.tree());
    b.destroy();
    blocks.release();
    assertEquals(a.count, t.count);
    assertEquals(a.lossSum, t.lossSum, 1e-9 * Math.abs(a.lossSum));
    for (int i = 0; i < a.gradSum.length; i++) {
      assertEquals(a.gradSum[i], t.gradSum[i], 1e-5 * (1 + Math.abs(a.gradSum[i])));
    }
  }
}
