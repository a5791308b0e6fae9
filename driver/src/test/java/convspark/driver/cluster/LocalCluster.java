package convspark.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The standalone cluster of {@code scripts/local-cluster.sh} (a master and two 1-core workers on
 * 127.0.0.1) in its own directory, {@code driver/target/cluster-test}, and the convspark runs
 * submitted to it with {@code scripts/submit.sh}, each a separate driver JVM. The cluster
 * authenticates with the secret its start wrote into {@code dir/conf/spark-defaults.conf};
 * submit.sh gives it to every driver (through SPARK_CONF_DIR, not on a command line). Everything started
 * here is stopped by {@link #close}, and by a shutdown hook if the test JVM is ended first.
 */
final class LocalCluster implements AutoCloseable {
  static final long SCRIPT_TIMEOUT_S = 180;

  final Path root;
  final Path dir;
  private final List<Process> drivers = new CopyOnWriteArrayList<>();
  private final Thread hook = new Thread(this::stopQuietly, "stop-local-cluster");
  private boolean stopped;

  private final Path jar;

  /**
   * A cluster in {@code dir}, submitting a copy of this build's jar for spark-submit
   * (-Dconvspark.submit.jar, set by the POM, else the one in driver/target), so that a rebuild
   * while the tests run does not change the jar under them.
   */
  LocalCluster(Path dir) throws IOException {
    this.root = root();
    this.dir = dir;
    String p = System.getProperty("convspark.submit.jar");
    Path built;
    if (p != null) {
      built = Path.of(p);
    } else {
      try (Stream<Path> s = Files.list(root.resolve("driver/target"))) {
        built = s.filter(f -> f.getFileName().toString().endsWith("-submit.jar")).findFirst()
            .orElseThrow(() -> new IllegalStateException("no driver/target/*-submit.jar: run "
                + "mvn -DskipTests install -pl common,worker,driver"));
      }
    }
    Files.createDirectories(dir);
    this.jar = dir.resolve(built.getFileName());
    Files.copy(built, jar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  /** The project directory: -Dconvspark.root (set by the POM), else found from user.dir. */
  static Path root() {
    return convspark.driver.TestData.projectRoot();
  }

  /** Stops a cluster left in {@link #dir} by an earlier run, then starts a fresh one. */
  LocalCluster start() throws Exception {
    Runtime.getRuntime().addShutdownHook(hook);
    script("stop");
    Script s = script("start");
    assertEquals(0, s.code(), "local-cluster.sh start failed:\n" + s.output());
    System.out.println(s.output().strip());
    return this;
  }

  record Script(int code, String output) {}

  Script script(String command) throws IOException, InterruptedException {
    return script(command, Map.of());
  }

  /** {@code local-cluster.sh command} with these variables added to its environment. */
  Script script(String command, Map<String, String> extraEnv)
      throws IOException, InterruptedException {
    Path log = Files.createTempFile("local-cluster", ".log");
    try {
      ProcessBuilder pb = new ProcessBuilder("bash",
          root.resolve("scripts/local-cluster.sh").toString(), command)
          .redirectErrorStream(true).redirectOutput(log.toFile());
      env(pb.environment());
      pb.environment().putAll(extraEnv);
      Process p = pb.start();
      if (!p.waitFor(SCRIPT_TIMEOUT_S, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        return new Script(-1, "timed out after " + SCRIPT_TIMEOUT_S + " s\n"
            + Files.readString(log));
      }
      return new Script(p.exitValue(), Files.readString(log));
    } finally {
      Files.deleteIfExists(log);
    }
  }

  private void env(Map<String, String> env) {
    env.put("CONVSPARK_CLUSTER_DIR", dir.toString());
    // the jar for spark-submit comes from this build (mvn verify packaged it): never rebuild
    env.put("CONVSPARK_NO_BUILD", "1");
    env.put("CONVSPARK_SUBMIT_JAR", jar.toString());
  }

  /** A submitted driver: its JVM and the files its stdout and stderr go to. */
  record Driver(Process process, Path stdout, Path stderr, long startNanos) {
    /** Waits for the driver to exit (killing it after {@code timeoutS}) and reads its output. */
    Run await(long timeoutS) throws IOException, InterruptedException {
      if (!process.waitFor(timeoutS, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
        throw new AssertionError("driver still running after " + timeoutS + " s; stderr:\n"
            + tail(Files.readString(stderr), 4000));
      }
      return new Run(process.exitValue(), Files.readString(stdout), Files.readString(stderr),
          (System.nanoTime() - startNanos) / 1e9);
    }
  }

  record Run(int code, String out, String err, double seconds) {
    String describe() {
      return "exit " + code + "\n--- stdout\n" + tail(out, 4000) + "\n--- stderr\n"
          + tail(err, 6000);
    }
  }

  static String tail(String s, int n) {
    return s.length() <= n ? s : "..." + s.substring(s.length() - n);
  }

  /**
   * Starts {@code scripts/submit.sh sparkArgs -- appArgs}: without --master in sparkArgs, in
   * client mode on this cluster. Output goes to {@code logPrefix.out} / {@code .err}.
   */
  Driver submit(List<String> sparkArgs, List<String> appArgs, Path logPrefix)
      throws IOException {
    return submit(sparkArgs, appArgs, logPrefix, Map.of());
  }

  /** As {@link #submit(List, List, Path)}, with these variables added to submit.sh's environment. */
  Driver submit(List<String> sparkArgs, List<String> appArgs, Path logPrefix,
      Map<String, String> extraEnv) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add("bash");
    cmd.add(root.resolve("scripts/submit.sh").toString());
    cmd.addAll(sparkArgs);
    cmd.add("--");
    cmd.addAll(appArgs);
    Path out = Path.of(logPrefix + ".out");
    Path err = Path.of(logPrefix + ".err");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile())
        .redirectError(err.toFile());
    env(pb.environment());
    pb.environment().put("CONVSPARK_DRIVER_MEMORY", "768m");
    pb.environment().putAll(extraEnv);
    Process p = pb.start();
    drivers.add(p);
    return new Driver(p, out, err, System.nanoTime());
  }

  /** Executor JVMs of this cluster: running CoarseGrainedExecutorBackend inside dir/work. */
  List<ProcessHandle> executors() {
    Path work;
    try {
      work = dir.resolve("work").toRealPath(); // /proc shows the cwd without symlinks
    } catch (IOException e) {
      return List.of(); // no work directory: no executor ever started
    }
    return ProcessHandle.allProcesses().filter(h -> {
      Path proc = Path.of("/proc", Long.toString(h.pid()));
      try {
        Path cwd = Files.readSymbolicLink(proc.resolve("cwd"));
        String cmd = new String(Files.readAllBytes(proc.resolve("cmdline")),
            StandardCharsets.UTF_8);
        return cwd.startsWith(work) && cmd.contains("CoarseGrainedExecutorBackend");
      } catch (IOException | SecurityException e) {
        return false; // gone, or not ours to read
      }
    }).toList();
  }

  /** The executor directories (work/worker-N/APP/EXEC) Spark's workers created for an app. */
  List<Path> executorDirs(String appId) throws IOException {
    List<Path> dirs = new ArrayList<>();
    try (Stream<Path> workers = Files.list(dir.resolve("work"))) {
      for (Path w : workers.toList()) {
        Path app = w.resolve(appId);
        if (Files.isDirectory(app)) {
          try (Stream<Path> execs = Files.list(app)) {
            dirs.addAll(execs.filter(Files::isDirectory).toList());
          }
        }
      }
    }
    return dirs;
  }

  /** The id of the application an executor runs (its --app-id argument). */
  static String appId(ProcessHandle executor) {
    try {
      String[] args = new String(Files.readAllBytes(Path.of("/proc",
          Long.toString(executor.pid()), "cmdline")), StandardCharsets.UTF_8).split("\0");
      for (int i = 0; i + 1 < args.length; i++) {
        if (args[i].equals("--app-id")) {
          return args[i + 1];
        }
      }
      throw new IllegalStateException("executor " + executor.pid() + " has no --app-id");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    stopQuietly();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException | IllegalArgumentException e) {
      // shutting down, or start() never registered it
    }
  }

  private synchronized void stopQuietly() {
    if (stopped) {
      return;
    }
    stopped = true;
    for (Process p : drivers) {
      p.destroyForcibly();
    }
    try {
      Script s = script("stop");
      System.out.println(s.output().strip());
    } catch (IOException | InterruptedException e) {
      System.err.println("could not stop the local cluster in " + dir + ": " + e);
    }
  }
}
