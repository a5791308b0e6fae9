package convspark.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The scripts' checks of their variables and arguments: a bad value is exit 2 with one line
 * naming the variable (or the argument), before the script installs, builds or runs anything (each case here would otherwise
 * start a build, a benchmark or a JVM that the kernel kills).
 */
class ScriptChecksTest {
  record Result(int code, String err) {}

  static Result run(String script, Map<String, String> env, String... args) throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("bash",
        TestData.projectRoot().resolve("scripts").resolve(script).toString()));
    cmd.addAll(List.of(args));
    Path err = Files.createTempFile("script-err", ".txt");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(err.toFile());
      pb.environment().putAll(env);
      Process p = pb.start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(script + " " + env + " did not exit within 60 s");
      }
      return new Result(p.exitValue(), Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      try {
        Files.deleteIfExists(err);
      } catch (IOException e) {
        // a temp file left behind
      }
    }
  }

  static void deleteTree(Path d) throws IOException {
    try (var s = Files.walk(d)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  static void refused(String script, Map<String, String> env, String expected, String... args)
      throws Exception {
    Result r = run(script, env, args);
    assertEquals(2, r.code(), script + " " + env + ": " + r.err());
    List<String> lines = r.err().lines().filter(l -> !l.isBlank()).toList();
    assertEquals(1, lines.size(), script + " " + env + ": one line, found " + lines);
    assertTrue(lines.get(0).contains(expected), lines.get(0));
  }

  @Test
  void theLaunchersHeapIsChecked() throws Exception {
    refused("convspark", Map.of("CONVSPARK_MEMORY", "1k"), "CONVSPARK_MEMORY='1k': expected a "
        + "heap size of at least 512m", "--version");
    // more than the machine has: the pre-touched heap would bring the OOM killer (exit 137)
    refused("convspark", Map.of("CONVSPARK_MEMORY", "99999g"), "CONVSPARK_MEMORY='99999g': "
        + "more than 7/8 of the", "--version");
  }

  @Test
  void theClusterScriptTakesOneCommand() throws Exception {
    // CONVSPARK_CLUSTER_WORKERS=0: a script that ignored the extra word would refuse that
    // instead of starting a cluster
    Map<String, String> env = Map.of("CONVSPARK_CLUSTER_WORKERS", "0", "CONVSPARK_CLUSTER_DIR",
        TestData.projectRoot().resolve("driver/target/script-checks-cluster").toString());
    refused("local-cluster.sh", env, "usage: ", "start", "extra");
    refused("local-cluster.sh", env, "usage: ");
    refused("local-cluster.sh", env, "usage: ", "restart");
    // any value but 1 ran Maven; status, which never builds, checks it too
    refused("local-cluster.sh", Map.of("CONVSPARK_NO_BUILD", "true", "CONVSPARK_CLUSTER_DIR",
        TestData.projectRoot().resolve("driver/target/script-checks-cluster").toString()),
        "local-cluster: CONVSPARK_NO_BUILD='true': expected 1 (never run Maven)", "status");
    refused("submit.sh", Map.of("CONVSPARK_NO_BUILD", "true"), "local-cluster: "
        + "CONVSPARK_NO_BUILD='true': expected 1", "--master", "local[1]", "--", "--version");
  }

  /**
   * start and stop delete conf/, run/, logs/ and work/ of the cluster directory: one that holds
   * anything else is no cluster directory of the script (the repository's root, a home
   * directory) and is refused, untouched. (CONVSPARK_CLUSTER_WORKERS=0: a start that did not
   * check the directory refuses that before starting anything.)
   */
  @Test
  void aClusterDirectoryThatIsNotTheScriptsIsRefusedUntouched() throws Exception {
    Path d = Files.createTempDirectory("not-a-cluster");
    try {
      Path mine = Files.writeString(Files.createDirectories(d.resolve("conf")).resolve("my.conf"),
          "train.epochs = 3\n");
      Path notes = Files.writeString(Files.createDirectories(d.resolve("work")).resolve("notes"),
          "x");
      Map<String, String> env = Map.of("CONVSPARK_CLUSTER_DIR", d.toString(),
          "CONVSPARK_CLUSTER_WORKERS", "0");
      for (String command : List.of("stop", "start")) {
        refused("local-cluster.sh", env, "local-cluster: CONVSPARK_CLUSTER_DIR='"
            + d.toRealPath() + "' holds conf/my.conf, which no cluster of this script writes",
            command);
        assertTrue(Files.exists(mine) && Files.exists(notes), command + " deleted files");
      }
    } finally {
      deleteTree(d);
    }
  }

  /**
   * status after a cluster's daemons died without a stop (a crash, a reboot, kill -9): the
   * master's URL and the workers' size that start left are not printed as a running cluster's,
   * and the last line says what clears them.
   */
  @Test
  void statusOfAClusterThatDiedWithoutAStopDoesNotDescribeItAsRunning() throws Exception {
    Path d = Files.createTempDirectory("dead-cluster");
    try {
      Files.writeString(d.resolve(".local-cluster"), "");
      Files.writeString(d.resolve("master-url"), "spark://127.0.0.1:7077\n");
      Files.writeString(d.resolve("cluster.conf"), "workers=2\nworker_cores=1\n"
          + "worker_memory=1g\n");
      Process gone = new ProcessBuilder("true").start();
      gone.waitFor();
      Files.createDirectories(d.resolve("run"));
      Files.writeString(d.resolve("run/master.pid"), gone.pid() + "\n");
      Files.writeString(d.resolve("run/worker-1.pid"), gone.pid() + "\n");
      ProcessBuilder pb = new ProcessBuilder("bash", TestData.projectRoot()
          .resolve("scripts/local-cluster.sh").toString(), "status").redirectErrorStream(true);
      pb.environment().put("CONVSPARK_CLUSTER_DIR", d.toString());
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
      assertEquals(3, p.exitValue(), out);
      assertEquals(List.of("master: not running", "worker-1: not running", "local-cluster: not "
          + "running (" + d + "; files of an earlier start that was not stopped remain: "
          + "scripts/local-cluster.sh stop removes them)"), out.lines().toList());
    } finally {
      deleteTree(d);
    }
  }

  @Test
  void submitChecksItsJarBeforeSparkStarts() throws Exception {
    // else Spark's "Failed to load class convspark.driver.cli.Main", exit 101
    refused("submit.sh", Map.of("CONVSPARK_SUBMIT_JAR", "/nonexistent/convspark.jar",
        "CONVSPARK_NO_BUILD", "1"), "submit: CONVSPARK_SUBMIT_JAR='/nonexistent/convspark.jar':"
        + " no such file", "--master", "local[1]", "--", "--version");
  }

  @Test
  void submitChecksTheDriversHeapBeforeSparkStarts() throws Exception {
    // else the JVM's crash report (hs_err_pid*.log in the current directory), exit 1
    refused("submit.sh", Map.of("CONVSPARK_DRIVER_MEMORY", "99999g", "CONVSPARK_NO_BUILD", "1"),
        "submit: driver memory '99999g' (--driver-memory, else CONVSPARK_DRIVER_MEMORY): more "
        + "than 7/8 of the", "--master", "local[1]", "--", "--version");
    refused("submit.sh", Map.of("CONVSPARK_NO_BUILD", "1"), "submit: driver memory "
        + "'99999999999g' (--driver-memory", "--driver-memory", "99999999999g", "--master",
        "local[1]", "--", "--version");
  }

  /**
   * A --config path with a comma or a '#' is not passed to --files, which would read it as two
   * files or cut it at the '#', and fail the application; it is said, in one line. (The
   * driver's heap, refused after the choice, ends the script before Spark starts. That a file
   * is shipped is checked on the cluster: ClusterTrainingTest finds it in the executors'
   * directories.)
   */
  @Test
  void submitDoesNotShipAConfigWhosePathHasACommaOrAHash() throws Exception {
    Path d = Files.createTempDirectory("submit-comma");
    try {
      Path comma = Files.writeString(d.resolve("a,b.conf"), "train.epochs = 1\n");
      Path hash = Files.writeString(d.resolve("run#3.conf"), "train.epochs = 1\n");
      Map<Path, String> why = Map.of(comma, "a comma there as a separator",
          hash, "a '#' there as the start of a URI fragment");
      for (Path conf : List.of(comma, hash)) {
        for (List<String> app : List.of(List.of("train", "--config", conf.toString()),
            List.of("train", "--config=" + conf))) {
          List<String> args = new java.util.ArrayList<>(List.of("--master", "local[1]", "--"));
          args.addAll(app);
          Result r = run("submit.sh", Map.of("CONVSPARK_DRIVER_MEMORY", "99999g",
              "CONVSPARK_NO_BUILD", "1"), args.toArray(String[]::new));
          assertEquals(2, r.code(), r.err());
          List<String> lines = r.err().lines().filter(l -> !l.isBlank()).toList();
          assertEquals(2, lines.size(), lines.toString());
          assertTrue(lines.get(0).startsWith("submit: --config '" + conf + "' is not shipped to "
              + "the executors with --files (Spark reads " + why.get(conf) + "); the driver "
              + "reads it"), lines.get(0));
          assertTrue(lines.get(1).startsWith("submit: driver memory '99999g'"), lines.get(1));
        }
      }
    } finally {
      deleteTree(d);
    }
  }

  @Test
  void theBenchmarksVariablesAreChecked() throws Exception {
    refused("bench-train.sh", Map.of("BATCHES", "09"), "BATCHES: '09' is not a positive even");
    refused("bench-train.sh", Map.of("EPOCHS", "1"), "EPOCHS: '1' is not a number >= 2");
    refused("bench-train.sh", Map.of("ENGINES", "rign"), "ENGINES: unknown engine 'rign'");
    refused("bench-scale.sh", Map.of("SCALE_MAX", "abc"), "SCALE_MAX: 'abc' is not a whole");
    refused("bench-scale.sh", Map.of("SCALE_SECONDS", "0"), "SCALE_SECONDS: '0' is not");
    refused("bench-scale.sh", Map.of("SCALE_CONFIGS", "2x1 4x"), "SCALE_CONFIGS: '4x' is not PxT");
    refused("bench-scale.sh", Map.of("SCALE_DDP", "yes"), "SCALE_DDP: 'yes' is not 0");
  }

  /**
   * The benchmarks take their settings from the environment only: an argument (--help, QUICK=1
   * after the name) was ignored and the whole run started, rewriting docs/BENCHMARKS.md. They
   * run here with an empty PATH, so that a script which ignores the argument fails at its first
   * command instead of starting a benchmark.
   */
  @Test
  void theBenchmarksRefuseArgumentsAndExplainThemselves() throws Exception {
    Map<String, String> noPath = Map.of("PATH", "/nonexistent");
    for (String script : List.of("bench.sh", "bench-train.sh", "bench-scale.sh",
        "bench-kernel.sh", "bench-resnet.sh", "experiment-scaling.sh")) {
      String name = script.replace(".sh", "");
      refused(script, noPath, name + ": unexpected argument 'QUICK=1': this script takes none; "
          + "its settings are environment variables", "QUICK=1");
    }
    // --help prints the header comment, which lists the variables (sed only on the PATH)
    Path bin = Files.createTempDirectory("script-bin");
    try {
      Files.createSymbolicLink(bin.resolve("sed"), Path.of("/bin/sed").toRealPath());
      List<String> cmd = List.of("bash", TestData.projectRoot().resolve("scripts")
          .resolve("bench-train.sh").toString(), "--help");
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("PATH", bin.toString());
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bench-train.sh --help did not exit");
      assertEquals(0, p.exitValue(), out);
      assertTrue(out.startsWith("Distributed training throughput") && out.contains("BATCHES=")
          && !out.contains("set -euo"), out);
    } finally {
      Files.deleteIfExists(bin.resolve("sed"));
      Files.deleteIfExists(bin);
    }
  }
}
