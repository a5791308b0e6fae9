package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The watch over a running command's executors: nothing happens while one that can run a task is
 * registered or for less than the limit without one; past the limit every active job is
 * cancelled once, with a reason naming the master and the config key (and what a task asks for,
 * when the executors left are too small for one); an executor coming back resets the clock.
 */
class ExecutorWatchTest {
  static final long S = 1_000_000_000L;

  @Test
  void cancelsEachJobOnceAfterTheLimitWithoutExecutors() {
    AtomicInteger executors = new AtomicInteger(2);
    int[][] jobs = {{4}};
    List<String> cancels = new ArrayList<>();
    ExecutorWatch w = new ExecutorWatch("spark://127.0.0.1:7077", "spark.task.cpus = 1", 120_000,
        () -> new SparkSessions.Capacity(executors.get(), executors.get()), () -> jobs[0],
        (id, why) -> cancels.add(id + ": " + why), 0);
    assertEquals(Set.of(), w.poll(500 * S), "executors registered: nothing to do");
    executors.set(0);
    assertEquals(Set.of(), w.poll(600 * S), "no executor for 100 s of the 120");
    assertEquals(Set.of(4), w.poll(621 * S));
    assertTrue(cancels.get(0).startsWith("4: because no executor has been registered with master "
        + "spark://127.0.0.1:7077 for 120 s (config key spark.executor-wait-seconds)"),
        cancels.get(0));
    assertEquals(Set.of(), w.poll(622 * S), "a job is cancelled once");
    jobs[0] = new int[] {4, 5};
    assertEquals(Set.of(5), w.poll(623 * S), "a job started meanwhile (a rerun) is too");
    executors.set(1);
    jobs[0] = new int[] {6};
    assertEquals(Set.of(), w.poll(624 * S));
    executors.set(0);
    assertEquals(Set.of(), w.poll(700 * S), "the clock restarted when an executor came back");
    assertEquals(Set.of(6), w.poll(745 * S));
    assertEquals(3, cancels.size());
  }

  @Test
  void executorsTooSmallForATaskCountAsNone() {
    int[] slots = {2};
    List<String> cancels = new ArrayList<>();
    ExecutorWatch w = new ExecutorWatch("spark://127.0.0.1:7077", "spark.task.cpus = 2", 60_000,
        () -> new SparkSessions.Capacity(2, slots[0]), () -> new int[] {3},
        (id, why) -> cancels.add(id + ": " + why), 0);
    assertEquals(Set.of(), w.poll(10 * S));
    slots[0] = 0;
    assertEquals(Set.of(), w.poll(69 * S), "without a slot for 59 s of the 60");
    assertEquals(Set.of(3), w.poll(71 * S));
    assertEquals(List.of("3: because no executor registered with master spark://127.0.0.1:7077 "
        + "has been able to run a task for 60 s (config key spark.executor-wait-seconds): each of "
        + "the 2 left has less than a task asks for (spark.task.cpus = 2)"), cancels);
  }
}
