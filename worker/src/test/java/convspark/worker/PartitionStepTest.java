package convspark.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PartitionStepTest {
  @Test
  void stepResultSurvivesJavaSerializationWithEveryField() throws Exception {
    StepResult r = new StepResult(new float[] {1f, -2.5f, Float.NaN}, new float[] {0.25f});
    r.lossSum = 3.5;
    r.count = 7;
    r.correct = 5;
    r.computeSeconds = 0.1;
    r.fetchSeconds = 0.2;
    r.mergeSeconds = 0.3;
    r.launchSeconds = 0.4;
    r.taskSeconds = 0.5;
    r.endSum = 1.7e9;
    r.endMax = 1.8e9;
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
      out.writeObject(r);
    }
    StepResult b;
    try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(
        new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
      b = (StepResult) in.readObject();
    }
    assertArrayEquals(r.gradSum, b.gradSum);
    assertArrayEquals(r.bnStats, b.bnStats);
    assertEquals(3.5, b.lossSum);
    assertEquals(7, b.count);
    assertEquals(5, b.correct);
    assertEquals(0.1, b.computeSeconds);
    assertEquals(0.2, b.fetchSeconds);
    assertEquals(0.3, b.mergeSeconds);
    assertEquals(0.4, b.launchSeconds);
    assertEquals(0.5, b.taskSeconds);
    assertEquals(1.7e9, b.endSum);
    assertEquals(1.8e9, b.endMax);
  }

  @Test
  void stepsOfAnEpochCoverEverySampleOnceAndTheLastStepTakesWhatIsLeft() {
    assertEquals(10, PartitionStep.samplesAt(25, 10, 0, 1));
    assertEquals(10, PartitionStep.samplesAt(25, 10, 1, 1));
    assertEquals(5, PartitionStep.samplesAt(25, 10, 2, 1));
    assertEquals(0, PartitionStep.samplesAt(25, 10, 3, 1));
    int[] perm = new int[25];
    PartitionStep.shuffle(perm, 25, 42);
    Set<Integer> seen = new HashSet<>();
    for (int v : perm) {
      seen.add(v);
    }
    assertEquals(25, seen.size());
    int[] again = new int[25];
    PartitionStep.shuffle(again, 25, 42);
    assertArrayEquals(perm, again);
    PartitionStep.shuffle(again, 25, 43);
    assertFalse(Arrays.equals(perm, again));
  }

  @Test
  void blocksAreBalanced() {
    float[] f = new float[11 * 2];
    int[] y = new int[11];
    for (int i = 0; i < 11; i++) {
      y[i] = i;
      f[2 * i] = i;
    }
    SampleBlock[] b = SampleBlock.split(f, y, 2, 3);
    assertEquals(4, b[0].count());
    assertEquals(4, b[1].count());
    assertEquals(3, b[2].count());
    assertEquals(8f, b[2].features()[0]);
    assertEquals(8, b[2].labels()[0]);
  }

  @Test
  void stepResultsMergeInPlace() {
    StepResult a = new StepResult(new float[] {1, 2}, new float[] {3});
    a.lossSum = 1;
    a.count = 2;
    a.correct = 1;
    StepResult b = new StepResult(new float[] {10, 20}, new float[] {30});
    b.lossSum = 2;
    b.count = 3;
    b.correct = 3;
    assertTrue(a == a.merge(b));
    assertArrayEquals(new float[] {11, 22}, a.gradSum);
    assertArrayEquals(new float[] {33}, a.bnStats);
    assertEquals(3, a.lossSum);
    assertEquals(5, a.count);
    assertEquals(4, a.correct);
  }

  @Test
  void aStepIsReproducibleAndDependsOnTheStep() {
    Network net = new Network(ModelSpec.parse("""
        input { channels = 1, height = 4, width = 4 }
        layers = [ { type = flatten }, { type = dropout, rate = 0.5 }, { type = dense, units = 2 } ]
        """));
    float[] f = new float[40 * 16];
    int[] y = new int[40];
    for (int i = 0; i < f.length; i++) {
      f[i] = (i % 7) / 7f;
    }
    for (int i = 0; i < 40; i++) {
      y[i] = i % 2;
    }
    SampleBlock block = new SampleBlock(40, 16, f, y);
    float[] p = net.initParams(1);
    StepPlan plan = new StepPlan(net, 8, 0, 1, 1, 3, 0, Augment.NONE);
    StepResult a = PartitionStep.compute(block, 0, plan, p, new float[0]);
    StepResult b = PartitionStep.compute(block, 0, plan, p, new float[0]);
    assertArrayEquals(a.gradSum, b.gradSum);
    assertEquals(8, a.count);
    StepResult c = PartitionStep.compute(block, 0, plan.at(0, 2, 2), p, new float[0]);
    assertFalse(Arrays.equals(a.gradSum, c.gradSum));
    StepResult other = PartitionStep.compute(block, 1, plan, p, new float[0]);
    assertNotEquals(a.lossSum, other.lossSum, "another partition draws another shuffle");
  }

  /** dense -> batch norm on one value per channel -> relu -> dense: needs two samples a batch. */
  private static final Network DENSE_BN = new Network(ModelSpec.parse("""
      input { channels = 1, height = 4, width = 4 }
      layers = [ { type = flatten }, { type = dense, units = 5 }, { type = batchnorm },
        { type = relu }, { type = dense, units = 2 } ]
      """));

  private static SampleBlock block(int n) {
    float[] f = new float[n * 16];
    int[] y = new int[n];
    for (int i = 0; i < f.length; i++) {
      f[i] = ((i * 7) % 11) / 11f - 0.4f;
    }
    for (int i = 0; i < n; i++) {
      y[i] = i % 2;
    }
    return new SampleBlock(n, 16, f, y);
  }

  @Test
  void aBatchNormOverSamplesOnlyNeverGetsALoneSampleInTheLastStep() {
    assertEquals(2, DENSE_BN.minTrainingBatch());
    // 21 samples in batches of 10: the last step's one sample is left out of the epoch
    assertEquals(0, PartitionStep.samplesAt(21, 10, 2, 2));
    assertEquals(1, PartitionStep.samplesAt(21, 10, 2, 1));
    assertEquals(2, PartitionStep.steps(21, 10, 2));
    assertEquals(3, PartitionStep.steps(21, 10, 1));
    assertEquals(3, PartitionStep.steps(22, 10, 2));
    assertEquals(0, PartitionStep.steps(1, 10, 2));
    StepPlan plan = new StepPlan(DENSE_BN, 10, 0, 2, 2, 5, 0, Augment.NONE);
    float[] p = DENSE_BN.initParams(1);
    StepResult r = PartitionStep.compute(block(21), 0, plan, p, DENSE_BN.initState());
    assertEquals(0, r.count);
    for (float g : r.gradSum) {
      assertEquals(0f, g);
    }
  }

  @Test
  void threadsOfALastPartialStepKeepAtLeastTwoSamplesForABatchNormOverSamplesOnly() {
    // 7 samples in batches of 4: the last step has 3, which two threads would cut 1 + 2
    SampleBlock b = block(7);
    StepPlan last = new StepPlan(DENSE_BN, 4, 0, 1, 1, 5, 0, Augment.NONE);
    float[] p = DENSE_BN.initParams(1);
    float[] state = DENSE_BN.initState();
    StepResult whole = PartitionStep.compute(b, 0, last, p, state);
    assertEquals(3, whole.count);
    float[] g0 = new float[DENSE_BN.paramCount()];
    float[] g1 = new float[DENSE_BN.paramCount()];
    double[] s0 = PartitionStep.computeSlice(b, 0, last, p, state, 0, 2, g0,
        new float[DENSE_BN.stateCount()]);
    double[] s1 = PartitionStep.computeSlice(b, 0, last, p, state, 1, 2, g1,
        new float[DENSE_BN.stateCount()]);
    assertEquals(3, s0[2], "one thread takes the three samples");
    assertEquals(0, s1[2]);
    assertArrayEquals(whole.gradSum, g0);
    // full steps still use every thread, and a network without such a batch norm always does
    double[] full = PartitionStep.computeSlice(b, 0, last.at(0, 0, 0), p, state, 1, 2,
        new float[DENSE_BN.paramCount()], new float[DENSE_BN.stateCount()]);
    assertEquals(2, full[2]);
    assertEquals(2, PartitionStep.slices(3, 2, 1));
    assertEquals(1, PartitionStep.slices(3, 2, 2));
    assertEquals(8, PartitionStep.slices(64, 8, 2));
    assertEquals(2, PartitionStep.slices(5, 4, 2));
  }
}
