package convspark.bench;

import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.data.ImageSet;
import convspark.driver.train.TrainingData;
import convspark.worker.ModelState;
import convspark.worker.PartitionStep;
import convspark.worker.SampleBlock;
import convspark.worker.StepPlan;
import convspark.worker.ring.Allreduce;
import convspark.worker.ring.LocalRing;
import convspark.worker.ring.ReplicaRound;
import convspark.worker.ring.RingSecret;
import convspark.worker.update.UpdateRule;
import convspark.worker.update.Updater;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The ring's replicas and the kernel-only reference, interleaved in one JVM: round after round of
 * {@code R} steps on two threads, in turn (1) the reference ({@link KernelThroughput}'s loop:
 * random samples, fixed weights, no update, no waiting), (2) two independent replicas (each
 * {@link ReplicaRound} on its half of the real samples, a ring of one: no sums, no waiting), (3)
 * the ring's two replicas summing through {@link LocalRing} and sleeping at once when one waits
 * for the other, and (4) the same with a waiting replica spinning for up to {@code SPIN_MICROS}
 * first; then two modes that ask what the straggler wait of a synchronous step costs on the
 * reference's own work (its random samples and fixed weights): (5) the reference with the two
 * threads meeting at a spinning barrier after every step, and (6) the same with the step's 128
 * samples split by the threads' speeds in the last step (multiples of 4, 32 to 96 each; a
 * timing-dependent split, which would make runs non-deterministic); and five that each change
 * one thing of the reference, to find where the replicas' slower compute comes from: (7) a copy
 * of the weights per thread, (8) the real samples, gathered per step, (9) the replica's current
 * (trained) weights, (10) a replica of its own per thread, updated by {@link Updater#apply}
 * after every step (compute and update timed apart), (11) the same with the step's samples
 * gathered and computed by {@link PartitionStep#computeSlice}. Every mode runs within
 * seconds of the others, again and again, so the host's drift
 * (which moved one 10 s reading by up to 19% between runs here) falls on all of them alike; the
 * per-round ratios to the reference, and their medians, are what it prints.
 *
 * <p>Usage: {@code InterleavedReplicas CONFIG ROUNDS STEPS_PER_ROUND [SPIN_MICROS]} (global batch
 * 128: 2 replicas x 64; spin 2000 unless given). Three rounds of every mode run first, unmeasured
 * (JIT warm-up).
 */
public final class InterleavedReplicas {
  private InterleavedReplicas() {}

  private static final String[] MODES = {"reference (kernel, 2 threads)",
      "independent replicas", "ring, sleep at once", "ring, spin", "reference in lockstep",
      "lockstep, split by speed", "reference, own weights", "reference, real samples",
      "reference, trained weights", "reference + own update",
      "own update, computeSlice"};

  public static void main(String[] args) throws Exception {
    String config = args[0];
    int rounds = Integer.parseInt(args[1]);
    int perRound = Integer.parseInt(args[2]);
    long spinNanos = (args.length > 3 ? Long.parseLong(args[3]) : 2000) * 1000;
    int ranks = 2;
    int localBatch = 64;
    RunConfig cfg = RunConfig.parse(Settings.load(config, List.of(
        "data.validation-fraction=0", "data.test.images=\"\"", "data.test.labels=\"\"",
        "train.global-batch=" + ranks * localBatch, "train.workers=" + ranks)));
    RunConfig.Train t = cfg.train();
    TrainingData data = TrainingData.prepare(cfg, new org.apache.hadoop.conf.Configuration());
    ImageSet set = ((TrainingData.ArraySplit) data.train()).set();
    SampleBlock[] blocks = SampleBlock.split(set.pixels(), set.labels(), set.sampleSize(), ranks);
    Network net = new Network(cfg.model());
    int stepsPerEpoch = PartitionStep.steps(blocks[0].count(), localBatch, net.minTrainingBatch());
    UpdateRule rule = t.updateRule();
    ModelState start = Updater.start(rule, net, net.initParams(t.seed()), net.initState());
    StepPlan plan = new StepPlan(net, localBatch, 0, 0, 0, t.seed(), t.labelSmoothing(),
        t.augment());
    byte[] secret = RingSecret.generate();
    ModelState[] states = {start.copy(), start.copy()};
    // the reference: as KernelThroughput, one workspace of random samples per thread
    float[] refParams = net.initParams(1);
    float[] refState = net.initState();
    Workspace[] refWs = new Workspace[ranks];
    float[][] refGrads = new float[ranks][net.paramCount()];
    float[][] refBn = new float[ranks][net.stateCount()];
    for (int r = 0; r < ranks; r++) {
      refWs[r] = net.newWorkspace(localBatch);
      SplittableRandom rng = new SplittableRandom(r);
      for (int i = 0; i < refWs[r].input().length; i++) {
        refWs[r].input()[i] = (float) (rng.nextDouble() * 2 - 1);
      }
      for (int i = 0; i < localBatch; i++) {
        refWs[r].labels()[i] = rng.nextInt(net.classes());
      }
    }
    // mode 6's workspaces hold up to 96 samples; its split follows the speeds it measured
    Workspace[] splitWs = new Workspace[ranks];
    for (int r = 0; r < ranks; r++) {
      splitWs[r] = net.newWorkspace(localBatch * ranks - 32);
      SplittableRandom rng = new SplittableRandom(r);
      for (int i = 0; i < splitWs[r].input().length; i++) {
        splitWs[r].input()[i] = (float) (rng.nextDouble() * 2 - 1);
      }
      for (int i = 0; i < splitWs[r].maxBatch(); i++) {
        splitWs[r].labels()[i] = rng.nextInt(net.classes());
      }
    }
    // modes 7-9 change one thing of the reference each: a weight copy per thread, the real
    // samples gathered as computeSlice does, the replica's current (trained) weights
    float[][] ownParams = {refParams.clone(), refParams.clone()};
    Workspace[] realWs = {net.newWorkspace(localBatch), net.newWorkspace(localBatch)};
    float[][] trained = new float[1][];
    // mode 10: the reference's steps on a replica of its own, updated after every step
    ModelState[] own = {start.copy(), start.copy()};
    Updater[] ownUpdater = {new Updater(rule, net, null), new Updater(rule, net, null)};
    float[][] ownGrad = new float[ranks][net.paramCount()];
    // mode 11: the same through PartitionStep.computeSlice on the real samples
    ModelState[] own2 = {start.copy(), start.copy()};
    Updater[] ownUpdater2 = {new Updater(rule, net, null), new Updater(rule, net, null)};
    float[][] ownGrad2 = new float[ranks][net.paramCount() + net.stateCount()];
    double[] speed = {1, 1};
    long[] stepCounter = new long[ranks];
    int modes = MODES.length;
    double[][] ips = new double[modes][rounds];
    double[][] computeMs = new double[modes][rounds];
    double[][] waitMs = new double[modes][rounds];
    double[][] stragglerMs = new double[modes][rounds];
    double[][] updateMs = new double[modes][rounds];
    double[] firstShare = new double[rounds];
    long step = 0;
    long ringId = 0;
    for (int round = -3; round < rounds; round++) {
      for (int m = 0; m < modes; m++) {
        final int mode = m;
        int epoch = (int) (step / stepsPerEpoch);
        int inEpoch = (int) (step % stepsPerEpoch);
        int steps = Math.min(perRound, stepsPerEpoch - inEpoch);
        ReplicaRound.Spec spec = new ReplicaRound.Spec(net, rule, null, plan, epoch, step,
            inEpoch, steps, stepsPerEpoch, t.ring().shardUpdate());
        long id = ringId++;
        trained[0] = states[0].params().clone();
        double[] compute = new double[ranks];
        double[] wait = new double[ranks];
        double[] straggler = new double[ranks];
        double[] update = new double[ranks];
        SpinBarrier barrier = new SpinBarrier(ranks);
        long[] stepNanos = new long[ranks];
        long[] firstSamples = new long[1];
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread[] threads = new Thread[ranks];
        long t0 = System.nanoTime();
        for (int r = 0; r < ranks; r++) {
          final int rank = r;
          threads[r] = new Thread(() -> {
            try {
              if (mode == 0 || mode >= 4) {
                long c0 = System.nanoTime();
                float[] weights = mode == 6 ? ownParams[rank] : mode == 8 ? trained[0]
                    : refParams;
                long stepsNanos = 0;
                long updateNanos = 0;
                for (int s = 0; s < steps; s++) {
                  int n = localBatch;
                  Workspace ws = refWs[rank];
                  if (mode == 7) {
                    ws = realWs[rank];
                    int size = blocks[rank].sampleSize();
                    int first = (int) ((inEpoch + s) % stepsPerEpoch) * localBatch;
                    for (int i = 0; i < n; i++) {
                      System.arraycopy(blocks[rank].features(), (first + i) * size, ws.input(),
                          i * size, size);
                      ws.labels()[i] = blocks[rank].labels()[first + i];
                    }
                  }
                  if (mode == 5) {
                    int n0 = Math.max(32, Math.min(localBatch * ranks - 32,
                        (int) Math.round(localBatch * ranks * speed[0] / (speed[0] + speed[1])
                            / 4) * 4));
                    n = rank == 0 ? n0 : localBatch * ranks - n0;
                    ws = splitWs[rank];
                    if (rank == 0) {
                      firstSamples[0] += n;
                    }
                  }
                  long s0 = System.nanoTime();
                  if (mode == 10) {
                    Arrays.fill(refBn[rank], 0f);
                    long g = stepCounter[rank]++;
                    StepPlan p = plan.at((int) (g / stepsPerEpoch), (int) (g % stepsPerEpoch), g);
                    PartitionStep.computeSlice(blocks[rank], rank, p, own2[rank].params(),
                        own2[rank].state(), 0, 1, ownGrad2[rank], refBn[rank]);
                    long s1 = System.nanoTime();
                    ownUpdater2[rank].apply(ownGrad2[rank], n, 0, refBn[rank], own2[rank], g,
                        0, stepsPerEpoch);
                    Arrays.fill(ownGrad2[rank], 0f);
                    updateNanos += System.nanoTime() - s1;
                    stepsNanos += s1 - s0;
                  } else if (mode == 9) {
                    Arrays.fill(refBn[rank], 0f);
                    ws.trainStep(new Pass(own[rank].params(), ownGrad[rank], own[rank].state(),
                        true, s, refBn[rank]), n, 0.1);
                    long s1 = System.nanoTime();
                    ownUpdater[rank].apply(ownGrad[rank], n, 0, refBn[rank], own[rank], s, 0,
                        stepsPerEpoch);
                    Arrays.fill(ownGrad[rank], 0f);
                    updateNanos += System.nanoTime() - s1;
                    stepsNanos += s1 - s0;
                  } else {
                    ws.trainStep(new Pass(weights, refGrads[rank], refState, true, s,
                        refBn[rank]), n, 0.1);
                  }
                  stepNanos[rank] = System.nanoTime() - s0;
                  if (mode == 4 || mode == 5) {
                    barrier.await();
                    if (mode == 5) {
                      if (rank == 0) {
                        // a moving average of each thread's samples per nanosecond
                        for (int q = 0; q < ranks; q++) {
                          int nq = q == rank ? n : localBatch * ranks - n;
                          speed[q] = 0.5 * speed[q] + 0.5 * nq / (double) stepNanos[q];
                        }
                      }
                      barrier.await();
                    }
                  }
                }
                compute[rank] = (mode >= 9 ? stepsNanos : System.nanoTime() - c0) / 1e9;
                update[rank] = updateNanos / 1e9;
                return;
              }
              try (Allreduce ring = mode == 1
                  ? LocalRing.join(secret, -1 - (id * ranks + rank), 0, 1, 600_000)
                  : LocalRing.join(secret, id, rank, ranks, 600_000, mode == 3 ? spinNanos : 0)) {
                ReplicaRound.Output out = ReplicaRound.run(spec, states[rank], blocks[rank],
                    rank, ring, 1);
                states[rank] = out.state();
                compute[rank] = out.computeSeconds();
                wait[rank] = out.allreduceSeconds();
                straggler[rank] = out.stragglerSeconds();
                update[rank] = out.updateSeconds();
              }
            } catch (Throwable e) {
              failed.compareAndSet(null, e);
            }
          }, "interleaved-" + r);
          threads[r].start();
        }
        for (Thread th : threads) {
          th.join();
        }
        if (failed.get() != null) {
          throw new IllegalStateException("a replica failed: " + failed.get(), failed.get());
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (mode >= 1 && mode <= 3) {
          step += steps; // the replicas go on through the epochs; the reference stands still
        }
        if (round >= 0) {
          ips[m][round] = (double) steps * ranks * localBatch / seconds;
          computeMs[m][round] = (compute[0] + compute[1]) / ranks / steps * 1000;
          waitMs[m][round] = (wait[0] + wait[1]) / ranks / steps * 1000;
          stragglerMs[m][round] = straggler[0] / steps * 1000; // the same on every rank
          updateMs[m][round] = (update[0] + update[1]) / ranks / steps * 1000;
          if (m == 5) {
            firstShare[round] = (double) firstSamples[0] / steps;
          }
        }
      }
    }
    System.out.println(String.format(Locale.ROOT, "%d rounds of %d steps per mode, interleaved;"
        + " global batch %d (%d x %d); spin %d us; %s", rounds, perRound, ranks * localBatch,
        ranks, localBatch, spinNanos / 1000, convspark.common.blas.Blas.describe()));
    for (int m = 0; m < modes; m++) {
      double[] ratio = new double[rounds];
      for (int i = 0; i < rounds; i++) {
        ratio[i] = ips[m][i] / ips[0][i];
      }
      System.out.println(String.format(Locale.ROOT, "%-30s images/s %,8.0f  vs reference %.3f "
          + "(quartiles %.3f-%.3f)  compute %.2f ms/step  allreduce %.2f ms/step  of it "
          + "straggler %.2f  update %.2f ms/step", MODES[m], median(ips[m]), median(ratio),
          quantile(ratio, 0.25), quantile(ratio, 0.75), median(computeMs[m]),
          median(waitMs[m]), median(stragglerMs[m]), median(updateMs[m])));
    }
    System.out.println(String.format(Locale.ROOT, "split by speed: thread 0's samples per step "
        + "%.1f in the median round (10th-90th percentile %.1f-%.1f)", median(firstShare),
        quantile(firstShare, 0.1), quantile(firstShare, 0.9)));
  }

  /** Two or more threads meeting after every step, spinning while they wait. */
  private static final class SpinBarrier {
    private final int parties;
    private final java.util.concurrent.atomic.AtomicInteger arrived =
        new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger generation =
        new java.util.concurrent.atomic.AtomicInteger();

    SpinBarrier(int parties) {
      this.parties = parties;
    }

    void await() {
      int g = generation.get();
      if (arrived.incrementAndGet() == parties) {
        arrived.set(0);
        generation.incrementAndGet();
        return;
      }
      while (generation.get() == g) {
        Thread.onSpinWait();
      }
    }
  }

  private static double median(double[] a) {
    return quantile(a, 0.5);
  }

  private static double quantile(double[] a, double q) {
    double[] c = a.clone();
    Arrays.sort(c);
    return c[(int) Math.min(c.length - 1, Math.round(q * (c.length - 1)))];
  }
}
