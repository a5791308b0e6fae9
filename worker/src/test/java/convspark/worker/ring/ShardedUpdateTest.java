package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.optim.LrSchedule;
import convspark.common.optim.ScalingRule;
import convspark.common.spec.ModelSpec;
import convspark.worker.Augment;
import convspark.worker.ModelState;
import convspark.worker.SampleBlock;
import convspark.worker.StepPlan;
import convspark.worker.TrainingFailedException;
import convspark.worker.update.OptimizerSettings;
import convspark.worker.update.UpdateRule;
import convspark.worker.update.Updater;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The ring engine's sharded update ({@link ReplicaRound.Spec#shardUpdate}) against the full
 * update every replica applies: the same bits in the weights, the batch-norm statistics, the
 * optimizer state and its step count, the loss and counts, over two rounds (the second starts
 * from the first's output, so the optimizer state gathered at the end of a round is checked),
 * for SGD with Nesterov momentum and L2 and for AdamW, with P = 2 and 3 in memory and P = 2 over
 * TCP, on partitions of unequal sizes (the last steps of an epoch have fewer samples). A
 * diverging run stops on every replica with the divergence error.
 */
class ShardedUpdateTest {
  static final Network NET = new Network(ModelSpec.parse("""
      input { channels = 1, height = 6, width = 6 }
      layers = [
        { type = conv, filters = 3, kernel = 3, padding = 1 }
        { type = batchnorm }
        { type = relu }
        { type = maxpool, kernel = 2 }
        { type = flatten }
        { type = dropout, rate = 0.2 }
        { type = dense, units = 4 }
      ]
      """));
  static final int SAMPLES = 53;
  static final int LOCAL_BATCH = 8;

  static UpdateRule rule(OptimizerSettings o, double lr, double clip) {
    return new UpdateRule(o, 0, 1e-3, false, clip,
        new LrSchedule(lr, 1, 1, ScalingRule.NONE, 1, LrSchedule.Decay.COSINE, 2, 1, 1, 0));
  }

  static final OptimizerSettings NESTEROV =
      new OptimizerSettings(OptimizerSettings.Type.SGD, 0.9, true, 0.9, 0.999, 1e-8, 0);
  static final OptimizerSettings ADAMW =
      new OptimizerSettings(OptimizerSettings.Type.ADAM, 0, false, 0.9, 0.99, 1e-6, 0.01);

  /** Some ranks of a round failed: each one's exception. */
  static final class RoundFailed extends Exception {
    private static final long serialVersionUID = 1L;
    final transient List<Throwable> causes;

    RoundFailed(List<Throwable> causes) {
      super(causes.size() + " rank(s) failed: " + causes.get(0), causes.get(0));
      this.causes = causes;
    }
  }

  static SampleBlock[] blocks(int p) {
    SplittableRandom r = new SplittableRandom(5);
    float[] x = new float[SAMPLES * 36];
    int[] y = new int[SAMPLES];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextGaussian();
    }
    for (int i = 0; i < SAMPLES; i++) {
      y[i] = r.nextInt(4);
    }
    return SampleBlock.split(x, y, 36, p);
  }

  /** Every rank's output of two rounds (epochs 0 and 1), each from rank 0's previous output. */
  static List<ReplicaRound.Output[]> train(UpdateRule rule, boolean shard, int p, boolean tcp,
      long ringId) throws Exception {
    SampleBlock[] blocks = blocks(p);
    int stepsPerEpoch = (blocks[0].count() + LOCAL_BATCH - 1) / LOCAL_BATCH;
    ModelState start = Updater.start(rule, NET, NET.initParams(3), NET.initState());
    StepPlan plan = new StepPlan(NET, LOCAL_BATCH, 0, 0, 0, 11, 0.1, Augment.NONE);
    List<ReplicaRound.Output[]> rounds = new ArrayList<>();
    byte[] secret = RingSecret.generate();
    for (int epoch = 0; epoch < 2; epoch++) {
      Allreduce[] rings = new Allreduce[p];
      if (tcp) {
        rings = RingFixtures.ringOfThreads(p, secret, ringId + epoch,
            RingAllreduceTest.SMALL_CHUNKS);
      } else {
        for (int r = 0; r < p; r++) {
          rings[r] = LocalRing.join(secret, ringId + epoch, r, p, 30_000);
        }
      }
      ReplicaRound.Spec spec = new ReplicaRound.Spec(NET, rule, "ckpt", plan, epoch,
          (long) epoch * stepsPerEpoch, 0, stepsPerEpoch, stepsPerEpoch, shard);
      ReplicaRound.Output[] out = new ReplicaRound.Output[p];
      ExecutorService ex = Executors.newFixedThreadPool(p);
      try {
        List<Future<ReplicaRound.Output>> fs = new ArrayList<>();
        for (int r = 0; r < p; r++) {
          final int rank = r;
          final Allreduce ring = rings[r];
          final ModelState mine = start.copy();
          fs.add(ex.submit(() -> ReplicaRound.run(spec, mine, blocks[rank], rank, ring, 1)));
        }
        List<Throwable> failed = new ArrayList<>();
        for (int r = 0; r < p; r++) {
          try {
            out[r] = fs.get(r).get(60, TimeUnit.SECONDS);
          } catch (ExecutionException e) {
            failed.add(e.getCause());
          }
        }
        if (!failed.isEmpty()) {
          throw new RoundFailed(failed);
        }
      } finally {
        ex.shutdownNow();
        RingFixtures.closeAll(rings);
      }
      rounds.add(out);
      start = out[0].state();
    }
    return rounds;
  }

  static void assertSameBits(float[] a, float[] b, String what) {
    assertEquals(a.length, b.length, what);
    for (int i = 0; i < a.length; i++) {
      assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]),
          what + ", element " + i);
    }
  }

  static void assertSame(ModelState a, ModelState b, String what) {
    assertSameBits(a.params(), b.params(), what + ": weights");
    assertSameBits(a.state(), b.state(), what + ": batch-norm statistics");
    assertEquals(a.optimizerState().length, b.optimizerState().length, what);
    for (int k = 0; k < a.optimizerState().length; k++) {
      assertSameBits(a.optimizerState()[k], b.optimizerState()[k], what + ": optimizer " + k);
    }
    assertEquals(a.optimizerSteps(), b.optimizerSteps(), what + ": optimizer steps");
  }

  private static void compare(UpdateRule rule, int p, boolean tcp, String what)
      throws Exception {
    List<ReplicaRound.Output[]> full = train(rule, false, p, tcp, 1000 + p * 10L);
    List<ReplicaRound.Output[]> sharded = train(rule, true, p, tcp, 2000 + p * 10L);
    for (int round = 0; round < 2; round++) {
      for (int r = 0; r < p; r++) {
        String w = what + ", round " + round + ", rank " + r;
        ReplicaRound.Output f = full.get(round)[r];
        ReplicaRound.Output s = sharded.get(round)[r];
        assertSame(full.get(round)[0].state(), s.state(), w + " (sharded against full)");
        assertSame(f.state(), s.state(), w);
        assertEquals(f.lossSum(), s.lossSum(), 0.0, w + ": loss");
        assertEquals(f.count(), s.count(), w + ": count");
        assertEquals(f.correct(), s.correct(), w + ": correct");
      }
      assertEquals(SAMPLES, full.get(round)[0].count(), what + ": every sample once per round");
    }
    // the weights moved, so the comparison says something
    ModelState start = Updater.start(rule, NET, NET.initParams(3), NET.initState());
    assertNotEquals(start.params()[0], full.get(1)[0].state().params()[0]);
  }

  @Test
  void shardedUpdateGivesTheBitsOfTheFullUpdate() throws Exception {
    compare(rule(NESTEROV, 0.05, 0), 2, false, "SGD Nesterov, P=2 in memory");
    compare(rule(NESTEROV, 0.05, 0), 3, false, "SGD Nesterov, P=3 in memory");
    compare(rule(ADAMW, 0.01, 0), 3, false, "AdamW, P=3 in memory");
    compare(rule(NESTEROV, 0.05, 0), 2, true, "SGD Nesterov, P=2 over TCP");
    // with clipping the update needs the whole gradient: both settings run the full update
    compare(rule(NESTEROV, 0.05, 0.5), 2, false, "SGD Nesterov with clipping, P=2 in memory");
  }

  @Test
  void aDivergingShardedRunStopsOnEveryReplica() {
    // a rate beyond float range makes the first update infinite (the loss is still finite),
    // a large one the loss of a later step
    for (double lr : new double[] {1e39, 1e30}) {
      for (int p : new int[] {2, 3}) {
        RoundFailed e = assertThrows(RoundFailed.class,
            () -> train(rule(NESTEROV, lr, 0), true, p, false, 3000 + p * 10L));
        assertEquals(p, e.causes.size(), "every rank stops: " + e.causes);
        for (Throwable c : e.causes) {
          assertTrue(c instanceof TrainingFailedException, String.valueOf(c));
          assertTrue(c.getMessage().contains("training diverged at step")
              && c.getMessage().contains(lr > 1e38 ? "update is not finite" : "is not finite")
              && c.getMessage().contains("ckpt"), c.getMessage());
        }
      }
    }
  }
}
