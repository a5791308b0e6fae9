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
    try {
      return SparkSessions.start(cfg.spark(), master);
    } catch (BadInputException e) {
      throw e; // already one line naming the master (no executor came)
    } catch (Exception e) { // SparkException is checked, but Scala throws it anyway
      String from = master != null ? "--master " + master
          : "config key spark.master (" + cfg.spark().master() + ") or spark-submit's master";
      String m = e.getMessage() == null ? e.toString() : e.getMessage();
      int nl = m.indexOf('\n');
      throw new BadInputException("Spark could not start with " + from + ": "
          + (nl < 0 ? m : m.substring(0, nl)) + "; see config keys spark.*", e);
    }
  }

  /**
   * Spark logs a failed task with its executor's stack trace (Executor, TaskSetManager) before
   * the job fails and the command prints its one-line message; those go unless --verbose.
   */
  static void quietTaskFailures(boolean verbose) {
    Level level = verbose ? Level.WARN : Level.OFF;
    try {
      for (String logger : new String[] {"org.apache.spark.executor.Executor",
          "org.apache.spark.scheduler.TaskSetManager",
          "org.apache.spark.util.SparkUncaughtExceptionHandler"}) {
        Configurator.setLevel(logger, level);
      }
    } catch (LinkageError | RuntimeException e) {
      // another logging backend (a cluster's own): its configuration decides
    }
  }
}
