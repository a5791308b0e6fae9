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
        "org.apache.spark.scheduler.TaskSetManager",
        "org.apache.spark.util.SparkUncaughtExceptionHandler"}) {
      setLevel(logger, level);
    }
  }
}
