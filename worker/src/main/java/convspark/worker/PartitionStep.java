package convspark.worker;

import convspark.common.Seeds;
import convspark.common.nn.Pass;
import convspark.common.spec.Shape;
import convspark.common.nn.Workspace;
import java.util.SplittableRandom;

/**
 * The work of one partition in one training step: take this step's slice of the partition's
 * epoch shuffle (seeded by run seed, epoch and partition), gather those samples into the
 * workspace (augmenting them if configured), run forward and backward, and return the gradient
 * sum with loss and counts. Pure computation: no Spark here.
 */
public final class PartitionStep {
  private PartitionStep() {}

  /**
   * Number of samples a partition of {@code blockCount} contributes to step {@code step}: its
   * next {@code localBatch}, or what is left in the epoch's last step. A remainder smaller than
   * {@code minBatch} (a single sample, for a network whose batch norm needs two: {@link
   * convspark.common.spec.ModelSpec#minTrainingBatch}) is left out of that epoch; the shuffle
   * changes every epoch, so it is a different sample each time.
   */
  public static int samplesAt(int blockCount, int localBatch, int step, int minBatch) {
    int n = Math.max(0, Math.min(localBatch, blockCount - step * localBatch));
    return n < minBatch ? 0 : n;
  }

  /**
   * Steps in an epoch whose largest partition holds {@code maxBlock} samples: enough for all of
   * them, less a last step in which every partition would leave its remainder out ({@link
   * #samplesAt}).
   */
  public static int steps(int maxBlock, int localBatch, int minBatch) {
    int steps = (maxBlock + localBatch - 1) / localBatch;
    return steps > 0 && samplesAt(maxBlock, localBatch, steps - 1, minBatch) == 0
        ? steps - 1 : steps;
  }

  /**
   * How many of {@code threads} slices a share of {@code n} samples is cut into: all of them,
   * unless that leaves a slice smaller than {@code minBatch}; then as many as keep every slice
   * at least that large (the epoch's last, partial step).
   */
  static int slices(int n, int threads, int minBatch) {
    return minBatch <= 1 ? threads : Math.max(1, Math.min(threads, n / minBatch));
  }

  public static StepResult compute(SampleBlock block, int partition, StepPlan plan,
      float[] params, float[] state) {
    long t0 = System.nanoTime();
    var net = plan.network();
    StepResult result = new StepResult(new float[net.paramCount()], new float[net.stateCount()]);
    int n = samplesAt(block.count(), plan.localBatch(), plan.stepInEpoch(),
        net.minTrainingBatch());
    if (n == 0) {
      return result;
    }
    WorkspaceCache.Entry entry = WorkspaceCache.borrow(net, plan.localBatch());
    try {
      int[] perm = permutation(entry, block.count(), plan.seed(), plan.epoch(), partition);
      Workspace ws = entry.workspace;
      gather(block, perm, plan.stepInEpoch() * plan.localBatch(), n, ws, net.inputShape(),
          plan.augment(), Seeds.derive(plan.seed(), 2, plan.globalStep(), partition));
      long passSeed = Seeds.derive(plan.seed(), 3, plan.globalStep(), partition);
      Pass pass = new Pass(params, result.gradSum, state, true, passSeed, result.bnStats);
      Workspace.Outcome out = ws.trainStep(pass, n, plan.labelSmoothing());
      result.lossSum = out.lossSum();
      result.correct = out.correct();
      result.count = n;
    } finally {
      WorkspaceCache.giveBack(net, plan.localBatch(), entry);
    }
    result.computeSeconds = (System.nanoTime() - t0) / 1e9;
    return result;
  }

  /**
   * Slice {@code slice} of {@code slices} of the partition's share of a step (samples [n s / S,
   * n (s+1) / S) of its n; S = {@code slices}, or fewer in a last, partial step where a slice
   * would hold fewer samples than the network's {@code minTrainingBatch}), accumulated into
   * {@code gradSum} and {@code bnStats}: what one of the ring engine's data-parallel threads
   * computes. One slice is exactly {@link #compute} (same
   * samples, same augmentation and dropout seeds); with more, each slice seeds its own.
   *
   * @return {loss sum, correct, count} of the slice
   */
  public static double[] computeSlice(SampleBlock block, int partition, StepPlan plan,
      float[] params, float[] state, int slice, int slices, float[] gradSum, float[] bnStats) {
    var net = plan.network();
    int n = samplesAt(block.count(), plan.localBatch(), plan.stepInEpoch(),
        net.minTrainingBatch());
    int cut = slices(n, slices, net.minTrainingBatch());
    if (slice >= cut) {
      return new double[3];
    }
    int from = (int) ((long) n * slice / cut);
    int m = (int) ((long) n * (slice + 1) / cut) - from;
    if (m == 0) {
      return new double[3];
    }
    WorkspaceCache.Entry entry = WorkspaceCache.borrow(net, plan.localBatch());
    try {
      int[] perm = permutation(entry, block.count(), plan.seed(), plan.epoch(), partition);
      long augmentSeed = slices == 1 ? Seeds.derive(plan.seed(), 2, plan.globalStep(), partition)
          : Seeds.derive(plan.seed(), 2, plan.globalStep(), partition, slice);
      long passSeed = slices == 1 ? Seeds.derive(plan.seed(), 3, plan.globalStep(), partition)
          : Seeds.derive(plan.seed(), 3, plan.globalStep(), partition, slice);
      gather(block, perm, plan.stepInEpoch() * plan.localBatch() + from, m, entry.workspace,
          net.inputShape(), plan.augment(), augmentSeed);
      Workspace.Outcome out = entry.workspace.trainStep(
          new Pass(params, gradSum, state, true, passSeed, bnStats), m, plan.labelSmoothing());
      return new double[] {out.lossSum(), out.correct(), m};
    } finally {
      WorkspaceCache.giveBack(net, plan.localBatch(), entry);
    }
  }

  /** The partition's shuffle for this epoch, cached in the workspace entry. */
  static int[] permutation(WorkspaceCache.Entry e, int count, long seed, int epoch,
      int partition) {
    long key = Seeds.derive(seed, 1, epoch, partition);
    if (e.permutationKey == key && e.permutationSize == count) {
      return e.permutation;
    }
    if (e.permutation.length < count) {
      e.permutation = new int[count];
    }
    shuffle(e.permutation, count, key);
    e.permutationKey = key;
    e.permutationSize = count;
    return e.permutation;
  }

  /** Fills {@code perm[0..count)} with a Fisher-Yates shuffle of 0..count-1 seeded by key. */
  public static void shuffle(int[] perm, int count, long key) {
    for (int i = 0; i < count; i++) {
      perm[i] = i;
    }
    SplittableRandom rng = new SplittableRandom(key);
    for (int i = count - 1; i > 0; i--) {
      int j = rng.nextInt(i + 1);
      int t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
  }

  static void gather(SampleBlock block, int[] perm, int from, int n, Workspace ws, Shape shape,
      Augment augment, long augmentSeed) {
    int size = block.sampleSize();
    float[] in = ws.input();
    int[] labels = ws.labels();
    SplittableRandom rng = augment.active() ? new SplittableRandom(augmentSeed) : null;
    for (int i = 0; i < n; i++) {
      int s = perm[from + i];
      labels[i] = block.labels()[s];
      if (rng != null) {
        augment.apply(block.features(), s * size, in, i * size, shape.channels(), shape.height(),
            shape.width(), rng);
      } else {
        System.arraycopy(block.features(), s * size, in, i * size, size);
      }
    }
  }
}
