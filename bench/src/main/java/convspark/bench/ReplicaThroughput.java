package convspark.bench;

import convspark.common.nn.Network;
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
import convspark.worker.ring.RingOptions;
import convspark.worker.ring.RingSecret;
import convspark.worker.update.UpdateRule;
import convspark.worker.update.Updater;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The ring engine's replicas without Spark: {@code ranks} threads in one JVM, each a replica that
 * runs {@link ReplicaRound} on its share of the configured training set (real samples, the epoch
 * shuffle, gather, gradient zeroing, the optimizer update), summing through an in-JVM
 * {@link LocalRing} exactly as the ring engine does under {@code local[P]}. Trains {@code epochs}
 * epochs (one round each) and prints the last epoch's images/s and its per-step times, so that
 * scripts/bench-train.sh can split the gap between the kernel-only reference
 * ({@link KernelThroughput}) and the engine inside Spark into "the replica's own work" and
 * "Spark".
 *
 * <p>With {@code --independent}, each replica is a ring of one (no sums, no waiting for peers):
 * compute and update alone. With {@code --threads T}, each replica computes its share with T
 * data-parallel threads, as a ring task with {@code spark.task.cpus = T} does (one replica of T
 * threads against T replicas of one: one update instead of T, and no ring).
 *
 * <p>Usage: {@code ReplicaThroughput CONFIG RANKS GLOBAL_BATCH EPOCHS [--independent]
 * [--threads T] [--set key=value]...}
 */
public final class ReplicaThroughput {
  private ReplicaThroughput() {}

  public static void main(String[] args) throws Exception {
    String config = args[0];
    int ranks = Integer.parseInt(args[1]);
    int globalBatch = Integer.parseInt(args[2]);
    int epochs = Integer.parseInt(args[3]);
    boolean independent = false;
    int threadsPerReplica = 1;
    List<String> sets = new ArrayList<>(List.of("data.validation-fraction=0",
        "data.test.images=\"\"", "data.test.labels=\"\"",
        "train.global-batch=" + globalBatch, "train.workers=" + ranks,
        "train.epochs=" + epochs));
    for (int i = 4; i < args.length; i++) {
      if (args[i].equals("--independent")) {
        independent = true;
      } else if (args[i].equals("--threads")) {
        threadsPerReplica = Integer.parseInt(args[++i]);
      } else if (args[i].equals("--set")) {
        sets.add(args[++i]);
      } else {
        throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    RunConfig cfg = RunConfig.parse(Settings.load(config, sets));
    RunConfig.Train t = cfg.train();
    TrainingData data = TrainingData.prepare(cfg, new org.apache.hadoop.conf.Configuration());
    ImageSet set = ((TrainingData.ArraySplit) data.train()).set();
    SampleBlock[] blocks = SampleBlock.split(set.pixels(), set.labels(), set.sampleSize(), ranks);
    Network net = new Network(cfg.model());
    int localBatch = globalBatch / ranks;
    int maxBlock = 0;
    for (SampleBlock b : blocks) {
      maxBlock = Math.max(maxBlock, b.count());
    }
    int stepsPerEpoch = PartitionStep.steps(maxBlock, localBatch, net.minTrainingBatch());
    UpdateRule rule = t.updateRule();
    ModelState start = Updater.start(rule, net, net.initParams(t.seed()), net.initState());
    StepPlan plan = new StepPlan(net, localBatch, 0, 0, 0, t.seed(), t.labelSmoothing(),
        t.augment());
    byte[] secret = RingSecret.generate();
    // as the ring engine's tasks under local[P] (RingTask): spin unless oversubscribed
    long spinNanos = RingOptions.spinNanosFor(t.ring().spinMicros() * 1000L,
        ranks * threadsPerReplica, Runtime.getRuntime().availableProcessors());
    ModelState[] states = new ModelState[ranks];
    for (int r = 0; r < ranks; r++) {
      states[r] = start.copy();
    }
    ReplicaRound.Output last = null;
    double lastSeconds = 0;
    long lastImages = 0;
    for (int epoch = 0; epoch < epochs; epoch++) {
      ReplicaRound.Spec spec = new ReplicaRound.Spec(net, rule, null, plan, epoch,
          (long) epoch * stepsPerEpoch, 0, stepsPerEpoch, stepsPerEpoch,
          t.ring().shardUpdate());
      AtomicReference<ReplicaRound.Output> rank0 = new AtomicReference<>();
      AtomicLong images = new AtomicLong();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      List<Thread> threads = new ArrayList<>();
      long ringId = epoch;
      final int ep = epoch;
      final boolean alone = independent;
      final int perReplica = threadsPerReplica;
      long t0 = System.nanoTime();
      for (int r = 0; r < ranks; r++) {
        final int rank = r;
        Thread th = new Thread(() -> {
          try (Allreduce ring = alone
              ? LocalRing.join(secret, -1 - ((long) ep * ranks + rank), 0, 1, 600_000)
              : LocalRing.join(secret, ringId, rank, ranks, 600_000, spinNanos)) {
            ReplicaRound.Output out = ReplicaRound.run(spec, states[rank], blocks[rank], rank,
                ring, perReplica);
            states[rank] = out.state();
            // a ring's count is global, a ring of one counts its own samples
            if (alone || rank == 0) {
              images.addAndGet(out.count());
            }
            if (rank == 0) {
              rank0.set(out);
            }
          } catch (Throwable e) {
            failed.compareAndSet(null, e);
          }
        }, "replica-" + r);
        threads.add(th);
        th.start();
      }
      for (Thread th : threads) {
        th.join();
      }
      if (failed.get() != null) {
        throw new IllegalStateException("a replica failed: " + failed.get(), failed.get());
      }
      lastSeconds = (System.nanoTime() - t0) / 1e9;
      last = rank0.get();
      lastImages = images.get();
    }
    double ms = 1000.0 / stepsPerEpoch;
    System.out.println(String.format(Locale.ROOT,
        "images/s %.1f (%d replicas x %d thread(s) x batch %d, %s, epoch %d of %d: %.1f s;"
            + " per step: compute %.2f ms, allreduce %.2f ms, update %.2f ms, straggler %.2f ms; loss %.4f)",
        lastImages / lastSeconds, ranks, threadsPerReplica, localBatch,
        independent ? "independent" : "LocalRing sums, spin " + spinNanos / 1000 + " us",
        epochs, epochs, lastSeconds,
        last.computeSeconds() * ms, last.allreduceSeconds() * ms, last.updateSeconds() * ms,
        last.stragglerSeconds() * ms, last.lossSum() / last.count()));
  }
}
