package convspark.bench;

import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One full training step of the example network ({@code Workspace.trainStep}: forward, softmax
 * cross-entropy with label smoothing 0.1, backward, gradients accumulated) over a batch of
 * {@link ExampleNet#BATCH} images. One op = one step of one thread; images/s = threads * BATCH /
 * (time per op).
 *
 * <p>{@code step2Threads} runs two JMH threads, each with its own workspace, gradient and
 * batch-statistics buffers over shared read-only parameters: data-parallel, like two Spark tasks
 * on one executor. Run with OPENBLAS_NUM_THREADS=1 for that to mean 2 cores; running {@code
 * step1Thread} with OPENBLAS_NUM_THREADS=2 instead measures OpenBLAS's own threading.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 2, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class NetworkBench {

  /** The network and its parameters, shared read-only by all threads. */
  @State(Scope.Benchmark)
  public static class Model {
    Network net;
    float[] params;
    float[] state;

    @Setup(Level.Trial)
    public void setUp() {
      net = ExampleNet.network();
      params = net.initParams(42);
      state = net.initState();
    }
  }

  /** One thread's buffers, as one Spark task has them. */
  @State(Scope.Thread)
  public static class Task {
    Workspace ws;
    Pass pass;

    @Setup(Level.Trial)
    public void setUp(Model m) {
      int n = ExampleNet.BATCH;
      ws = m.net.newWorkspace(n);
      long seed = Thread.currentThread().getId();
      // Inputs standardised like the real data (mean 0, std ~1), labels uniform over classes.
      ExampleNet.fillRandom(ws.input(), seed);
      SplittableRandom r = new SplittableRandom(seed + 1);
      int[] labels = ws.labels();
      for (int i = 0; i < n; i++) {
        labels[i] = r.nextInt(m.net.classes());
      }
      pass = new Pass(m.params, new float[m.net.paramCount()], m.state, true, seed,
          new float[m.net.stateCount()]);
    }

    /** The worker starts each step from zero gradients; keep the accumulators small likewise. */
    @Setup(Level.Iteration)
    public void zero() {
      Arrays.fill(pass.grads(), 0f);
      Arrays.fill(pass.bnStats(), 0f);
    }
  }

  @Benchmark
  @Threads(1)
  public double step1Thread(Task t) {
    return t.ws.trainStep(t.pass, ExampleNet.BATCH, 0.1).lossSum();
  }

  @Benchmark
  @Threads(2)
  public double step2Threads(Task t) {
    return t.ws.trainStep(t.pass, ExampleNet.BATCH, 0.1).lossSum();
  }
}
