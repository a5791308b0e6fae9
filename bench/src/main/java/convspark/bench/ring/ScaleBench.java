package convspark.bench.ring;

import convspark.bench.ExampleNet;
import convspark.bench.JitQuiet;
import convspark.common.blas.Blas;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.common.optim.Sgd;
import convspark.worker.ring.Allreduce;
import convspark.worker.ring.ProcessRendezvous;
import convspark.worker.ring.Ring;
import convspark.worker.ring.RingListener;
import convspark.worker.ring.RingOptions;
import convspark.worker.ring.RingSecret;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Data-parallel training throughput of P worker processes on one machine without Spark: each
 * process holds a replica of conf/fashion-mnist.conf's network and runs T threads (one workspace
 * each, batch {@code --batch} per thread, random data); per step the threads' gradients are
 * summed locally, the processes ring-allreduce gradient, batch-norm statistics, loss and count,
 * and the replicas apply the SGD (Nesterov) update sharded, as the ring engine does: each updates
 * the weights of the segment it owns as its sums complete, and the all-gather carries the new
 * weights. What scripts/bench-scale.sh compares with PyTorch DDP; the ring engine's executor loop
 * without Spark around it.
 *
 * <p>A process whose sums arrive before its peers' spins for up to {@code --spin-micros} (default
 * 2000, the ring engine's {@code train.ring.spin-micros}) before it sleeps, where P x T does not
 * outnumber the machine's CPUs, as the engine's executors decide ({@link
 * RingOptions#spinNanosFor}).
 *
 * <p>Usage: {@code ScaleBench --procs P --threads T [--seconds 20] [--batch 64] [--spin-micros
 * 2000]}. Prints {@code
 * RESULT {json}}: images/s over the measured window and the mean seconds per step of compute,
 * local sum, allreduce and update (rank 0). The window opens after a warm-up of at least 0.3 x
 * seconds that lasts until rank 0's JIT compilers are quiet ({@link JitQuiet}); the result
 * reports the warm-up it took ({@code warmup_s}) and whether the compilers were quiet then
 * ({@code jit_quiet}).
 */
public final class ScaleBench {
  private ScaleBench() {}

  public static void main(String[] args) throws Exception {
    int procs = 1;
    int threads = 1;
    double seconds = 20;
    int batch = 64;
    int rank = -1;
    long spinMicros = 2000;
    for (int i = 0; i < args.length; i += 2) {
      switch (args[i]) {
        case "--procs" -> procs = Integer.parseInt(args[i + 1]);
        case "--threads" -> threads = Integer.parseInt(args[i + 1]);
        case "--seconds" -> seconds = Double.parseDouble(args[i + 1]);
        case "--batch" -> batch = Integer.parseInt(args[i + 1]);
        case "--child" -> rank = Integer.parseInt(args[i + 1]);
        case "--spin-micros" -> spinMicros = Long.parseLong(args[i + 1]);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (rank >= 0) {
      child(rank, procs, threads, seconds, batch, spinMicros);
      return;
    }
    List<List<String>> cmds = new ArrayList<>();
    List<String> jvm = new ArrayList<>();
    for (String a : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent")) {
        jvm.add(a);
      }
    }
    for (int r = 0; r < procs; r++) {
      cmds.add(ProcessRendezvous.javaCommand(ScaleBench.class.getName(), jvm,
          List.of("--child", String.valueOf(r), "--threads", String.valueOf(threads),
              "--seconds", String.valueOf(seconds), "--batch", String.valueOf(batch),
              "--procs", String.valueOf(procs), "--spin-micros", String.valueOf(spinMicros))));
    }
    try (ProcessRendezvous rv = ProcessRendezvous.start(cmds, RingSecret.generate(),
        (long) (seconds * 1000 * 3 + 120_000))) {
      rv.relayAddresses(procs);
      String result = rv.expect(0, "RESULT ");
      for (int r = 1; r < procs; r++) {
        rv.expect(r, "DONE");
      }
      rv.waitForAll();
      System.out.println("RESULT " + result.trim());
    }
  }

  static void child(int rank, int procs, int threads, double seconds, int batch,
      long spinMicros) throws Exception {
    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    byte[] secret = ProcessRendezvous.readSecret(stdin);
    Network net = ExampleNet.network();
    int pc = net.paramCount();
    int sc = net.stateCount();
    float[] params = net.initParams(1); // same seed everywhere: identical replicas
    float[] state = net.initState();
    Workspace[] ws = new Workspace[threads];
    float[][] grads = new float[threads][pc];
    float[][] bn = new float[threads][sc];
    for (int t = 0; t < threads; t++) {
      ws[t] = net.newWorkspace(batch);
      SplittableRandom r = new SplittableRandom(1000L * rank + t);
      float[] in = ws[t].input();
      for (int i = 0; i < in.length; i++) {
        in[i] = (float) (r.nextDouble() * 2 - 1);
      }
      for (int i = 0; i < batch; i++) {
        ws[t].labels()[i] = r.nextInt(net.classes());
      }
    }
    float[] v = new float[pc + sc];
    double[] extras = new double[4]; // loss sum, count, correct, phase (rank 0's decision)
    Sgd sgd = new Sgd(pc, 0.9, true);
    long spinNanos = RingOptions.spinNanosFor(spinMicros * 1000, procs * threads,
        Runtime.getRuntime().availableProcessors());
    RingListener l = RingListener.bind(InetAddress.getLoopbackAddress(),
        RingOptions.DEFAULTS.withSpinNanos(spinNanos));
    List<InetSocketAddress> peers = ProcessRendezvous.exchange(l, stdin, System.out);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    double compute = 0;
    double localSum = 0;
    double reduce = 0;
    double update = 0;
    long measuredSteps = 0;
    double warmupSeconds = 0;
    boolean quiet = false; // rank 0's JIT when the measured window opened
    long images = 0;
    long start = 0;
    long end = 0;
    // every step's global count is known in advance: P processes x T threads x batch
    final float inv = (float) (1.0 / ((double) peers.size() * threads * batch));
    long[] ownedNanos = new long[1];
    Allreduce.Owned owned = (f, from, to) -> {
      long n0 = System.nanoTime();
      int upTo = Math.min(to, pc);
      for (int i = from; i < upTo; i++) {
        f[i] *= inv;
      }
      if (from < upTo) {
        sgd.stepRange(params, f, 0.01, from, upTo);
        System.arraycopy(params, from, f, from, upTo - from);
      }
      ownedNanos[0] += System.nanoTime() - n0;
    };
    try (Ring ring = l.join(peers, rank, secret, 1)) {
      long t0 = System.nanoTime();
      long warm = t0 + (long) (0.3 * seconds * 1e9);
      long cap = JitQuiet.cap(t0, 0.3 * seconds);
      long stop = Long.MAX_VALUE; // rank 0's: once it has decided that warm-up is over
      JitQuiet jit = new JitQuiet();
      boolean measuring = false;
      for (long step = 0; ; step++) {
        long a = System.nanoTime();
        List<Callable<double[]>> work = new ArrayList<>();
        final long s = step;
        for (int t = 0; t < threads; t++) {
          final int id = t;
          work.add(() -> {
            Arrays.fill(grads[id], 0f);
            Arrays.fill(bn[id], 0f);
            Workspace.Outcome o = ws[id].trainStep(
                new Pass(params, grads[id], state, true, s * 1000 + id, bn[id]), batch, 0.1);
            return new double[] {o.lossSum(), o.correct()};
          });
        }
        double loss = 0;
        double correct = 0;
        for (Future<double[]> f : pool.invokeAll(work)) {
          loss += f.get()[0];
          correct += f.get()[1];
        }
        long b = System.nanoTime();
        // Local sum of the threads' gradients, in thread order, split by element range.
        List<Callable<Void>> sums = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          final int from = (int) ((long) pc * t / threads);
          final int to = (int) ((long) pc * (t + 1) / threads);
          sums.add(() -> {
            for (int i = from; i < to; i++) {
              float acc = grads[0][i];
              for (int k = 1; k < threads; k++) {
                acc += grads[k][i];
              }
              v[i] = acc;
            }
            return null;
          });
        }
        for (Future<Void> f : pool.invokeAll(sums)) {
          f.get();
        }
        for (int i = 0; i < sc; i++) {
          float acc = 0;
          for (int k = 0; k < threads; k++) {
            acc += bn[k][i];
          }
          v[pc + i] = acc;
        }
        long c = System.nanoTime();
        extras[0] = loss;
        extras[1] = (double) threads * batch;
        extras[2] = correct;
        int decided = 0;
        if (rank == 0) {
          boolean jitQuiet = jit.quiet(c);
          if (stop == Long.MAX_VALUE && c > warm && (jitQuiet || c > cap)) {
            quiet = jitQuiet;
            stop = c + (long) (seconds * 1e9);
          }
          decided = c > stop ? 2 : stop != Long.MAX_VALUE ? 1 : 0;
        }
        extras[3] = decided;
        ring.allreduce(v, extras, owned);
        long d = System.nanoTime();
        System.arraycopy(v, 0, params, 0, pc); // what the owners wrote
        sgd.endStep();
        long e = System.nanoTime();
        d -= ownedNanos[0]; // the owned update counts as update, not allreduce
        ownedNanos[0] = 0;
        int phase = (int) extras[3];
        if (phase >= 1 && !measuring) {
          measuring = true;
          start = a;
          warmupSeconds = (a - t0) / 1e9;
        }
        if (phase == 2) {
          end = a;
          break;
        }
        if (measuring) {
          measuredSteps++;
          images += (long) extras[1];
          compute += (b - a) / 1e9;
          localSum += (c - b) / 1e9;
          reduce += (d - c) / 1e9;
          update += (e - d) / 1e9;
        }
      }
    } finally {
      pool.shutdownNow();
    }
    double secs = (end - start) / 1e9;
    if (rank == 0) {
      long n = Math.max(1, measuredSteps);
      System.out.println(String.format(Locale.ROOT, "RESULT {\"procs\": %d, \"threads\": %d, "
          + "\"batch_per_thread\": %d, \"images_per_second\": %.1f, \"steps\": %d, \"seconds\": %.3f, "
          + "\"compute_s\": %.6f, \"local_sum_s\": %.6f, \"allreduce_s\": %.6f, \"update_s\": %.6f, "
          + "\"params\": %d, \"warmup_s\": %.1f, \"jit_quiet\": %b, \"spin_us\": %d, "
          + "\"blas\": \"%s\"}",
          peers.size(), threads, batch, images / secs,
          measuredSteps, secs, compute / n, localSum / n, reduce / n, update / n, pc,
          warmupSeconds, quiet, spinNanos / 1000,
          Blas.describe().replace("\"", "'")));
    } else {
      System.out.println("DONE");
    }
    System.out.flush();
  }
}
