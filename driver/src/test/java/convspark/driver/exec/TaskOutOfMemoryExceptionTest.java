package convspark.driver.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The OutOfMemoryError of a convspark task, as an exception Spark does not treat as fatal. */
class TaskOutOfMemoryExceptionTest {
  @Test
  void anOutOfMemoryErrorBecomesAnExceptionWithoutTheErrorAsItsCause() {
    OutOfMemoryError oom = new OutOfMemoryError("Java heap space");
    TaskOutOfMemoryException e = assertThrows(TaskOutOfMemoryException.class,
        () -> TaskOutOfMemoryException.guard(() -> "evaluation, partition 1", () -> "a smaller x",
            () -> {
          throw oom;
        }));
    // Spark's executor ends the JVM for a fatal error anywhere in the first 5 causes
    assertNull(e.getCause());
    assertEquals(oom.getStackTrace().length, e.getStackTrace().length);
    assertTrue(e.getMessage().startsWith("out of memory in a Spark task (evaluation, partition 1; "
        + "heap "), e.getMessage());
    assertTrue(e.getMessage().contains("Java heap space): raise the heap (CONVSPARK_MEMORY"),
        e.getMessage());
    assertTrue(e.getMessage().endsWith(" or use a smaller x"), e.getMessage());
  }

  @Test
  void oneThatAnotherThreadOfTheTaskPassedOnAsACause() {
    RuntimeException wrapped = new IllegalStateException("a replica thread failed",
        new OutOfMemoryError("Java heap space"));
    TaskOutOfMemoryException e = assertThrows(TaskOutOfMemoryException.class,
        () -> TaskOutOfMemoryException.guard(() -> "ring", () -> null, () -> {
          throw wrapped;
        }));
    assertNull(e.getCause());
    assertTrue(e.getMessage().endsWith("spark.executor.memory on a cluster)"), e.getMessage());
  }

  @Test
  void otherFailuresPassUnchanged() {
    IllegalStateException other = new IllegalStateException("no");
    assertSame(other, assertThrows(IllegalStateException.class,
        () -> TaskOutOfMemoryException.guard(() -> "x", () -> null, () -> {
          throw other;
        })));
    assertEquals(5, TaskOutOfMemoryException.guard(() -> "x", () -> null, () -> 5));
  }

  @Test
  void itsLineIsFoundInSparksTextOfAFailedStage() {
    String line = "out of memory in a Spark task (a ring training round, rank 1; heap 2.0 GiB, "
        + "Java heap space): raise the heap";
    RuntimeException spark = new RuntimeException("Job aborted due to stage failure: Stage "
        + "failed because barrier task ResultTask(3, 1) finished unsuccessfully.\n"
        + "convspark.driver.exec.TaskOutOfMemoryException: " + line + "\n\tat x.y(z.java:1)");
    assertEquals(line, TaskOutOfMemoryException.in(new RuntimeException("wrapped", spark)));
    assertNull(TaskOutOfMemoryException.in(new RuntimeException("other")));
  }
}
