package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.driver.config.RunConfig;
import convspark.driver.train.SparkSessions;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.sql.SparkSession;

/** What every command does the same way: start Spark, keep the console to one-line errors. */
final class Cli {
  private Cli() {}

  /**
   * Starts Spark; a master URL or Spark setting it cannot start with is bad configuration (exit
   * 2) naming where the master came from.
   */
  static SparkSession startSpark(RunConfig cfg, String master) {
    // a context that cannot start logs "Error initializing SparkContext" with its stack trace
    // (and a warning about the metrics system it did not start) before the one line below says
    // why: only with --verbose
    Level before = verbose ? null : setLevel(SPARK_CONTEXT, Level.OFF);
    Level metricsBefore = verbose ? null : setLevel(METRICS, Level.OFF);
    try {
      return SparkSessions.start(cfg.spark(), master);
    } catch (BadInputException e) {
      throw e; // already one line naming the master (no executor came)
    } catch (Exception e) { // SparkException is checked, but Scala throws it anyway
      String from = SparkSessions.masterSource(cfg.spark(), master);
      String m = e.getMessage() == null ? e.toString() : e.getMessage();
      int nl = m.indexOf('\n');
      throw new BadInputException("Spark could not start with " + from + ": "
          + (nl < 0 ? m : m.substring(0, nl)) + "; see config keys spark.*", e);
    } finally {
      if (before != null) {
        setLevel(SPARK_CONTEXT, before);
      }
      if (metricsBefore != null) {
        setLevel(METRICS, metricsBefore);
      }
    }
  }

  /** Turns every log4j logger off (a signal's shutdown; not with --verbose). */
  static void quietLogs() {
    try {
      Configurator.setAllLevels(org.apache.logging.log4j.LogManager.ROOT_LOGGER_NAME, Level.OFF);
    } catch (LinkageError | RuntimeException e) {
      // another logging backend: its configuration decides
    }
  }

  private static final String SPARK_CONTEXT = "org.apache.spark.SparkContext";
  private static final String METRICS = "org.apache.spark.metrics.MetricsSystem";
  /** --verbose: every log line of Spark's stays (see {@link #quietTaskFailures}). */
  private static volatile boolean verbose;

  /** Sets a log4j logger's level; returns the one it had, or null where log4j is not in charge. */
  private static Level setLevel(String logger, Level level) {
    try {
      Level had = org.apache.logging.log4j.LogManager.getLogger(logger).getLevel();
      Configurator.setLevel(logger, level);
      return had;
    } catch (LinkageError | RuntimeException e) {
      return null; // another logging backend (a cluster's own): its configuration decides
    }
  }

  /**
   * Spark logs a failed task with its executor's stack trace (Executor, TaskSetManager) before
   * the job fails and the command prints its one-line message; those go unless --verbose.
   */
  static void quietTaskFailures(boolean verbose) {
    Cli.verbose = verbose;
    Level level = verbose ? Level.WARN : Level.OFF;
    for (String logger : new String[] {"org.apache.spark.executor.Executor",
        "org.apache.spark.scheduler.TaskSetManager"}) {
      setLevel(logger, level);
    }
    // Spark's executor ends the JVM for a fatal error in a task (exit 52 for out of memory),
    // logging it here first: recorded, for the command's one line, and shown with --verbose
    setLevel(FATAL_LOGGER, verbose ? Level.WARN : Level.ERROR);
    recordFatalErrors();
    // loggers whose other lines users need (Utils: "Your hostname ... resolves to a loopback
    // address"; BlockManager's other warnings): only their lines about a failed task go
    for (String[] f : TASK_FAILURE_LINES) {
      denyLines(f[0], f[1], !verbose);
    }
  }

  /**
   * What else Spark logs when a task fails on a bad row, before the command's one line (the
   * same names in Spark 3.5 and 4): a task that fails while writing (predict's output) logs
   * "Aborting task" with its stack trace (Utils.tryWithSafeFinallyAndFailureCallbacks), and the
   * write "Aborting job ..." and "Job ... aborted." (FileFormatWriter; Spark 4 also "Job: ...,
   * Task: ..., Task attempt ... aborted." for each task), and sometimes, as the
   * aborted task's attempt directory was never made, Hadoop's "Could not delete .../_temporary/
   * .../attempt_..." (FileOutputCommitter.abortTask), or, from a sibling task cancelled in a
   * shell command, Hadoop's "Interrupted while joining on: Thread[...]", or, in Spark 4, from
   * one cancelled while an expression compiled, "Expr codegen error and falling back to
   * interpreter mode" (the expression is interpreted instead, with the same result); a cached
   * block whose
   * computation fails (train's and evaluate's packed rows), "Putting block rdd_N_M failed due to
   * exception ..." and, as the failed put cleans up, "Block rdd_N_M could not be removed as it
   * was not found on disk or in memory" (harmless whenever it comes, as the "Asked to remove
   * block" that log4j2.properties drops). Logger name, then the regular expression of the whole
   * message.
   */
  private static final String CODEGEN_FALLBACK =
      "Expr codegen error and falling back to interpreter mode";

  static final String[][] TASK_FAILURE_LINES = {
      {"org.apache.spark.util.Utils", "Aborting task"},
      {"org.apache.spark.sql.execution.datasources.FileFormatWriter",
          "Aborting job .*|Job .* aborted\\.|Job: .*, Task: .*, Task attempt .* aborted\\."},
      {"org.apache.hadoop.mapreduce.lib.output.FileOutputCommitter", "Could not delete .*"},
      // a sibling task Spark cancels while it sets a file's permissions through a shell
      {"org.apache.hadoop.util.Shell", "Interrupted while joining on: .*"},
      {"org.apache.spark.storage.BlockManager", "Putting block .* failed due to exception .*"
          + "|Block .* could not be removed as it was not found on disk or in memory"},
      // Spark 4: a sibling task cancelled while Janino compiles an expression, its class lookup
      // through the ExecutorClassLoader interrupted (ClosedByInterruptException); Spark falls
      // back to interpreting the expression, with the same result
      {"org.apache.spark.sql.catalyst.expressions.UnsafeProjection", CODEGEN_FALLBACK},
      {"org.apache.spark.sql.catalyst.expressions.SafeProjection", CODEGEN_FALLBACK},
      {"org.apache.spark.sql.catalyst.expressions.MutableProjection", CODEGEN_FALLBACK},
      {"org.apache.spark.sql.catalyst.expressions.Predicate", CODEGEN_FALLBACK},
  };

  private static final String FATAL_LOGGER = "org.apache.spark.util.SparkUncaughtExceptionHandler";

  /** The error Spark's executor logged before it ended the JVM; null while none came. */
  private static volatile Throwable fatal;

  /**
   * Where Spark's executor is ending the JVM for an out-of-memory error in a task (one outside
   * convspark's task code, which turns its own into an exception), a line that says so, naming
   * the heap and what to change; else null (a signal, say). The JVM exits with 52 then.
   */
  static String fatalOutOfMemory() {
    Throwable t = fatal;
    if (!(t instanceof OutOfMemoryError)) {
      return null;
    }
    return String.format("Spark ended the JVM (exit 52) after an out-of-memory error in a task "
        + "(heap %.1f GiB, %s): raise the heap (CONVSPARK_MEMORY for scripts/convspark, "
        + "spark.executor.memory on a cluster) or use a smaller train.global-batch, "
        + "train.eval-batch or predict.inference-batch", Runtime.getRuntime().maxMemory()
        / (double) (1L << 30), t.getMessage());
  }

  /** Forgets a recorded fatal error (tests). */
  static void forgetFatal() {
    fatal = null;
  }

  /** Records what Spark logs before it ends the JVM, and drops the line unless --verbose. */
  private static synchronized void recordFatalErrors() {
    if (DENIED.containsKey(FATAL_LOGGER)) {
      return;
    }
    try {
      org.apache.logging.log4j.core.LoggerContext ctx =
          (org.apache.logging.log4j.core.LoggerContext)
              org.apache.logging.log4j.LogManager.getContext(false);
      org.apache.logging.log4j.core.config.LoggerConfig lc =
          ctx.getConfiguration().getLoggerConfig(FATAL_LOGGER);
      org.apache.logging.log4j.core.Filter f =
          new org.apache.logging.log4j.core.filter.AbstractFilter() {
            @Override
            public Result filter(org.apache.logging.log4j.core.LogEvent event) {
              if (event.getThrown() != null) {
                fatal = event.getThrown();
              }
              return verbose ? Result.NEUTRAL : Result.DENY;
            }
          };
      f.start();
      lc.addFilter(f); // the level set above gave the logger a config of its own
      DENIED.put(FATAL_LOGGER, f);
      ctx.updateLoggers();
    } catch (LinkageError | RuntimeException e) {
      // another logging backend (a cluster's own): its configuration decides
    }
  }

  /** The filters {@link #denyLines} added, by logger, so that a second call adds none. */
  private static final java.util.Map<String, org.apache.logging.log4j.core.Filter> DENIED =
      new java.util.HashMap<>();

  /**
   * Drops (when {@code deny}) or lets through again the lines of {@code logger} whose whole
   * message matches {@code regex}; its other lines, and their level, stay as configured.
   */
  private static synchronized void denyLines(String logger, String regex, boolean deny) {
    try {
      org.apache.logging.log4j.core.LoggerContext ctx =
          (org.apache.logging.log4j.core.LoggerContext)
              org.apache.logging.log4j.LogManager.getContext(false);
      org.apache.logging.log4j.core.config.Configuration config = ctx.getConfiguration();
      org.apache.logging.log4j.core.config.LoggerConfig lc = config.getLoggerConfig(logger);
      org.apache.logging.log4j.core.Filter had = DENIED.remove(logger);
      if (had != null && lc.getName().equals(logger)) {
        lc.removeFilter(had);
      }
      if (deny) {
        if (!lc.getName().equals(logger)) {
          // a config of its own, with the level and appenders it inherited (null: the parent's)
          lc = new org.apache.logging.log4j.core.config.LoggerConfig(logger, null, true);
          config.addLogger(logger, lc);
        }
        org.apache.logging.log4j.core.Filter f =
            org.apache.logging.log4j.core.filter.RegexFilter.createFilter(regex,
                new String[] {"DOTALL"}, false, org.apache.logging.log4j.core.Filter.Result.DENY,
                org.apache.logging.log4j.core.Filter.Result.NEUTRAL);
        lc.addFilter(f);
        DENIED.put(logger, f);
      }
      ctx.updateLoggers();
    } catch (LinkageError | RuntimeException | IllegalAccessException e) {
      // another logging backend (a cluster's own): its configuration decides
    }
  }
}
