package convspark.driver.exec;

import convspark.worker.WorkspaceCache;
import java.util.function.Supplier;

/**
 * An {@link OutOfMemoryError} in one of convspark's Spark tasks, rethrown as an ordinary
 * exception. Spark's executor treats an Error that reaches it as fatal and ends its JVM
 * ({@code SparkUncaughtExceptionHandler}, exit 52); in local mode that JVM is the driver's, so the
 * command could only tell that the JVM was shutting down, as if a signal had come. As this
 * exception the task fails, then its job, and the command prints one line naming the heap and
 * what to change (exit 3).
 *
 * <p>Sound because the task's large arrays (its workspace, its batch) belong to the frames the
 * error unwound: by the time this is built they are unreachable, and the idle workspaces of the
 * JVM's cache are dropped as well ({@link WorkspaceCache#dropIdle}).
 */
public final class TaskOutOfMemoryException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** How every message of this kind starts, found again in Spark's job-failure text. */
  public static final String MARK = "out of memory in a Spark task";

  /**
   * Without the error as its cause: Spark's executor looks down the cause chain too
   * ({@code spark.executor.killOnFatalError.depth}, 5 by default) and would end the JVM all the
   * same. The error's stack trace, where the memory ran out, becomes this exception's.
   */
  private TaskOutOfMemoryException(String message, OutOfMemoryError oom) {
    super(message);
    setStackTrace(oom.getStackTrace());
  }

  /** A task body that may run out of memory. */
  @FunctionalInterface
  public interface Body<T, E extends Exception> {
    T run() throws E;
  }

  /**
   * Runs {@code body}, turning an OutOfMemoryError (thrown, or the cause of a RuntimeException
   * from a thread of the task's own) into a TaskOutOfMemoryException.
   *
   * @param what the task, for the message ("a training step, partition 1"); asked for only
   *     when memory ran out, as is {@code change}
   * @param change the settings that shrink what the task needs ("a smaller train.eval-batch"),
   *     or null where only a larger heap helps
   */
  public static <T, E extends Exception> T guard(Supplier<String> what, Supplier<String> change,
      Body<T, E> body) throws E {
    try {
      return body.run();
    } catch (OutOfMemoryError e) {
      throw of(e, what.get(), change.get());
    } catch (RuntimeException e) {
      OutOfMemoryError oom = oomIn(e);
      if (oom != null && !(e instanceof TaskOutOfMemoryException)) {
        throw of(oom, what.get(), change.get());
      }
      throw e;
    }
  }

  /**
   * The exception for {@code e}, or {@code e} itself where even this little cannot be
   * allocated (then Spark ends the JVM as before).
   */
  public static RuntimeException of(OutOfMemoryError e, String what, String change) {
    try {
      WorkspaceCache.dropIdle();
      return new TaskOutOfMemoryException(
          message(e, what, change, Runtime.getRuntime().maxMemory()), e);
    } catch (OutOfMemoryError again) {
      throw e;
    }
  }

  static String message(OutOfMemoryError e, String what, String change, long maxHeap) {
    return String.format("%s (%s; heap %.1f GiB, %s): raise the heap (CONVSPARK_MEMORY for "
        + "scripts/convspark, spark.executor.memory on a cluster)%s", MARK, what,
        maxHeap / (double) (1L << 30),
        e.getMessage() == null ? "java.lang.OutOfMemoryError" : e.getMessage(),
        change == null ? "" : " or use " + change);
  }

  /** An OutOfMemoryError in the cause chain of {@code t}, or null. */
  private static OutOfMemoryError oomIn(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof OutOfMemoryError oom) {
        return oom;
      }
    }
    return null;
  }

  /**
   * The line that says a task ran out of memory, from anywhere in {@code t}'s cause chain or
   * messages (a failed barrier stage carries the task's error as text only); null if none.
   */
  public static String in(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TaskOutOfMemoryException) {
        return c.getMessage();
      }
      String m = c.getMessage();
      int i = m == null ? -1 : m.indexOf(MARK);
      if (i >= 0) {
        int end = m.indexOf('\n', i);
        return m.substring(i, end < 0 ? m.length() : end).strip();
      }
    }
    return null;
  }
}
