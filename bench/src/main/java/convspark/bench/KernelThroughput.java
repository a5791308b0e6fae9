package convspark.bench;

import com.typesafe.config.ConfigFactory;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.common.spec.ModelSpec;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Single-process training throughput of a config's model without Spark: {@code threads}
 * data-parallel threads (one workspace each, as Spark tasks would) each running forward+backward
 * steps of {@code batch} random samples for {@code seconds}, measured after a warm-up of at
 * least 0.3 x seconds that lasts until the JIT compilers are quiet ({@link JitQuiet}); prints
 * images/s. The reference that scripts/bench-train.sh sets the local[2] throughput against.
 * Usage: {@code KernelThroughput CONFIG BATCH_PER_THREAD THREADS SECONDS}.
 */
public final class KernelThroughput {
  private KernelThroughput() {}

  public static void main(String[] args) throws Exception {
    ModelSpec spec = ModelSpec.fromConfig(
        ConfigFactory.parseFile(new File(args[0])).getConfig("model"), "model");
    int batch = Integer.parseInt(args[1]);
    int threads = Integer.parseInt(args[2]);
    double seconds = Double.parseDouble(args[3]);
    Network net = new Network(spec);
    float[] params = net.initParams(1);
    float[] state = net.initState();
    AtomicLong images = new AtomicLong();
    AtomicBoolean measuring = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> ts = new ArrayList<>();
    long start = System.nanoTime();
    for (int t = 0; t < threads; t++) {
      final int id = t;
      Thread th = new Thread(() -> {
        Workspace ws = net.newWorkspace(batch);
        SplittableRandom rng = new SplittableRandom(id);
        for (int i = 0; i < ws.input().length; i++) {
          ws.input()[i] = (float) (rng.nextDouble() * 2 - 1);
        }
        for (int i = 0; i < batch; i++) {
          ws.labels()[i] = rng.nextInt(net.classes());
        }
        float[] grads = new float[net.paramCount()];
        float[] bn = new float[net.stateCount()];
        long step = 0;
        while (!stop.get()) {
          ws.trainStep(new Pass(params, grads, state, true, step++, bn), batch, 0.1);
          if (measuring.get()) {
            images.addAndGet(batch);
          }
        }
      });
      ts.add(th);
      th.start();
    }
    // warm-up: at least 0.3 x seconds, and until the JIT compilers are quiet
    boolean quiet = JitQuiet.await(start, seconds * 0.3);
    long from = System.nanoTime();
    measuring.set(true);
    Thread.sleep((long) (seconds * 1000));
    measuring.set(false);
    long to = System.nanoTime();
    stop.set(true);
    for (Thread th : ts) {
      th.join();
    }
    double secs = (to - from) / 1e9;
    boolean channelsLast = net.newWorkspace(1).channelsLast();
    System.out.printf("images/s %.1f (threads %d, batch %d per thread, activations %s, %s, "
        + "warm-up %.1f s%s)%n", images.get() / secs, threads, batch,
        channelsLast ? "channels-last" : "NCHW", convspark.common.blas.Blas.describe(),
        (from - start) / 1e9, quiet ? "" : " with the JIT still busy");
  }
}
