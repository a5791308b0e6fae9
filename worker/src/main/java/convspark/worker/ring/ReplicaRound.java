package convspark.worker.ring;

import convspark.common.nn.Network;
import convspark.worker.ModelState;
import convspark.worker.PartitionStep;
import convspark.worker.SampleBlock;
import convspark.worker.StepPlan;
import convspark.worker.update.UpdateRule;
import convspark.worker.update.Updater;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One replica's round of the ring engine, inside one long-lived task (no Spark here): for every
 * step, T data-parallel threads (one workspace each) compute slices of this partition's share of
 * the global batch, their gradients and batch-norm statistics are summed locally in thread order,
 * the ring allreduces them with loss, count, correct and every rank's compute time, and the
 * replica applies the {@link Updater} to its own {@link ModelState}. Every replica applies the
 * same update to the same sums, so they stay bit-identical.
 *
 * <p>Sharded update (ZeRO stage 1, {@link Spec#shardUpdate}): with P > 1 replicas and an
 * element-wise update rule, each replica updates only the parameters of the part of the vector it
 * owns in the ring, as soon as their sums are complete, and the ring's all-gather carries the new
 * parameters instead of the summed gradient: the same bytes, 1/P of the update work per replica,
 * and the same bits as the full update, since each element sees the same arithmetic. The global
 * sample count that scales the gradient is known before the sums (every replica learns every
 * partition's size at the start of the round), and the optimizer state of the parts a replica
 * does not own is gathered once, at the end of the round.
 */
public final class ReplicaRound {
  private ReplicaRound() {}

  /**
   * What every replica of a round knows.
   *
   * @param plan the step plan of the run ({@link StepPlan#at} places each step)
   * @param firstStep global step of the round's first step
   * @param firstStepInEpoch the round's first step within its epoch
   * @param shardUpdate whether replicas update only what they own (when P > 1 and the rule is
   *     element-wise; otherwise every replica applies the full update)
   */
  public record Spec(Network net, UpdateRule rule, String checkpointDir, StepPlan plan,
      int epoch, long firstStep, int firstStepInEpoch, int steps, int stepsPerEpoch,
      boolean shardUpdate) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * What a round returns (rank 0's; the sums are global). Times are seconds summed over the
   * round's steps on this replica: compute (the threads), local sum, allreduce (wall time inside
   * the ring, waiting for slower peers included), update, and straggler (the slowest rank's
   * compute minus the mean, per step). Bytes are what the steps' allreduces sent (not the round's
   * start and end, which the sharded update adds).
   */
  public record Output(ModelState state, double lossSum, long count, long correct, double lastLr,
      double computeSeconds, double localSumSeconds, double allreduceSeconds,
      double updateSeconds, double stragglerSeconds, long allreduceBytes, int ranks, int threads)
      implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * Runs the round on this replica.
   *
   * @param block this partition's samples (may hold none)
   * @param threads data-parallel threads (the task's CPUs)
   * @throws RingException if the ring fails
   * @throws convspark.worker.TrainingFailedException if the loss, the gradient or the update is
   *     not finite
   */
  public static Output run(Spec spec, ModelState state, SampleBlock block, int partition,
      Allreduce ring, int threads) throws RingException {
    Network net = spec.net();
    int pc = net.paramCount();
    int sc = net.stateCount();
    int ranks = ring.size();
    Updater updater = new Updater(spec.rule(), net, spec.checkpointDir());
    // one thread accumulates its gradient straight into v[0, pc), zero at the start of a step;
    // several each into their own array, summed into v in thread order
    float[][] grads = threads > 1 ? new float[threads][pc] : null;
    float[][] bns = new float[threads][sc];
    float[] v = new float[pc + sc];
    float[] bnSum = new float[sc];
    double[] extras = new double[3 + ranks];
    boolean shard = spec.shardUpdate() && ranks > 1 && updater.elementwise();
    // every partition's size, for the global count of each step before its sums
    double[] sizes = new double[ranks];
    if (shard) {
      sizes[ring.rank()] = block.count();
      ring.allreduce(new float[0], sizes);
    }
    long[] ownedNanos = new long[1];
    Allreduce.Owned ownedUpdate = (f, from, to) -> {
      int end = Math.min(to, pc);
      if (from < end) {
        long n0 = System.nanoTime();
        updater.applyOwned(f, from, end, state);
        ownedNanos[0] += System.nanoTime() - n0;
      }
    };
    long stepBytes = 0; // the steps' allreduces only, not the round's bookkeeping
    double compute = 0;
    double localSum = 0;
    double reduce = 0;
    double update = 0;
    double straggler = 0;
    double lossSum = 0;
    long count = 0;
    long correct = 0;
    double lr = Double.NaN;
    int shardedSteps = 0;
    ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "ring-replica-" + partition);
      t.setDaemon(true);
      return t;
    }) : null;
    try {
      for (int s = 0; s < spec.steps(); s++) {
        long step = spec.firstStep() + s;
        StepPlan plan = spec.plan().at(spec.epoch(), spec.firstStepInEpoch() + s, step);
        long t0 = System.nanoTime();
        double[][] outs = new double[threads][];
        if (pool == null) {
          Arrays.fill(bns[0], 0f);
          outs[0] = PartitionStep.computeSlice(block, partition, plan, state.params(),
              state.state(), 0, 1, v, bns[0]);
        } else {
          List<Callable<double[]>> work = new ArrayList<>();
          for (int t = 0; t < threads; t++) {
            final int id = t;
            work.add(() -> {
              Arrays.fill(grads[id], 0f);
              Arrays.fill(bns[id], 0f);
              return PartitionStep.computeSlice(block, partition, plan, state.params(),
                  state.state(), id, threads, grads[id], bns[id]);
            });
          }
          List<Future<double[]>> fs;
          try {
            fs = pool.invokeAll(work);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RingException("ring rank " + ring.rank() + ": interrupted while computing");
          }
          for (int t = 0; t < threads; t++) {
            outs[t] = get(fs.get(t));
          }
        }
        long t1 = System.nanoTime();
        if (grads != null) {
          sumInto(v, 0, grads, pc);
        }
        for (int i = 0; i < sc; i++) {
          float acc = bns[0][i];
          for (int t = 1; t < threads; t++) {
            acc += bns[t][i];
          }
          v[pc + i] = acc;
        }
        Arrays.fill(extras, 0);
        for (double[] o : outs) {
          extras[0] += o[0];
          extras[1] += o[1];
          extras[2] += o[2];
        }
        double myCompute = (t1 - t0) / 1e9;
        extras[3 + ring.rank()] = myCompute;
        long stepCount = 0;
        for (int r = 0; r < ranks; r++) {
          stepCount += PartitionStep.samplesAt((int) sizes[r], plan.localBatch(),
              plan.stepInEpoch(), plan.network().minTrainingBatch());
        }
        boolean sharded = shard && stepCount > 0;
        long bytes0 = ring.stats().bytesSent;
        long t2 = System.nanoTime();
        ownedNanos[0] = 0;
        if (sharded) {
          updater.beginOwned(stepCount, state, step, spec.stepsPerEpoch());
          ring.allreduce(v, extras, ownedUpdate);
        } else {
          ring.allreduce(v, extras);
        }
        long t3 = System.nanoTime();
        stepBytes += ring.stats().bytesSent - bytes0;
        System.arraycopy(v, pc, bnSum, 0, sc);
        lr = updater.learningRate(step, spec.stepsPerEpoch());
        if (sharded) {
          if ((long) extras[2] != stepCount) {
            throw new IllegalStateException("ring rank " + ring.rank() + ": step " + step
                + " summed " + (long) extras[2] + " samples, the partition sizes gave "
                + stepCount);
          }
          updater.endOwned(v, stepCount, extras[0], bnSum, state, step, spec.epoch(),
              spec.stepsPerEpoch());
          shardedSteps++;
        } else {
          updater.apply(v, (long) extras[2], extras[0], bnSum, state, step, spec.epoch(),
              spec.stepsPerEpoch());
          if (grads == null) {
            Arrays.fill(v, 0, pc, 0f); // (endOwned leaves it zero)
          }
        }
        long t4 = System.nanoTime();
        double max = 0;
        double mean = 0;
        for (int r = 0; r < ranks; r++) {
          max = Math.max(max, extras[3 + r]);
          mean += extras[3 + r] / ranks;
        }
        straggler += max - mean;
        compute += myCompute;
        localSum += (t2 - t1) / 1e9;
        reduce += (t3 - t2 - ownedNanos[0]) / 1e9;
        update += (t4 - t3 + ownedNanos[0]) / 1e9;
        lossSum += extras[0];
        correct += (long) extras[1];
        count += (long) extras[2];
      }
      if (shardedSteps > 0) {
        long t5 = System.nanoTime();
        gatherOptimizerState(ring, state, v, extras);
        update += (System.nanoTime() - t5) / 1e9;
      }
    } finally {
      if (pool != null) {
        pool.shutdownNow();
      }
    }
    return new Output(state, lossSum, count, correct, lr, compute, localSum, reduce, update,
        straggler, stepBytes, ranks, threads);
  }

  /**
   * After sharded steps each replica's optimizer state is current only where it owns the
   * parameters: one all-gather per state array makes it whole on every replica. It
   * runs as an allreduce of the step vector's layout (so every replica owns the same part as in
   * the steps) whose owners write their state over the sums.
   */
  private static void gatherOptimizerState(Allreduce ring, ModelState state, float[] v,
      double[] extras) throws RingException {
    for (float[] a : state.optimizerState()) {
      if (a.length == 0) {
        continue; // SGD without momentum
      }
      Arrays.fill(v, 0f);
      Arrays.fill(extras, 0);
      ring.allreduce(v, extras, (f, a0, b0) -> {
        int end = Math.min(b0, a.length);
        if (a0 < end) {
          System.arraycopy(a, a0, f, a0, end - a0);
        }
      });
      System.arraycopy(v, 0, a, 0, a.length);
    }
  }

  /** v[from + i] = sum over threads in thread order of g[t][i], for i < n. */
  private static void sumInto(float[] v, int from, float[][] g, int n) {
    int threads = g.length;
    for (int i = 0; i < n; i++) {
      float acc = g[0][i];
      for (int t = 1; t < threads; t++) {
        acc += g[t][i];
      }
      v[from + i] = acc;
    }
  }

  private static double[] get(Future<double[]> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while computing a step", e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException("a replica thread failed: " + e.getCause(), e.getCause());
    }
  }
}
