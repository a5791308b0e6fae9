package convspark.driver.train;

import convspark.common.BadInputException;
import convspark.common.blas.BlasChoice;
import convspark.common.blas.OpenBlasKernel;
import convspark.driver.config.RunConfig;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/** Starts (or joins) the Spark session a command runs in. */
public final class SparkSessions {
  private SparkSessions() {}

  /** Our default for {@code spark.task.maxDirectResultSize}: see {@link #start}. */
  public static final String MAX_DIRECT_RESULT_SIZE = "128m";

  /**
   * Under spark-submit {@code spark.master} is already set and wins unless {@code master} is
   * given; otherwise {@code master} or the config's {@code spark.master} (default local[*]).
   * With a master that is not local, returns once the first executor has registered (see {@link
   * #awaitExecutors(SparkSession, int)}).
   */
  public static SparkSession start(RunConfig.Spark cfg, String master) {
    SparkConf conf = conf(cfg, master);
    // Spark would spend three registration tries of 20 s on a master that no one answers, and
    // then blame authentication: say at once that it cannot be reached
    checkReachable(conf.get("spark.master"), (int) Math.min(REACH_MILLIS,
        cfg.executorWaitSeconds() * 1000L), masterSource(cfg, master));
    SparkSession s = SparkSession.builder().config(conf).getOrCreate();
    s.sparkContext().setLogLevel("WARN");
    RunningTasks.attach(s.sparkContext());
    awaitExecutors(s, cfg.executorWaitSeconds());
    return s;
  }

  /**
   * The session's properties: the config's {@code spark.conf} entries first (so that what
   * depends on the master sees a {@code spark.master} set there), then the master ({@code
   * --master} wins, else {@code spark.conf}'s or spark-submit's, else config key {@code
   * spark.master}), then convspark's defaults where nothing set them.
   */
  static SparkConf conf(RunConfig.Spark cfg, String master) {
    SparkConf conf = new SparkConf().setAppName(cfg.appName());
    for (Map.Entry<String, String> e : cfg.conf().entrySet()) {
      conf.set(e.getKey(), e.getValue());
    }
    if (master != null) {
      conf.setMaster(master);
    } else if (!conf.contains("spark.master")) {
      conf.setMaster(cfg.master());
    }
    conf.setIfMissing("spark.ui.showConsoleProgress", "false");
    if (conf.get("spark.master").startsWith("local")) {
      conf.setIfMissing("spark.ui.enabled", "false");
    }
    if (isLocal(conf.get("spark.master")) && System.getenv("SPARK_LOCAL_IP") == null) {
      // every task runs in this JVM: Spark's RPC and block manager (unauthenticated unless
      // spark.authenticate) need no other host, and listened on the host's external address,
      // where anyone on the network could fetch the broadcast weights and data blocks
      conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
      conf.setIfMissing("spark.driver.host", "127.0.0.1");
    }
    weightTransferDefaults(conf);
    // one BLAS thread per task: tasks already fill the cores
    conf.setIfMissing("spark.executorEnv.OPENBLAS_NUM_THREADS", "1");
    // the OpenBLAS kernel: CONVSPARK_OPENBLAS_CORETYPE when set (auto: OpenBLAS chooses on each
    // executor, whatever its environment sets), else the driver's OPENBLAS_CORETYPE if any
    String kernelSetting = System.getenv(OpenBlasKernel.ENV);
    String core = OpenBlasKernel.executorCoretype(kernelSetting,
        System.getenv(OpenBlasKernel.OPENBLAS_ENV));
    if (core != null) {
      conf.setIfMissing("spark.executorEnv." + OpenBlasKernel.OPENBLAS_ENV, core);
    }
    if (kernelSetting != null && !kernelSetting.isBlank()) {
      // so that each executor's BLAS report can check its kernel against it
      conf.setIfMissing("spark.executorEnv." + OpenBlasKernel.ENV, kernelSetting.trim());
    }
    // the executors load the BLAS the driver was told to (bundled, system or java)
    conf.setIfMissing("spark.executorEnv." + BlasChoice.ENV, BlasChoice.requested());
    barrierCheckDefaults(conf, cfg.executorWaitSeconds());
    return conf;
  }

  /**
   * Where the user has not set them, the Spark properties that move weights, gradients and
   * states cheaply:
   *
   * <ul>
   *   <li>{@code spark.task.maxDirectResultSize} = {@value #MAX_DIRECT_RESULT_SIZE}. A step's
   *       result is the partition's whole gradient (4 bytes per parameter: 1.7 MB for the
   *       default model). Above this size (default 1 MiB) Spark stores each result in the
   *       executor's BlockManager and the driver fetches it in a second round trip, even in
   *       local mode. Results up to the RPC message limit (128 MiB by default; Spark caps the
   *       direct size there) travel inside the task's status update instead.
   *   <li>{@code spark.broadcast.compress} = false. Trained float weights do not compress: LZ4
   *       turned the default model's 1,687,336 bytes into 1,688,449 and took 1-9 ms to compress
   *       and 0.7-3 ms to decompress. The driver engine broadcasts the weights every step; without
   *       compression its broadcast took 2.6-3.0 instead of 3.3-3.7 ms per step in local[2]
   *       (docs/BENCHMARKS.md, "Broadcasts without compression"). Spark's own broadcasts (the
   *       tasks' closures) are a few kilobytes.
   * </ul>
   */
  static void weightTransferDefaults(SparkConf conf) {
    conf.setIfMissing("spark.task.maxDirectResultSize", MAX_DIRECT_RESULT_SIZE);
    conf.setIfMissing("spark.broadcast.compress", "false");
  }

  /**
   * Where a command's master came from, for messages: {@code --master}, else the config's
   * {@code spark.conf}, else spark-submit's (which passes it as the system property SparkConf
   * reads), else config key {@code spark.master}.
   */
  public static String masterSource(RunConfig.Spark cfg, String master) {
    String submitted = System.getProperty("spark.master");
    String inConf = cfg.conf().get("spark.master");
    return master != null ? "--master " + master
        : inConf != null ? "config key spark.conf.\"spark.master\" (" + inConf + ")"
        : submitted != null ? "spark-submit's --master (" + submitted + ")"
        : "config key spark.master (" + cfg.master() + ")";
  }

  static final String BARRIER_CHECK = "spark.scheduler.barrier.maxConcurrentTasksCheck.";

  /**
   * Where the user has not set them, bounds Spark's wait for the slots of a barrier stage (the
   * ring engine's rounds) by {@code spark.executor-wait-seconds}, as the waits for executors are.
   * Spark submits a barrier stage only when the cluster has as many free slots as it has tasks,
   * and checks again every {@code interval} (15 s) up to {@code maxFailures} (40) times: ten
   * minutes before a cluster with too few cores, or one that lost its workers, fails the round;
   * and a job in that check cannot be cancelled. Checks every 1-5 s (a tenth of the wait), as
   * many times as fill the wait.
   */
  static void barrierCheckDefaults(SparkConf conf, int waitSeconds) {
    int interval = Math.max(1, Math.min(5, waitSeconds / 10));
    conf.setIfMissing(BARRIER_CHECK + "interval", interval + "s");
    conf.setIfMissing(BARRIER_CHECK + "maxFailures",
        Integer.toString(Math.max(1, (waitSeconds + interval - 1) / interval)));
  }

  /** The longest {@link #checkReachable} waits for one address of a standalone master. */
  static final int REACH_MILLIS = 10_000;

  /**
   * For a standalone master ({@code spark://host:port}, or {@code spark://h1:p1,h2:p2} with
   * standby masters), fails (exit 2) unless one of its addresses accepts a TCP connection within
   * {@code timeoutMillis}; other masters pass. The connection is closed at once, before any byte.
   *
   * @param from where the master came from ({@link #masterSource}), which names it
   */
  static void checkReachable(String master, int timeoutMillis, String from) {
    if (!master.startsWith("spark://")) {
      return;
    }
    StringBuilder why = new StringBuilder();
    for (String hostPort : master.substring("spark://".length()).split(",")) {
      int colon = hostPort.lastIndexOf(':');
      String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
      int port;
      try {
        port = colon < 0 ? 7077 : Integer.parseInt(hostPort.substring(colon + 1));
      } catch (NumberFormatException e) {
        return; // Spark's own parser names a malformed URL
      }
      try (java.net.Socket socket = new java.net.Socket()) {
        socket.connect(new java.net.InetSocketAddress(host, port), Math.max(1, timeoutMillis));
        return;
      } catch (java.io.IOException e) {
        why.append(why.length() == 0 ? "" : "; ").append(host).append(':').append(port)
            .append(": ").append(e instanceof java.net.SocketTimeoutException
                ? "no answer within " + timeoutMillis + " ms"
                : e instanceof java.net.UnknownHostException ? "unknown host"
                : String.valueOf(e.getMessage()));
      }
    }
    throw new BadInputException("cannot reach the Spark master of " + from + ": " + why
        + "; is the master running there?");
  }

  /** How often {@link #awaitExecutors} looks. */
  static final long EXECUTOR_POLL_MILLIS = 100;

  /**
   * With a master that is not local (and no dynamic allocation, under which executors come with
   * the first job), waits up to {@code timeoutSeconds} (config key spark.executor-wait-seconds)
   * for the first executor that can run a task. Spark itself would wait forever: a standalone
   * master with no live worker, or whose workers all offer less memory or fewer cores than an
   * executor asks for, never launches one; and executors with fewer cores than a task asks for
   * ({@code spark.task.cpus}, when {@code spark.executor.cores} is not set and an executor takes
   * what its worker offers) never get one. Every job then stays pending. On timeout, or when
   * Spark stops the context meanwhile (a master that refused the application gives up after
   * three tries), the session is stopped and a BadInputException (exit 2) names the master and
   * the likely causes.
   */
  static void awaitExecutors(SparkSession s, int timeoutSeconds) {
    SparkContext sc = s.sparkContext();
    SparkConf conf = sc.getConf();
    if (isLocal(sc.master()) || conf.getBoolean("spark.dynamicAllocation.enabled", false)) {
      return;
    }
    String asked = "spark.executor.memory = " + conf.get("spark.executor.memory", "1g")
        + (conf.contains("spark.executor.cores")
            ? ", spark.executor.cores = " + conf.get("spark.executor.cores") : "");
    try {
      awaitExecutors(sc.master(), asked, taskAsks(conf), timeoutSeconds * 1000L,
          () -> capacity(sc), sc::isStopped, EXECUTOR_POLL_MILLIS);
    } catch (RuntimeException e) {
      s.stop();
      throw e;
    }
    // and for the rest of the command: a cluster that loses every executor fails the jobs
    ExecutorWatch.start(sc, timeoutSeconds);
  }

  /**
   * What the cluster offers now: the executors registered (the driver not counted) and the tasks
   * they can run at once ("slots": each executor's cores divided by {@code spark.task.cpus},
   * and the like for other resources a task asks for).
   */
  record Capacity(int executors, int slots) {}

  static Capacity capacity(SparkContext sc) {
    int executors = executors(sc);
    int slots;
    try {
      // Spark's own count for barrier stages (private[spark] in Scala, public to Java; in both
      // Spark lines this project builds for). Spark's public status API has no executor cores.
      slots = sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
    } catch (LinkageError e) {
      slots = executors; // a Spark without it: every executor taken to run a task
    }
    return new Capacity(executors, slots);
  }

  /** Executors registered with {@code sc} (Spark's list includes the driver). */
  static int executors(SparkContext sc) {
    return sc.statusTracker().getExecutorInfos().length - 1;
  }

  /**
   * What one task asks of an executor, for messages: {@code spark.task.cpus} and any {@code
   * spark.task.resource.*.amount}.
   */
  static String taskAsks(SparkConf conf) {
    StringBuilder b = new StringBuilder("spark.task.cpus = " + conf.get("spark.task.cpus", "1"));
    for (scala.Tuple2<String, String> kv : conf.getAll()) {
      if (kv._1().startsWith("spark.task.resource.") && kv._1().endsWith(".amount")) {
        b.append(", ").append(kv._1()).append(" = ").append(kv._2());
      }
    }
    return b.toString();
  }

  /** local, local[N], local[*], local[N,F]: every task runs in the driver's JVM. */
  static boolean isLocal(String master) {
    return master.equals("local") || master.startsWith("local[");
  }

  /**
   * Polls {@code capacity} every {@code pollMillis} until the cluster can run a task (a slot);
   * fails with a one-line BadInputException naming {@code master} once {@code timeoutMillis}
   * pass or {@code stopped} says the context has stopped.
   *
   * @param asked what an executor asks for, for the message
   * @param task what a task asks for ({@link #taskAsks}), for the message
   */
  static void awaitExecutors(String master, String asked, String task, long timeoutMillis,
      Supplier<Capacity> capacity, BooleanSupplier stopped, long pollMillis) {
    long start = System.nanoTime();
    Capacity now;
    while ((now = capacity.get()).slots() < 1) {
      if (stopped.getAsBoolean()) {
        throw new BadInputException("Spark stopped while waiting for the first executor from "
            + "master " + master + ": the master refused or dropped this application (on a "
            + "cluster with spark.authenticate = true, one without its spark.authenticate.secret "
            + "is refused); see Spark's messages above");
      }
      if (System.nanoTime() - start >= timeoutMillis * 1_000_000L) {
        String waited = timeoutMillis % 1000 == 0 ? Long.toString(timeoutMillis / 1000)
            : Double.toString(timeoutMillis / 1000.0);
        if (now.executors() > 0) {
          throw new BadInputException("none of the " + now.executors() + " executor(s) "
              + "registered with master " + master + " could run a task within " + waited
              + " s (config key spark.executor-wait-seconds): a task asks for more than any of "
              + "them has (" + task + "; without spark.executor.cores an executor has the cores "
              + "its worker offers); set spark.executor.cores to at least spark.task.cpus, or "
              + "lower spark.task.cpus");
        }
        throw new BadInputException("no executor registered with master " + master + " within "
            + waited + " s (config key spark.executor-wait-seconds): the cluster has no live "
            + "worker, or no worker offers the memory and cores an executor asks for ("
            + asked + "), or other applications hold the workers' cores, or the master refused "
            + "this application; see the master's log or web UI");
      }
      try {
        Thread.sleep(pollMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for the first executor from "
            + "master " + master, e);
      }
    }
  }

  /** How long {@link #stop} waits for tasks still running. */
  static final long DRAIN_MILLIS = 10_000;

  /**
   * Stops the session once no task is running (waiting at most {@link #DRAIN_MILLIS}). When a
   * job fails (a bad row in one partition), its other tasks still run for a while: a context
   * stopped under them logs Spark's errors with stack traces after the command's one-line error
   * ("Exception in statusUpdate", a RejectedExecutionException; "Error in TaskCompletionListener
   * ... Block broadcast_0 does not exist"). The count is {@link RunningTasks}'s, which {@link
   * #start} (or {@link #trackTasks}) attached; Spark's status store can say 0 while tasks run.
   */
  public static void stop(SparkSession s) {
    SparkContext sc = s.sparkContext();
    long end = System.nanoTime() + DRAIN_MILLIS * 1_000_000L;
    RunningTasks tasks = RunningTasks.of(sc);
    try {
      if (tasks != null) {
        RunningTasks.awaitEvents(sc, DRAIN_MILLIS);
        while (tasks.count() > 0 && System.nanoTime() < end) {
          Thread.sleep(20);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      s.stop();
    }
  }

  /**
   * Counts the tasks of a session that {@link #start} did not make (a test's), so that {@link
   * #stop} can wait for them.
   */
  public static void trackTasks(SparkSession s) {
    RunningTasks.attach(s.sparkContext());
  }

  public static JavaSparkContext context(SparkSession s) {
    return JavaSparkContext.fromSparkContext(s.sparkContext());
  }
}
