package convspark.driver.engine;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.SecureRandom;
import org.apache.spark.SparkConf;

import convspark.common.BadInputException;
import convspark.driver.config.RunConfig;
import convspark.driver.exec.TaskOutOfMemoryException;
import convspark.worker.ModelState;
import convspark.worker.SampleBlock;
import convspark.worker.TrainingFailedException;
import convspark.worker.ring.KeptRings;
import convspark.worker.ring.LocalRing;
import convspark.worker.ring.RingOptions;
import convspark.worker.ring.ReplicaRound;
import convspark.worker.ring.RingRendezvous;
import convspark.worker.ring.RingSecret;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.spark.SparkException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * The ring engine ({@code train.engine = ring}): one Spark barrier stage per round (an epoch, or
 * {@code train.ring.round-steps} steps), with one
 * long-lived task per partition. The driver broadcasts the round's starting {@link ModelState}
 * once; each task runs {@code spark.task.cpus} data-parallel threads over its partition's share
 * of every global batch, the tasks ring-allreduce the gradient sums among themselves over
 * authenticated TCP ({@link RingTask}, {@link convspark.worker.ring.Ring}) and every replica
 * applies the same {@link convspark.worker.update.Updater}; at the end, rank 0 returns the state
 * and the round's sums. The driver receives nothing per step.
 *
 * <p>Faults: any task failure fails the barrier stage (Spark's rule); a peer silent past
 * {@code train.ring.timeout-seconds} fails it too, naming the peer. The engine then reruns the
 * round from its starting state (the driver's copy is never touched by a round: no step counted
 * twice), up to {@code train.ring.attempts} runs in all, and then fails training (exit 3).
 * Divergence (non-finite loss or gradient) is not retried, nor is a round whose Spark context
 * was stopped under it (a signal, or the application's own {@code stop()}).
 */
public final class RingEngine implements StepEngine {
  private final JavaSparkContext jsc;
  private final StepEngines.Setup setup;
  private final RunConfig.RingSettings settings;
  /** The job's ring secret: random, created here, shipped in the task closure only. */
  private final byte[] secret = RingSecret.generate();
  private final AtomicLong rings = new AtomicLong();
  /**
   * Local master: every task runs in this JVM, and the replicas sum through memory ({@link
   * convspark.worker.ring.LocalRing}: no socket, no port); otherwise over TCP.
   */
  private final boolean inProcess;
  /** Whether the TCP links seal their chunks (train.ring.encryption). */
  private final boolean encrypt;
  /** Which rounds' barrier stages have started tasks (see {@link #await}). */
  private final RoundStarts starts = new RoundStarts();
  /** This engine's name in the executors' {@link convspark.worker.ring.KeptStates} (random: one per job). */
  private final long job = new SecureRandom().nextLong();
  /**
   * The ring id of the last round that succeeded: a round that starts from the very state that
   * round returned ({@link #lastRound}) may start from the replicas' kept copies
   * (train.ring.keep-state).
   */
  private long lastRing = -1;

  RingEngine(StepEngines.Setup setup, RunConfig.RingSettings settings) {
    this.jsc = setup.jsc();
    this.setup = setup;
    this.settings = settings;
    if (jsc.sc().conf().getBoolean("spark.dynamicAllocation.enabled", false)) {
      throw new BadInputException("train.engine = ring cannot run with "
          + "spark.dynamicAllocation.enabled = true (Spark's barrier stages do not support "
          + "dynamic allocation): set train.engine = driver or turn dynamic allocation off");
    }
    int slots = localSlots(jsc.sc().master(), jsc.sc().conf().getInt("spark.task.cpus", 1));
    this.inProcess = slots > 0 && settings.transport() == RunConfig.RingTransport.AUTO;
    this.encrypt = encrypts(settings.encryption(), jsc.sc().conf());
    if (encrypt && !jsc.sc().conf().getBoolean("spark.network.crypto.enabled", false)) {
      System.err.println("convspark: WARNING: train.ring.encryption = on seals the ring's TCP "
          + "links with keys derived from the job's ring secret, which travels in the task "
          + "closure; without spark.network.crypto.enabled = true (and spark.authenticate) Spark "
          + "sends that closure in the clear, and whoever records it can read the ring too");
    }
    System.err.println("convspark: ring engine: the replicas sum " + (inProcess
        ? "through memory (every task runs in this JVM under " + jsc.sc().master()
            + "; train.ring.transport = tcp to use TCP)"
        : "over authenticated TCP between the tasks" + (encrypt
            ? ", sealed with AES-GCM" : ", in the clear") + (settings.transport()
            == RunConfig.RingTransport.AUTO ? ", through shared memory between tasks on one host"
            : "")) + "; " + waiting(settings.spinMicros(), inProcess, setup.partitions(),
        jsc.sc().conf().getInt("spark.task.cpus", 1)));
    if (slots > 0 && setup.partitions() > slots) {
      throw new BadInputException(tooFewSlots(setup.partitions(),
          "only " + slots + " task slots in " + jsc.sc().master()));
    }
    jsc.sc().addSparkListener(starts);
  }

  /**
   * Spark's events of the rounds' jobs, straight from the listener bus: which jobs Spark has
   * registered (past its slot check at submission), each job's final stage (the barrier
   * stage: created last, so the highest id; a parent stage that recomputes lost blocks or
   * shuffle output runs first and does not count), and which stages have launched a task. Not
   * the status store, which records a task's start only with its next periodic update (up to
   * an executor heartbeat later).
   */
  static final class RoundStarts extends SparkListener {
    /** The local property that marks a round's job (its ring id): only those are tracked. */
    static final String PROPERTY = "convspark.ring.round";
    private final Map<Integer, Integer> finalStage = new ConcurrentHashMap<>();
    private final Set<Integer> tracked = ConcurrentHashMap.newKeySet();
    private final Set<Integer> launched = ConcurrentHashMap.newKeySet();

    @Override
    public void onJobStart(SparkListenerJobStart job) {
      if (job.properties() == null || job.properties().getProperty(PROPERTY) == null) {
        return; // not a round: the session's other jobs are not kept
      }
      int last = -1;
      // Seq.iterator: the same source for Scala 2.12 (Spark 3.5) and 2.13 (Spark 4)
      scala.collection.Iterator<Object> ids = job.stageIds().iterator();
      while (ids.hasNext()) {
        last = Math.max(last, (Integer) ids.next());
      }
      tracked.add(last);
      finalStage.put(job.jobId(), last);
    }

    @Override
    public void onTaskStart(SparkListenerTaskStart task) {
      if (tracked.contains(task.stageId())) {
        launched.add(task.stageId());
      }
    }

    boolean registered(List<Integer> jobs) {
      return !jobs.isEmpty() && jobs.stream().allMatch(finalStage::containsKey);
    }

    boolean started(List<Integer> jobs) {
      return jobs.stream().anyMatch(j -> {
        Integer s = finalStage.get(j);
        return s != null && launched.contains(s);
      });
    }

    void forget(List<Integer> jobs) {
      for (int j : jobs) {
        Integer s = finalStage.remove(j);
        if (s != null) {
          tracked.remove(s);
          launched.remove(s);
        }
      }
    }
  }

  /**
   * Whether the ring's TCP links seal their chunks: train.ring.encryption = on, or auto where
   * Spark encrypts its own traffic (spark.network.crypto.enabled), so that a cluster that asks
   * for encryption never carries the gradients in the clear.
   */
  static boolean encrypts(RunConfig.RingEncryption setting, SparkConf conf) {
    return switch (setting) {
      case ON -> true;
      case OFF -> false;
      case AUTO -> conf.getBoolean("spark.network.crypto.enabled", false);
    };
  }

  /**
   * Task slots of a local master ({@code local}, {@code local[n]}, {@code local[*]}, {@code
   * local[n,f]}, {@code local[*,f]}) with {@code taskCpus} cores per task; 0 for other masters,
   * whose executors may still be registering (Spark's own barrier slot check covers those).
   */
  /**
   * How a replica that reaches an allreduce first waits, for the start-up log: in this JVM
   * (local master) what the tasks will do, else what each executor decides for its host.
   */
  static String waiting(int spinMicros, boolean inProcess, int partitions, int taskCpus) {
    if (spinMicros == 0) {
      return "a replica waiting for its peers sleeps at once (train.ring.spin-micros = 0)";
    }
    int cpus = Runtime.getRuntime().availableProcessors();
    if (inProcess && RingOptions.spinNanosFor(spinMicros * 1000L, partitions * taskCpus,
        cpus) == 0) {
      return "a replica waiting for its peers sleeps at once: " + partitions + " tasks x "
          + taskCpus + " CPU(s) outnumber this JVM's " + cpus + " CPUs, so spinning "
          + "(train.ring.spin-micros) would take a core from a replica still computing";
    }
    return "a replica waiting for its peers spins for up to " + spinMicros + " us before it "
        + "sleeps (train.ring.spin-micros)" + (inProcess ? ""
            : ", on hosts whose ring tasks x spark.task.cpus do not outnumber their CPUs");
  }

  static int localSlots(String master, int taskCpus) {
    java.util.regex.Matcher m = java.util.regex.Pattern
        .compile("local(?:\\[(\\*|\\d+)(?:,\\d+)?\\])?").matcher(master.trim());
    if (!m.matches()) {
      return 0;
    }
    int cores = m.group(1) == null ? 1 : m.group(1).equals("*")
        ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(1));
    return Math.max(1, cores / Math.max(1, taskCpus));
  }

  private static String tooFewSlots(int partitions, String slots) {
    return "train.engine = ring runs one task per partition at once (a barrier stage), but "
        + "train.workers gives " + partitions + " partitions and Spark has " + slots
        + " (cores / spark.task.cpus): lower train.workers or add cores";
  }

  /** True when Spark refused the barrier stage for lack of slots (SPARK-24819). */
  private static boolean slotsRefused(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      if (t.getClass().getSimpleName().startsWith("BarrierJobSlotsNumberCheckFailed")
          || m.contains("SPARK-24819") || m.contains("requires more slots than the total")) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String name() {
    return "ring";
  }

  /** True when the ring's TCP links seal their chunks (train.ring.encryption). */
  boolean encrypts() {
    return encrypt;
  }

  /** True when the replicas sum through memory ({@link LocalRing}), false over TCP. */
  boolean inProcess() {
    return inProcess;
  }

  /** Returns a new state; {@code start} is not modified. */
  @Override
  public RoundResult run(Round round, ModelState start) {
    if (round.steps() == 0) {
      return new RoundResult(start, 0, 0, 0, Double.NaN, StepTimes.ZERO);
    }
    Exception last = null;
    for (int attempt = 1; attempt <= settings.attempts(); attempt++) {
      try {
        return runOnce(round, start);
      } catch (TrainingFailedException | BadInputException e) {
        throw e;
      } catch (InterruptedException e) {
        // the caller was interrupted (a cancelled fit): no rerun
        Thread.currentThread().interrupt();
        throw new TrainingFailedException("interrupted during the ring round of "
            + describe(round), e);
      } catch (Exception e) {
        // SparkException (a failed barrier stage Spark could not recover itself) is a checked
        // exception that Scala throws undeclared: catch it too, or no round is ever rerun
        String diverged = divergence(e);
        if (diverged != null) {
          throw new TrainingFailedException(diverged, e);
        }
        String oom = TaskOutOfMemoryException.in(e);
        if (oom != null) {
          // the same round, batch and heap would run out of memory again
          throw new TrainingFailedException(oom + " (" + describe(round) + ")", e);
        }
        if (slotsRefused(e)) {
          if (lastRound != null) {
            // the cluster had the slots for an earlier round: it lost executors, which is a
            // failure of the run (exit 3, naming the checkpoint to resume from), not of the config
            throw new TrainingFailedException("the ring round of " + describe(round)
                + " could not start: Spark has fewer task slots than its " + setup.partitions()
                + " barrier tasks now, after it had them for an earlier round (executors lost "
                + "and not replaced; Spark gave up after spark.scheduler.barrier."
                + "maxConcurrentTasksCheck.maxFailures checks)", e);
          }
          throw new BadInputException(tooFewSlots(setup.partitions(), "fewer task slots"), e);
        }
        if (jsc.sc().isStopped()) {
          // a signal or a stop() of the context: a rerun could only fail the same way
          throw new TrainingFailedException("Spark was shut down during the ring round of "
              + describe(round) + " (the job was stopped or the driver is exiting): "
              + firstLine(e), e);
        }
        last = e;
        System.err.printf("convspark: ring round of %s failed (run %d of %d): %s%s%n",
            describe(round), attempt, settings.attempts(), firstLine(e),
            attempt < settings.attempts() ? "; rerunning it from its starting weights" : "");
      }
    }
    throw new TrainingFailedException("the ring round of " + describe(round) + " failed "
        + settings.attempts() + " times in the ring engine (train.ring.attempts); last error: "
        + firstLine(last), last);
  }

  /** "epoch 3" for a whole epoch, "epoch 3, steps 101-200 of 469" for a shorter round. */
  private static String describe(Round round) {
    String epoch = "epoch " + (round.epoch() + 1);
    if (round.steps() == round.stepsPerEpoch()) {
      return epoch;
    }
    return epoch + ", steps " + (round.firstStepInEpoch() + 1) + "-"
        + (round.firstStepInEpoch() + round.steps()) + " of " + round.stepsPerEpoch();
  }

  private RoundResult runOnce(Round round, ModelState start) throws Exception {
    long t0 = System.nanoTime();
    Broadcast<ModelState> state = jsc.broadcast(start.copy());
    long t1 = System.nanoTime();
    try {
      ReplicaRound.Spec spec = new ReplicaRound.Spec(setup.net(), setup.rule(),
          setup.checkpointDir(), round.plan(), round.epoch(), round.firstStep(),
          round.firstStepInEpoch(), round.steps(), round.stepsPerEpoch(),
          settings.shardUpdate());
      long ringId = rings.incrementAndGet();
      JavaRDD<SampleBlock> blocks = setup.train().rdd();
      InetSocketAddress meet = null;
      if (!inProcess) {
        meet = rendezvous();
        rendezvous.expect(ringId, blocks.getNumPartitions());
      }
      // replicas on executors keep the state they end the round with; the next round may start
      // from it where it starts from the state this round returned (unchanged: the fingerprint)
      RingTask.Kept kept = inProcess || !settings.keepState() ? null
          : lastRound != null && start == lastRound.state()
          ? new RingTask.Kept(job, lastRing, start.fingerprint())
          : new RingTask.Kept(job, -1, 0);
      RingTask task = new RingTask(spec, state, secret, ringId,
          settings.timeoutSeconds() * 1000, meet,
          settings.transport() == RunConfig.RingTransport.AUTO, encrypt,
          settings.spinMicros(), kept, settings.keepLinks());
      ClassTag<ReplicaRound.Output> tag = ClassTag$.MODULE$.apply(ReplicaRound.Output.class);
      RDD<ReplicaRound.Output> out = blocks.rdd().barrier().mapPartitions(task, false, tag);
      String before = jsc.getLocalProperty(RoundStarts.PROPERTY);
      JavaFutureAction<List<ReplicaRound.Output>> submitted;
      jsc.setLocalProperty(RoundStarts.PROPERTY, Long.toString(ringId));
      try {
        submitted = new JavaRDD<>(out, tag).collectAsync();
      } finally {
        jsc.setLocalProperty(RoundStarts.PROPERTY, before);
      }
      List<ReplicaRound.Output> outs = await(submitted, round, blocks.getNumPartitions());
      long t2 = System.nanoTime();
      if (outs.size() != 1) {
        throw new IllegalStateException("the ring round returned " + outs.size()
            + " results, expected 1 (from rank 0)");
      }
      ReplicaRound.Output o = outs.get(0);
      double job = (t2 - t1) / 1e9;
      double accounted = o.computeSeconds() + o.localSumSeconds() + o.allreduceSeconds()
          + o.updateSeconds();
      StepTimes times = new StepTimes(o.computeSeconds(), (t1 - t0) / 1e9, o.updateSeconds(),
          job, 0, o.localSumSeconds(), 0, Math.max(0, job - accounted),
          o.stragglerSeconds(), 0, o.allreduceSeconds(), o.allreduceBytes());
      lastRound = o;
      lastRing = ringId;
      round.progress().afterStep(round, round.steps(), o.lossSum(), o.count(), o.correct(),
          o.lastLr());
      return new RoundResult(o.state(), o.lossSum(), o.count(), o.correct(), o.lastLr(), times);
    } finally {
      state.destroy(false);
    }
  }

  /**
   * Waits for the round's job. A barrier stage starts all its tasks at once or none, and Spark
   * waits without end for enough free slots: after an executor is lost (its cores still count
   * when the stage is submitted, and no replacement comes), or while other jobs hold the slots.
   * No ring task has started, so none of the ring's own timeouts runs: the round must start
   * within train.ring.start-timeout-seconds, or it is cancelled and fails (and is rerun, up to
   * train.ring.attempts). Once started, its tasks' timeouts bound it. A job that Spark has not
   * registered yet is still in Spark's own check of the cluster's slots at submission (retried
   * every 15 s, 40 times by Spark's default; the CLI makes it last spark.executor-wait-seconds:
   * {@code spark.scheduler.barrier.maxConcurrentTasksCheck.*});
   * a cancel cannot reach it there, and it would run later beside the rerun, so it is left to
   * that check, which bounds it.
   */
  private List<ReplicaRound.Output> await(JavaFutureAction<List<ReplicaRound.Output>> job,
      Round round, int partitions) throws Exception {
    long startBy = System.nanoTime() + settings.startTimeoutSeconds() * 1_000_000_000L;
    boolean started = false;
    try {
      while (true) {
        try {
          return job.get(started ? 1000 : 100, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          if (!started) {
            started = starts.started(job.jobIds());
            if (!started && System.nanoTime() > startBy && starts.registered(job.jobIds())) {
              job.cancel(true);
              throw new IllegalStateException("the ring round of " + describe(round)
                  + " could not start: its " + partitions + " barrier tasks did not get "
                  + partitions + " free task slots at once within "
                  + settings.startTimeoutSeconds() + " s (train.ring.start-timeout-seconds): "
                  + "executors still starting, an executor "
                  + "lost and not replaced, or other jobs holding the slots");
            }
          }
        }
      }
    } catch (ExecutionException e) {
      // what collect() would have thrown (a SparkException for a failed stage)
      throw e.getCause() instanceof Exception c ? c : e;
    } catch (InterruptedException e) {
      job.cancel(true);
      Thread.currentThread().interrupt();
      throw e;
    } finally {
      starts.forget(job.jobIds());
    }
  }

  private volatile ReplicaRound.Output lastRound;

  /** The ring's own figures of the last round (allreduce seconds and bytes), or null. */
  public ReplicaRound.Output lastRound() {
    return lastRound;
  }

  /** The divergence message if {@code e} came from a replica's Updater, else null. */
  private static String divergence(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && m.contains("training diverged")) {
        int i = m.indexOf("training diverged");
        int end = m.indexOf('\n', i);
        return m.substring(i, end < 0 ? m.length() : end);
      }
    }
    return null;
  }

  /**
   * The line of {@code e} that says what went wrong. A barrier stage that fails is aborted with
   * a SparkException without a cause whose first line is Spark's own ("... Stage failed because
   * barrier task ResultTask(0, 1) finished unsuccessfully."); the task's error, e.g. the ring's
   * "rank 0 ... sent nothing for 5000 ms", or the lost executor's reason, is the next line.
   */
  static String firstLine(Throwable e) {
    if (e == null) {
      return "unknown";
    }
    Throwable t = e;
    // Spark wraps the task's exception; its message carries the cause's text.
    if (t instanceof SparkException && t.getCause() != null) {
      t = t.getCause();
    }
    String[] lines = String.valueOf(t.getMessage()).split("\n");
    if (lines[0].endsWith("finished unsuccessfully.") && lines.length > 1
        && !lines[1].isBlank()) {
      // "java.io.UncheckedIOException: ring rank 1: ..." -> "ring rank 1: ..."
      return lines[1].trim().replaceFirst("^[\\w.$]+(Exception|Error): ", "");
    }
    return lines[0];
  }

  /**
   * The job's address rendezvous, started on first use: bound to {@code spark.driver.bindAddress}
   * (else, or when that is the wildcard address, {@code spark.driver.host}), reached by the
   * tasks at {@code spark.driver.host}; an address it cannot bind is a configuration error
   * (exit 2), not a failed round.
   */
  private InetSocketAddress rendezvous() {
    if (rendezvous == null) {
      SparkConf conf = jsc.sc().conf();
      String host = conf.get("spark.driver.host", "127.0.0.1");
      String bind = conf.get("spark.driver.bindAddress", host);
      // a configuration the rendezvous cannot use is not a failed round: exit 2, no reruns
      try {
        InetAddress at = InetAddress.getByName(bind);
        if (at.isAnyLocalAddress()) {
          // spark.driver.bindAddress = 0.0.0.0 (common in containers) lets Spark's own RPC
          // listen everywhere; the rendezvous listens only where the tasks reach the driver
          at = InetAddress.getByName(host);
          bind = host;
        }
        if (at.isAnyLocalAddress()) {
          throw new BadInputException("spark.driver.host = " + host + ": the ring engine's "
              + "address rendezvous needs the driver's own address, not all interfaces");
        }
        rendezvous = RingRendezvous.Server.start(at, secret);
      } catch (IOException e) {
        throw new BadInputException("the ring engine cannot start its address rendezvous on "
            + bind + " (spark.driver.bindAddress / spark.driver.host): " + e.getMessage(), e);
      }
      rendezvousAddress = new InetSocketAddress(host, rendezvous.address().getPort());
    }
    return rendezvousAddress;
  }

  private RingRendezvous.Server rendezvous;
  private InetSocketAddress rendezvousAddress;

  /**
   * Under a local master the barrier tasks ran in this JVM, and on Spark 3.5 the first one
   * started {@code BarrierTaskContext}'s timer, a {@link java.util.Timer} whose thread is not a
   * daemon: an application that trained through the Spark ML API and returned from {@code main}
   * would never end (Spark 4 made it a daemon). convspark's tasks never call {@code barrier()}
   * or {@code allGather()}, the only users of that timer, so it is cancelled here, which ends
   * its thread; a later {@code barrier()} call in this JVM would fail. Returns whether a timer
   * was cancelled.
   */
  static boolean stopBarrierTimer() {
    try {
      Class<?> c = Class.forName("org.apache.spark.BarrierTaskContext$");
      Object module = c.getField("MODULE$").get(null);
      Object timer = c.getMethod("org$apache$spark$BarrierTaskContext$$timer").invoke(module);
      if (timer instanceof java.util.Timer t) {
        t.cancel();
        return true;
      }
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      // another Spark: nothing of ours to stop
    }
    return false;
  }

  @Override
  public void close() {
    jsc.sc().removeSparkListener(starts);
    if (lastRound != null && localSlots(jsc.sc().master(), 1) > 0) {
      stopBarrierTimer();
    }
    // links kept in this JVM: TCP rings under a local master (train.ring.transport = tcp);
    // executors close theirs when their JVM ends, when another round keeps its own, or idle
    KeptRings.IN_THIS_JVM.closeJob(job);
    if (rendezvous != null) {
      rendezvous.close();
    }
  }
}
