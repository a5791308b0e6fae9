package convspark.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.io.Checkpoint;
import convspark.driver.TestData;
import convspark.driver.cluster.LocalCluster.Driver;
import convspark.driver.cluster.LocalCluster.Run;
import convspark.driver.metrics.Json;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * convspark on a real multi-process Spark standalone cluster (master + 2 workers x 1 core, each
 * executor its own JVM), submitted in client mode as the jar for spark-submit through {@code
 * scripts/submit.sh}: the same result as local[2], executor loss mid-training, a killed driver
 * resumed from its checkpoints, and a torn checkpoint skipped on resume.
 *
 * <p>Tolerance: with a fixed seed the per-partition work is deterministic (shuffles, dropout
 * masks and augmentation are seeded by step and partition, not by executor) and the ordered
 * allreduce sums the partitions' results in partition order, so every run below must end with
 * <em>bitwise identical</em> parameters, and hence identical accuracies; the accuracy check
 * (at most {@value #ACCURACY_TOLERANCE} apart) is the looser statement of the issue, kept so a
 * failure says how far apart the runs ended.
 *
 * <p>Tagged {@code cluster}: run after {@code package} (mvn verify), not in the unit-test phase.
 */
@Tag("cluster")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTrainingTest {
  static final double ACCURACY_TOLERANCE = 0.01;
  static final int EPOCHS = 4;
  static final int GLOBAL_BATCH = 64;
  static final long RUN_TIMEOUT_S = 300;
  static final List<String> NO_UI = List.of("--conf", "spark.ui.enabled=false");

  static Path dir;
  static Path config;
  static LocalCluster cluster;
  private static Run localRun;
  private static Run clusterRun;
  private static Path killedDriverOut;

  @BeforeAll
  static void startCluster() throws Exception {
    Path target = LocalCluster.root().resolve("driver/target");
    dir = target.resolve("cluster-test-runs");
    deleteTree(dir);
    Files.createDirectories(dir);
    config = TestData.writeConfig(dir, "test.conf", 1600, 400);
    cluster = new LocalCluster(target.resolve("cluster-test"));
    cluster.start();
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static List<String> train(Path out, String... extra) {
    List<String> a = new ArrayList<>(List.of("train", "--config", config.toString(), "--out",
        out.toString(), "--set", "train.epochs=" + EPOCHS,
        "--set", "train.global-batch=" + GLOBAL_BATCH,
        "--set", "train.base-batch=" + GLOBAL_BATCH));
    a.addAll(List.of(extra));
    return a;
  }

  static Run run(List<String> sparkArgs, List<String> appArgs, String name) throws Exception {
    return run(sparkArgs, appArgs, name, Map.of());
  }

  static Run run(List<String> sparkArgs, List<String> appArgs, String name,
      Map<String, String> env) throws Exception {
    Run r = cluster.submit(sparkArgs, appArgs, dir.resolve(name), env).await(RUN_TIMEOUT_S);
    assertEquals(0, r.code(), name + ": " + r.describe());
    return r;
  }

  /** The undisturbed reference runs, once per class. */
  static synchronized Run localRun() throws Exception {
    if (localRun == null) {
      List<String> spark = new ArrayList<>(List.of("--master", "local[2]"));
      spark.addAll(NO_UI);
      localRun = run(spark, train(dir.resolve("local")), "local");
      report("local[2] (submit.sh --master local[2])", dir.resolve("local"), localRun);
    }
    return localRun;
  }

  static synchronized Run clusterRun() throws Exception {
    if (clusterRun == null) {
      clusterRun = run(NO_UI, train(dir.resolve("cluster")), "cluster");
      report("standalone cluster, 2 executors", dir.resolve("cluster"), clusterRun);
    }
    return clusterRun;
  }

  @Test
  @Order(1)
  void clusterRunEndsWhereTheLocalRunEnds() throws Exception {
    localRun();
    clusterRun();
    Path local = dir.resolve("local");
    Path onCluster = dir.resolve("cluster");
    assertSameAccuracy(local, onCluster);
    assertArrayEquals(finalParams(local), finalParams(onCluster),
        "local[2] and the cluster ended with different parameters");
    // and took the same path there: every epoch's validation loss is the same
    assertEquals(column(local, "valLoss"), column(onCluster, "valLoss"));
    // submit.sh shipped the --config file with --files: it is in an executor's directory
    try (Stream<Path> s = Files.walk(cluster.dir.resolve("work"), 4)) {
      assertTrue(s.anyMatch(p -> p.getFileName().toString().equals(
          config.getFileName().toString())), "no executor directory holds "
          + config.getFileName() + ": submit.sh did not ship the --config file");
    }
    // and ended quietly: no removal of cached blocks was still in flight when the context
    // stopped (Spark's "ERROR TransportResponseHandler: Still have 1 requests outstanding when
    // connection from ... is closed", once per executor, until Blocks.release waited for them)
    assertEquals(List.of(), errorLines(clusterRun.err()),
        "Spark logged errors in an undisturbed cluster run");
  }

  /**
   * Spark's log lines at level ERROR ("05:43:03 ERROR TransportResponseHandler: ..."), less one
   * race inside Spark 3.5's own shutdown: an executor's disconnection reaches the standalone
   * scheduler backend after it terminated its timer pool, and the RPC inbox logs "Ignoring
   * error" with a RejectedExecutionException from {@code StandaloneDriverEndpoint.onDisconnected}
   * (seen once in this session's four runs of the cluster tests, after the job had ended and
   * the results were written; nothing convspark does runs there).
   */
  static List<String> errorLines(String log) {
    List<String> lines = log.lines().toList();
    List<String> errors = new java.util.ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i);
      if (!l.matches("^\\d\\d:\\d\\d:\\d\\d(\\.\\d+)? ERROR .*")) {
        continue;
      }
      String trace = String.join("\n", lines.subList(i + 1, Math.min(lines.size(), i + 12)));
      boolean shutdownRace = l.endsWith("ERROR Inbox: Ignoring error")
          && trace.startsWith("java.util.concurrent.RejectedExecutionException")
          && trace.contains("StandaloneDriverEndpoint.onDisconnected");
      if (!shutdownRace) {
        errors.add(l);
      }
    }
    return errors;
  }

  @Test
  @Order(2)
  void trainingSurvivesTheLossOfAnExecutor() throws Exception {
    clusterRun();
    Path out = dir.resolve("executor-lost");
    Driver d = cluster.submit(NO_UI, train(out), dir.resolve("executor-lost"));
    Path metrics = out.resolve("metrics.jsonl");
    waitFor(d, () -> lines(metrics) >= 1, "the first epoch's metrics line");
    // into the second epoch, where the steps' tasks keep the executors busy
    double firstEpoch;
    try {
      firstEpoch = column(out, "trainSeconds").get(0);
    } catch (IOException | RuntimeException e) {
      firstEpoch = 1; // the line was still being written
    }
    Thread.sleep((long) Math.min(1500, Math.max(100, 200 * firstEpoch)));
    List<ProcessHandle> executors = cluster.executors();
    assertFalse(executors.isEmpty(), "no executor JVM found under " + cluster.dir);
    ProcessHandle victim = executors.get(executors.size() - 1);
    String appId = LocalCluster.appId(victim);
    int epochsBefore = lines(metrics);
    assertTrue(victim.destroyForcibly(), "could not kill executor " + victim.pid());
    System.out.printf("killed executor pid %d of %s (%d executors running) after %d of %d "
        + "epochs%n", victim.pid(), appId, executors.size(), epochsBefore, EPOCHS);
    assertTrue(epochsBefore < EPOCHS, "the run ended before the executor was killed");

    Run r = d.await(RUN_TIMEOUT_S);
    assertEquals(0, r.code(), "executor-lost: " + r.describe());
    report("standalone cluster, executor killed", out, r);
    r.err().lines().filter(l -> l.contains("Lost executor") || l.contains("Lost task"))
        .limit(4).forEach(l -> System.out.println("  driver: " + l));
    // the worker launched a replacement: the app has a third executor directory
    List<Path> execDirs = cluster.executorDirs(appId);
    assertTrue(execDirs.size() >= 3, "no replacement executor was launched: " + execDirs);
    assertEquals(EPOCHS, lines(metrics));
    assertSameAccuracy(dir.resolve("cluster"), out);
    assertArrayEquals(finalParams(dir.resolve("cluster")), finalParams(out),
        "the run that lost an executor ended with other parameters than the undisturbed one");
  }

  /** A driver killed (SIGKILL) once it has written two checkpoints; a copy of its output. */
  static synchronized Path killedDriver() throws Exception {
    if (killedDriverOut == null) {
      Path out = dir.resolve("driver-killed");
      Driver d = cluster.submit(NO_UI, train(out), dir.resolve("driver-killed"));
      waitFor(d, () -> checkpoints(out).size() >= 2, "two checkpoints");
      d.process().destroyForcibly().waitFor();
      List<Path> left = checkpoints(out);
      System.out.printf("killed the driver after %d epochs' checkpoints: %s%n", left.size(),
          left.stream().map(p -> p.getFileName().toString()).toList());
      assertTrue(stepOf(left.get(left.size() - 1)) < (long) EPOCHS * stepsPerEpoch(),
          "the run ended before the driver was killed");
      copyTree(out, dir.resolve("driver-killed-torn"));
      killedDriverOut = out;
    }
    return killedDriverOut;
  }

  @Test
  @Order(3)
  void aKilledDriverResumesToTheSameParameters() throws Exception {
    clusterRun();
    Path out = killedDriver();
    long newest = stepOf(checkpoints(out).get(checkpoints(out).size() - 1));
    Run r = run(NO_UI, train(out, "--resume"), "driver-killed-resume");
    report("cluster, driver killed, --resume", out, r);
    assertEquals(newest, resumedStep(r), r.out());
    assertEquals(EPOCHS, lines(out.resolve("metrics.jsonl")));
    assertSameAccuracy(dir.resolve("cluster"), out);
    assertArrayEquals(finalParams(dir.resolve("cluster")), finalParams(out),
        "the resumed run ended with other parameters than the undisturbed one");
  }

  @Test
  @Order(4)
  void aTornCheckpointIsSkippedOnResume() throws Exception {
    clusterRun();
    killedDriver();
    Path out = dir.resolve("driver-killed-torn");
    List<Path> ckpts = checkpoints(out);
    Path newest = ckpts.get(ckpts.size() - 1);
    long previous = stepOf(ckpts.get(ckpts.size() - 2));
    try (FileChannel ch = FileChannel.open(newest, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() / 2); // as if the machine died mid-write without the atomic rename
    }
    Run r = run(NO_UI, train(out, "--resume"), "driver-killed-torn-resume");
    report("cluster, newest checkpoint torn, --resume", out, r);
    // warnings of the run go to stdout with its other progress lines
    String said = r.out() + r.err();
    assertTrue(said.contains("skipping unusable checkpoint")
        && said.contains(newest.getFileName().toString()), said);
    assertEquals(previous, resumedStep(r), r.out());
    assertEquals(EPOCHS, lines(out.resolve("metrics.jsonl")));
    assertArrayEquals(finalParams(dir.resolve("cluster")), finalParams(out),
        "the run resumed past a torn checkpoint ended with other parameters");
  }

  // ---------------------------------------------------------------------------------------

  /**
   * The jar for spark-submit carries its own OpenBLAS: executors whose system BLAS is out of
   * reach (netlib pointed at a file that does not exist, an empty library path) and whose JavaCPP
   * cache starts empty extract the bundled OpenBLAS 0.3.31 from the jar and train with it, as
   * their report in summary.json says. A node without libopenblas0 trains at native speed.
   * The driver's CONVSPARK_OPENBLAS_CORETYPE reaches them too: asked for Sandybridge (a kernel
   * neither the workers' environment nor any CPU of this project would choose), every executor
   * runs it, although the workers were started without it.
   */
  @Test
  @Order(5)
  void theSubmitJarBringsItsOwnOpenBlasToTheExecutors() throws Exception {
    Path out = dir.resolve("bundled-blas");
    Path cache = dir.resolve("javacpp-cache-executors");
    deleteTree(cache);
    Process p = new ProcessBuilder("bash", "-c",
        ". \"$0\" && printf %s \"$SPARK_JAVA17_FLAGS\"",
        LocalCluster.root().resolve("scripts/java-flags.sh").toString())
        .redirectErrorStream(true).start();
    String flags = new String(p.getInputStream().readAllBytes()).trim();
    assertEquals(0, p.waitFor(), flags);
    List<String> spark = new ArrayList<>(NO_UI);
    spark.addAll(List.of(
        "--conf", "spark.executorEnv.CONVSPARK_BLAS=bundled",
        "--conf", "spark.executorEnv.LD_LIBRARY_PATH=/nonexistent",
        "--conf", "spark.executor.extraJavaOptions=" + flags
            + " -Ddev.ludovic.netlib.blas.nativeLibPath=/nonexistent/libopenblas.so.0"
            + " -Dorg.bytedeco.javacpp.cachedir=" + cache));
    List<String> app = new ArrayList<>(train(out));
    app.addAll(List.of("--set", "train.epochs=1"));
    Run r = run(spark, app, "bundled-blas",
        Map.of("CONVSPARK_OPENBLAS_CORETYPE", "Sandybridge"));
    report("cluster, bundled OpenBLAS, system BLAS hidden", out, r);
    JsonNode executors = summary(out).get("blas_detail").get("executors");
    assertTrue(executors.size() >= 1, "no executor reported its BLAS: " + summary(out));
    assertEquals("Sandybridge", summary(out).get("blas_detail").get("driver").get("kernel")
        .asText(), "the driver's kernel: " + summary(out).get("blas_detail"));
    for (JsonNode e : executors) {
      System.out.println("  executor BLAS: " + e);
      assertEquals("bundled", e.get("library").asText(), e.toString());
      assertEquals("OpenBLAS 0.3.31", e.get("version").asText(), e.toString());
      assertTrue(e.get("path").asText().startsWith(cache.toString()), e.toString());
      assertEquals("Sandybridge", e.get("kernel").asText(), e.toString());
      assertEquals(1, e.get("threads").asInt(), e.toString());
      assertEquals("", e.get("warning").asText(), e.toString());
      assertTrue(e.get("pid").asLong() != summary(out).get("blas_detail").get("driver")
          .get("pid").asLong(), "the report came from the driver, not an executor");
    }
  }

  /**
   * The cluster authenticates (scripts/local-cluster.sh writes a secret that submit.sh gives the
   * driver): an application that does not authenticate is refused by the master and never
   * registered; Spark's driver gives up after three tries of 20 s (its SparkContext start blocks
   * meanwhile) and stops, and convspark exits 2 saying so, instead of hanging.
   */
  @Test
  @Order(6)
  void anApplicationWithoutTheClusterSecretIsRefused() throws Exception {
    Path masterLog = cluster.dir.resolve("logs/master.log");
    assertTrue(Files.readString(masterLog).contains("authentication enabled"),
        "the master runs without spark.authenticate");
    List<String> spark = new ArrayList<>(NO_UI);
    spark.addAll(List.of("--conf", "spark.authenticate=false"));
    List<String> app = train(dir.resolve("no-secret"), "--set", "spark.app-name=no-secret-probe");
    Run r = cluster.submit(spark, app, dir.resolve("no-secret")).await(RUN_TIMEOUT_S);
    System.out.printf("no secret: exit %d after %.1f s%n", r.code(), r.seconds());
    List<String> errors = r.err().lines().filter(l -> l.startsWith("convspark: error: "))
        .toList();
    assertEquals(2, r.code(), errors.toString());
    assertEquals(1, errors.size(), LocalCluster.tail(r.err(), 3000));
    assertTrue(errors.get(0).contains("Spark stopped while waiting for the first executor from "
        + "master spark://127.0.0.1:") && errors.get(0).contains("spark.authenticate.secret"),
        errors.get(0));
    assertTrue(r.err().contains("Failed to connect to master"), LocalCluster.tail(r.err(), 3000));
    assertFalse(Files.readString(masterLog).contains("Registering app no-secret-probe"),
        "the master registered an application that did not authenticate");
  }

  /**
   * A driver whose executors ask for more memory than any worker offers gets none: it waits
   * spark.executor-wait-seconds, then exits 2 naming the master and the request.
   */
  @Test
  @Order(7)
  void executorsLargerThanAnyWorkerEndTheRunWithExitTwo() throws Exception {
    List<String> app = train(dir.resolve("too-large"), "--set",
        "spark.conf.\"spark.executor.memory\"=4g", "--set", "spark.executor-wait-seconds=5");
    Run r = cluster.submit(NO_UI, app, dir.resolve("too-large")).await(RUN_TIMEOUT_S);
    System.out.printf("executors too large: exit %d after %.1f s%n", r.code(), r.seconds());
    assertEquals(2, r.code(), r.describe());
    List<String> errors = r.err().lines().filter(l -> l.startsWith("convspark: error: "))
        .toList();
    assertEquals(1, errors.size(), r.describe());
    String e = errors.get(0);
    assertTrue(e.contains("no executor registered with master spark://127.0.0.1:")
        && e.contains("within 5 s") && e.contains("spark.executor.memory = 4g")
        && e.contains("no live worker"), e);
  }

  /**
   * A driver given the master's URL itself (so scripts/submit.sh sets no executor size) gets
   * 1-core executors, one per worker, each taking what its worker offers; with spark.task.cpus =
   * 2 none of them can ever run a task, and Spark would keep the first job pending forever. It
   * exits 2 after spark.executor-wait-seconds, naming the executors and what a task asks for.
   */
  @Test
  @Order(8)
  void executorsWithFewerCoresThanATaskEndTheRunWithExitTwo() throws Exception {
    String url = Files.readString(cluster.dir.resolve("master-url")).strip();
    List<String> spark = new ArrayList<>(NO_UI);
    spark.addAll(List.of("--master", url, "--conf", "spark.task.cpus=2"));
    List<String> app = train(dir.resolve("task-cpus"), "--set", "spark.executor-wait-seconds=20");
    Run r = cluster.submit(spark, app, dir.resolve("task-cpus")).await(RUN_TIMEOUT_S);
    System.out.printf("spark.task.cpus above the executors' cores: exit %d after %.1f s%n",
        r.code(), r.seconds());
    assertEquals(2, r.code(), r.describe());
    List<String> errors = r.err().lines().filter(l -> l.startsWith("convspark: error: "))
        .toList();
    assertEquals(1, errors.size(), r.describe());
    String e = errors.get(0);
    assertTrue(e.contains("none of the 2 executor(s) registered with master " + url
        + " could run a task within 20 s (config key spark.executor-wait-seconds)")
        && e.contains("spark.task.cpus = 2"), e);
    assertFalse(Files.exists(dir.resolve("task-cpus/summary.json")), "it trained");
  }

  static void assertSameAccuracy(Path expected, Path actual) throws IOException {
    JsonNode a = summary(expected);
    JsonNode b = summary(actual);
    assertEquals(a.get("best_val").get("accuracy").asDouble(),
        b.get("best_val").get("accuracy").asDouble(), ACCURACY_TOLERANCE, "validation accuracy");
    assertEquals(a.get("test").get("accuracy").asDouble(),
        b.get("test").get("accuracy").asDouble(), ACCURACY_TOLERANCE, "test accuracy");
    assertTrue(b.get("best_val").get("accuracy").asDouble() >= 0.9, b.toString());
  }

  static void report(String what, Path out, Run r) throws IOException {
    JsonNode s = summary(out);
    List<Double> valLoss = column(out, "valLoss");
    System.out.printf("%-42s %5.1f s wall (driver %5.1f s)  val acc %.4f  test acc %.4f  "
            + "final val loss %.6f%n", what, r.seconds(), s.get("wall_seconds").asDouble(),
        s.get("best_val").get("accuracy").asDouble(), s.get("test").get("accuracy").asDouble(),
        valLoss.get(valLoss.size() - 1));
  }

  static JsonNode summary(Path out) throws IOException {
    return Json.MAPPER.readTree(out.resolve("summary.json").toFile());
  }

  static List<Double> column(Path out, String field) throws IOException {
    List<Double> v = new ArrayList<>();
    for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
      if (!line.isBlank()) {
        v.add(Json.MAPPER.readTree(line).get(field).asDouble());
      }
    }
    return v;
  }

  static float[] finalParams(Path out) throws IOException {
    Path p = out.resolve("checkpoints/final.bin");
    return Checkpoint.fromBytes(Files.readAllBytes(p), p.toString()).params();
  }

  static int stepsPerEpoch() {
    return 1280 / GLOBAL_BATCH; // 1600 samples less the 20% validation split
  }

  static final Pattern CKPT = Pattern.compile("ckpt-(\\d+)\\.bin");
  static final Pattern RESUMED = Pattern.compile("resumed from .* at epoch \\d+, step (\\d+)");

  static long stepOf(Path ckpt) {
    Matcher m = CKPT.matcher(ckpt.getFileName().toString());
    assertTrue(m.matches(), ckpt.toString());
    return Long.parseLong(m.group(1));
  }

  static long resumedStep(Run r) {
    Matcher m = RESUMED.matcher(r.out());
    assertTrue(m.find(), "no 'resumed from' line: " + r.out());
    return Long.parseLong(m.group(1));
  }

  /** ckpt-*.bin in out/checkpoints, oldest first (empty while there is none). */
  static List<Path> checkpoints(Path out) {
    Path d = out.resolve("checkpoints");
    if (!Files.isDirectory(d)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(d)) {
      return s.filter(p -> CKPT.matcher(p.getFileName().toString()).matches())
          .sorted(Comparator.comparingLong(ClusterTrainingTest::stepOf)).toList();
    } catch (IOException e) {
      return List.of(); // listed while being renamed: try again
    }
  }

  static int lines(Path f) {
    try {
      return Files.exists(f) ? (int) Files.readAllLines(f).stream()
          .filter(l -> !l.isBlank()).count() : 0;
    } catch (IOException e) {
      return 0;
    }
  }

  /** Polls until {@code cond}; fails if the driver exits first or RUN_TIMEOUT_S passes. */
  static void waitFor(Driver d, BooleanSupplier cond, String what) throws Exception {
    long deadline = System.nanoTime() + RUN_TIMEOUT_S * 1_000_000_000L;
    while (!cond.getAsBoolean()) {
      if (!d.process().isAlive()) {
        throw new AssertionError("the driver exited before " + what + ": "
            + d.await(1).describe());
      }
      if (System.nanoTime() > deadline) {
        d.process().destroyForcibly();
        throw new AssertionError("no " + what + " after " + RUN_TIMEOUT_S + " s");
      }
      Thread.sleep(50);
    }
  }

  static void copyTree(Path from, Path to) throws IOException {
    deleteTree(to);
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else if (!p.getFileName().toString().contains(".tmp")) {
          Files.copy(p, t); // with Hadoop's .crc files, but not a half-written temp file
        }
      }
    }
  }

  static void deleteTree(Path d) throws IOException {
    if (!Files.exists(d)) {
      return;
    }
    try (Stream<Path> s = Files.walk(d)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
