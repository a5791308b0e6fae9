package convspark.driver.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.cluster.LocalCluster.Script;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code scripts/local-cluster.sh start} where it cannot give what was asked for: a master port
 * another process holds (Spark would quietly take the next one), and a start while a cluster of
 * another size, or a cluster missing a worker, runs in the same directory (the start returned
 * 0 with the cluster as it was). Each is refused with one line naming the variable, and nothing
 * that ran is stopped or restarted. Two starts at once give one cluster. A stale pid file naming another cluster's daemon makes no
 * stop kill it. Its own cluster of one worker, in
 * {@code driver/target/cluster-script-test}.
 */
@Tag("cluster")
class LocalClusterScriptTest {
  static LocalCluster cluster;

  @BeforeAll
  static void prepare() throws Exception {
    cluster = new LocalCluster(LocalCluster.root().resolve("driver/target/cluster-script-test"));
    cluster.script("stop");
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
  }

  static void deleteTree(Path p) throws java.io.IOException {
    if (Files.exists(p)) {
      try (var s = Files.walk(p)) {
        for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(f);
        }
      }
    }
  }

  static String lastLine(Script s) {
    List<String> lines = s.output().lines().filter(l -> !l.isBlank()).toList();
    return lines.isEmpty() ? "" : lines.get(lines.size() - 1);
  }

  @Test
  void startRefusesWhatItCannotGiveAndStopKillsOnlyItsOwnDaemons() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      String port = Integer.toString(taken.getLocalPort());
      Script s = cluster.script("start", Map.of("CONVSPARK_MASTER_PORT", port));
      assertEquals(2, s.code(), s.output());
      assertTrue(lastLine(s).startsWith("local-cluster: CONVSPARK_MASTER_PORT='" + port
          + "': port in use on 127.0.0.1"), s.output());
      assertEquals(3, cluster.script("status").code(), "nothing left running");
    }

    // two starts at once: one starts the cluster, the other waits for it and finds it running
    // (each started a master, and the one that failed stopped the other's, secret and all)
    Map<String, String> one = Map.of("CONVSPARK_CLUSTER_WORKERS", "1");
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(2);
    List<Script> both = new java.util.ArrayList<>();
    try {
      for (var f : pool.invokeAll(List.<java.util.concurrent.Callable<Script>>of(
          () -> cluster.script("start", one), () -> cluster.script("start", one)))) {
        both.add(f.get());
      }
    } finally {
      pool.shutdownNow();
    }
    for (Script b : both) {
      assertEquals(0, b.code(), b.output());
    }
    assertEquals(1, both.stream().filter(b -> b.output().contains("already running")).count(),
        both.toString());
    Script s = cluster.script("status");
    assertEquals(0, s.code(), s.output());
    String url = Files.readString(cluster.dir.resolve("master-url")).strip();

    s = cluster.script("start", Map.of("CONVSPARK_CLUSTER_WORKERS", "2"));
    assertEquals(2, s.code(), s.output());
    assertTrue(lastLine(s).contains("already running with workers=1 (cluster.conf), not the "
        + "CONVSPARK_CLUSTER_WORKERS='2' asked for"), s.output());
    s = cluster.script("start", Map.of("CONVSPARK_WORKER_MEMORY", "1024m"));
    assertEquals(0, s.code(), "1024m is the 1g running: " + s.output());
    assertTrue(s.output().contains("local-cluster: already running"), s.output());
    assertEquals(url, Files.readString(cluster.dir.resolve("master-url")).strip(),
        "the running cluster is kept");

    // a stale pid file in another cluster directory naming this cluster's master (a killed
    // daemon's pid, come round again to another cluster's): its stop leaves the master alone
    Path other = LocalCluster.root().resolve("driver/target/cluster-script-test-other");
    deleteTree(other);
    Path masterPid = cluster.dir.resolve("run/master.pid");
    Files.createDirectories(other.resolve("run"));
    Files.copy(masterPid, other.resolve("run/master.pid"));
    Map<String, String> there = Map.of("CONVSPARK_CLUSTER_DIR", other.toString());
    assertEquals(3, cluster.script("status", there).code(), "not that cluster's master");
    s = cluster.script("stop", there);
    assertEquals(0, s.code(), s.output());
    assertTrue(ProcessHandle.of(Long.parseLong(Files.readString(masterPid).strip()))
        .map(ProcessHandle::isAlive).orElse(false), "another cluster's stop killed the master");
    assertEquals(0, cluster.script("status").code());
    deleteTree(other);

    // a worker lost: start says so instead of "already running"
    Path pid = cluster.dir.resolve("run/worker-1.pid");
    ProcessHandle worker = ProcessHandle.of(Long.parseLong(Files.readString(pid).strip()))
        .orElseThrow();
    worker.destroyForcibly();
    worker.onExit().get();
    s = cluster.script("start", one);
    assertEquals(1, s.code(), s.output());
    assertTrue(lastLine(s).contains("already running, but not fully"), s.output());
  }
}
