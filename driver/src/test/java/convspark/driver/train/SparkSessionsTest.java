package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * The wait for the first executor at start with a cluster master: it returns once one that can
 * run a task has registered, and fails (exit 2's exception, one line naming the master, the
 * config key and the likely causes) when none comes within the limit, when those that came have
 * less than a task asks for, or when Spark stops the context meanwhile.
 */
class SparkSessionsTest {
  static final String MASTER = "spark://127.0.0.1:7077";
  static final String ASKED = "spark.executor.memory = 4g";
  static final String TASK = "spark.task.cpus = 2";
  static final SparkSessions.Capacity NONE = new SparkSessions.Capacity(0, 0);

  @Test
  void noExecutorWithinTheLimitFailsNamingTheMasterAndTheCauses() {
    long t0 = System.nanoTime();
    BadInputException e = assertThrows(BadInputException.class,
        () -> SparkSessions.awaitExecutors(MASTER, ASKED, TASK, 300, () -> NONE, () -> false, 10));
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertTrue(seconds >= 0.3 && seconds < 10, "waited " + seconds + " s");
    String m = e.getMessage();
    assertFalse(m.contains("\n"), m);
    assertTrue(m.contains("no executor registered with master " + MASTER + " within 0.3 s")
        && m.contains("spark.executor-wait-seconds") && m.contains("no live worker")
        && m.contains(ASKED), m);
  }

  @Test
  void aStandaloneMasterNoOneAnswersFailsAtOnceNamingItsAddress() throws Exception {
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    String master = "spark://127.0.0.1:" + closed;
    long t0 = System.nanoTime();
    BadInputException e = assertThrows(BadInputException.class,
        () -> SparkSessions.checkReachable(master, 5000,
            "config key spark.master (" + master + ")"));
    assertTrue((System.nanoTime() - t0) / 1e9 < 5, "refused at once");
    String m = e.getMessage();
    assertFalse(m.contains("\n"), m);
    assertTrue(m.startsWith("cannot reach the Spark master of config key spark.master ("
        + master + "): 127.0.0.1:" + closed + ": "), m);
    // with a standby master that answers, and for masters that are not standalone, it passes
    try (java.net.ServerSocket up = new java.net.ServerSocket(0, 1,
        java.net.InetAddress.getLoopbackAddress())) {
      SparkSessions.checkReachable("spark://127.0.0.1:" + closed + ",127.0.0.1:"
          + up.getLocalPort(), 5000, "--master");
    }
    SparkSessions.checkReachable("local[2]", 5000, "--master");
    SparkSessions.checkReachable("yarn", 5000, "--master");
  }

  @Test
  void returnsOnceAnExecutorHasRegistered() {
    AtomicInteger polls = new AtomicInteger();
    // an executor with too few cores first, then one that can run a task
    SparkSessions.awaitExecutors(MASTER, ASKED, TASK, 60_000,
        () -> new SparkSessions.Capacity(polls.incrementAndGet() < 3 ? 0 : 1,
            polls.get() < 5 ? 0 : 1), () -> false, 1);
    assertTrue(polls.get() == 5, "polled " + polls.get() + " times");
  }

  @Test
  void executorsThatCannotRunATaskFailNamingTheTasksAsk() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> SparkSessions.awaitExecutors(MASTER, ASKED, TASK, 300,
            () -> new SparkSessions.Capacity(2, 0), () -> false, 10));
    String m = e.getMessage();
    assertFalse(m.contains("\n"), m);
    assertTrue(m.startsWith("none of the 2 executor(s) registered with master " + MASTER
        + " could run a task within 0.3 s (config key spark.executor-wait-seconds)")
        && m.contains(TASK) && m.contains("set spark.executor.cores to at least spark.task.cpus"),
        m);
  }

  @Test
  void theBarrierSlotCheckLastsTheExecutorWaitUnlessSet() {
    SparkConf conf = new SparkConf(false);
    SparkSessions.barrierCheckDefaults(conf, 120);
    assertEquals("5s", conf.get(SparkSessions.BARRIER_CHECK + "interval"));
    assertEquals("24", conf.get(SparkSessions.BARRIER_CHECK + "maxFailures"));
    conf = new SparkConf(false);
    SparkSessions.barrierCheckDefaults(conf, 7);
    assertEquals("1s", conf.get(SparkSessions.BARRIER_CHECK + "interval"));
    assertEquals("7", conf.get(SparkSessions.BARRIER_CHECK + "maxFailures"));
    conf = new SparkConf(false).set(SparkSessions.BARRIER_CHECK + "maxFailures", "40");
    SparkSessions.barrierCheckDefaults(conf, 120);
    assertEquals("40", conf.get(SparkSessions.BARRIER_CHECK + "maxFailures"), "the user's");
  }

  @Test
  void theTasksAskNamesItsCpusAndOtherResources() {
    SparkConf conf = new SparkConf(false).set("spark.task.cpus", "4")
        .set("spark.task.resource.gpu.amount", "1").set("spark.executor.resource.gpu.amount", "2");
    assertEquals("spark.task.cpus = 4, spark.task.resource.gpu.amount = 1",
        SparkSessions.taskAsks(conf));
    assertEquals("spark.task.cpus = 1", SparkSessions.taskAsks(new SparkConf(false)));
  }

  @Test
  void aContextStoppedMeanwhileFailsAtOnceSayingSo() {
    long t0 = System.nanoTime();
    BadInputException e = assertThrows(BadInputException.class,
        () -> SparkSessions.awaitExecutors(MASTER, ASKED, TASK, 60_000, () -> NONE, () -> true, 10));
    assertTrue((System.nanoTime() - t0) / 1e9 < 10, "it waited for the limit");
    assertTrue(e.getMessage().contains("Spark stopped while waiting for the first executor from "
        + "master " + MASTER) && e.getMessage().contains("spark.authenticate"), e.getMessage());
  }

  @Test
  void onlyLocalMastersSkipTheWait() {
    assertTrue(SparkSessions.isLocal("local"));
    assertTrue(SparkSessions.isLocal("local[2]"));
    assertTrue(SparkSessions.isLocal("local[*, 3]"));
    assertFalse(SparkSessions.isLocal("local-cluster[2,1,1024]"));
    assertFalse(SparkSessions.isLocal(MASTER));
    assertFalse(SparkSessions.isLocal("yarn"));
  }

  @Test
  void weightsMoveUncompressedAndResultsDirectlyUnlessTheUserSaysOtherwise() {
    SparkConf ours = new SparkConf(false);
    SparkSessions.weightTransferDefaults(ours);
    assertEquals("false", ours.get("spark.broadcast.compress"));
    assertEquals(SparkSessions.MAX_DIRECT_RESULT_SIZE, ours.get("spark.task.maxDirectResultSize"));
    SparkConf theirs = new SparkConf(false).set("spark.broadcast.compress", "true")
        .set("spark.task.maxDirectResultSize", "4m");
    SparkSessions.weightTransferDefaults(theirs);
    assertEquals("true", theirs.get("spark.broadcast.compress"));
    assertEquals("4m", theirs.get("spark.task.maxDirectResultSize"));
  }
}
