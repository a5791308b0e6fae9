package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.blas.BlasChoice;
import convspark.worker.TrainingFailedException;
import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The command line, and the main class given to {@code spark-submit}. Exit codes: 0 success, 2
 * bad input or config, 3 training failure (divergence, a failed Spark job, anything unexpected).
 */
@Command(name = "convspark", mixinStandardHelpOptions = true, version = Main.VERSION,
    description = "Data-parallel CNN training on Apache Spark.",
    subcommands = {TrainCommand.class, EvaluateCommand.class, PredictCommand.class,
        ExportCommand.class, ConfigCommand.class})
public final class Main implements Runnable {
  /** What {@code --version} prints, on the command line and on each command. */
  public static final String VERSION = "convspark 0.1.0";
  public static final int OK = 0;
  public static final int BAD_INPUT = 2;
  public static final int FAILED = 3;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this),
        "missing command: train, evaluate, predict, export or config");
  }

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    System.exit(code);
  }

  /** Runs a command line in this JVM and returns its exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
    Cli.quietTaskFailures(verbose);
    if (!BlasChoice.known()) {
      // the kernel would fall back to the bundled BLAS with a warning in its report line: the
      // user asked for something else. BlasChoice leaves the library unloaded, so its warning
      // does not come before this line
      err.println("convspark: error: " + BlasChoice.PROPERTY + " / " + BlasChoice.ENV + " = '"
          + BlasChoice.requested() + "': expected one of " + BlasChoice.CHOICES);
      return BAD_INPUT;
    }
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setParameterExceptionHandler((ex, a) -> {
      // picocli starts some of its messages (a missing group of options) with "Error: "
      err.println("convspark: error: " + unknownCommand(ex).orElse(
          oneLine(ex.getMessage()).replaceFirst("^(?i)error: *", "")) + suggestion(ex));
      return BAD_INPUT;
    });
    cl.setExecutionExceptionHandler((ex, commandLine, parsed) -> report(ex, verbose, err));
    // A SIGINT or SIGTERM runs the shutdown hooks, Spark's among them, which stops the context:
    // the command then fails, puts back what it must (an --overwrite's old run) and prints its
    // one line. The JVM halts as soon as the hooks are done, so this one waits for that, bounded.
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    Thread waitForTheCommand = new Thread(() -> {
      // (a caller that ran the command in-process with streams of its own keeps its logging)
      if (!verbose && err == System.err) {
        // Spark's components log their own shutdown races (rejected tasks, stopped endpoints)
        // with stack traces, through log4j and, from Scala's futures, straight to System.err:
        // the command's one line (to `err`, the stream it had) says what happened
        Cli.quietLogs();
        System.setErr(new PrintStream(java.io.OutputStream.nullOutputStream()));
      }
      try {
        if (!done.await(SHUTDOWN_WAIT_SECONDS, java.util.concurrent.TimeUnit.SECONDS)) {
          err.println("convspark: stopped by a signal; the command did not finish cleaning up "
              + "within " + SHUTDOWN_WAIT_SECONDS + " s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "convspark-shutdown");
    Runtime.getRuntime().addShutdownHook(waitForTheCommand);
    try {
      return cl.execute(args);
    } catch (Throwable t) { // Errors (out of memory, ...) that picocli lets through
      return report(t, verbose, err);
    } finally {
      err.flush();
      done.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(waitForTheCommand);
      } catch (IllegalStateException shuttingDown) {
        // the hook runs, and returns at once
      }
    }
  }

  /** How long a signal's shutdown waits for the command to clean up and say why it stopped. */
  static final int SHUTDOWN_WAIT_SECONDS = 20;

  /**
   * One line for any failure, and its exit code: 2 when the cause is bad input or configuration
   * (anywhere in the cause chain: Spark wraps executor-side ones), else 3.
   */
  static int report(Throwable ex, boolean verbose, PrintStream err) {
    if (verbose) {
      ex.printStackTrace(err);
    }
    Throwable bad = badInput(ex);
    if (bad != null) {
      err.println("convspark: error: " + oneLine(bad.getMessage()));
      return BAD_INPUT;
    }
    if (ex instanceof TrainingFailedException) {
      err.println("convspark: training failed: " + oneLine(ex.getMessage()));
      return FAILED;
    }
    err.println("convspark: failed: " + describe(ex) + (verbose ? "" : " (--verbose for details)"));
    return FAILED;
  }

  /**
   * The bad input behind {@code t}: a BadInputException anywhere in the cause chain, or a config
   * value of the wrong type found while parsing (Typesafe Config's ConfigException); else null.
   */
  static Throwable badInput(Throwable t) {
    BadInputException bad = BadInputException.in(t);
    if (bad != null) {
      return bad;
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof com.typesafe.config.ConfigException) {
        return new BadInputException("config: " + c.getMessage(), c);
      }
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      String m = String.valueOf(c.getMessage());
      for (String corrupt : CORRUPT_DATA_FILE) {
        if (m.contains(corrupt)) {
          return new BadInputException("a data file Spark cannot read: " + oneLine(m), c);
        }
      }
    }
    return null;
  }

  /**
   * What Spark's readers say of a data file whose content is broken (found on the executors,
   * in a Spark job's failure): bad input, not an environment's failure. Read errors of the file
   * system itself (FAILED_READ_FILE's other causes: a node or a network away) stay failures.
   */
  static final java.util.List<String> CORRUPT_DATA_FILE = java.util.List.of(
      "CANNOT_READ_FILE_FOOTER", "is not a Parquet file", "MALFORMED_RECORD_IN_PARSING",
      "Malformed records are detected in record parsing", "Malformed ORC file");

  /** {@code t} unchanged if unchecked, else wrapped (the handler above unwraps nothing). */
  static RuntimeException asRuntime(Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new java.io.UncheckedIOException(t.getMessage(),
        t instanceof java.io.IOException io ? io : new java.io.IOException(t));
  }

  /** A failure in one line: what it was, and for the usual environmental ones what to do. */
  static String describe(Throwable t) {
    // convspark's tasks turn their OutOfMemoryError into this line (in the cause chain, or only
    // in Spark's text of a failed barrier stage): it names the executor's heap, not the driver's
    String taskOom = convspark.driver.exec.TaskOutOfMemoryException.in(t);
    if (taskOom != null) {
      return taskOom;
    }
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof OutOfMemoryError) {
        return String.format("out of memory (Java heap %.1f GB): %s; raise the heap "
            + "(CONVSPARK_MEMORY, spark.driver.memory, spark.executor.memory) or use a smaller "
            + "model or batch", Runtime.getRuntime().maxMemory() / 1e9, c.getMessage());
      }
      String m = String.valueOf(c.getMessage());
      if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
        return "disk full: " + oneLine(m);
      }
    }
    if (t instanceof TrainingFailedException) {
      return oneLine(t.getMessage());
    }
    // Spark's job failures end their first line in a wrapper's words ("Exception thrown in
    // awaitResult:"): the innermost cause with a message says what went wrong
    return convspark.common.Causes.withInnermost(oneLine(t.toString()), t);
  }

  /**
   * What picocli would print under an unknown option or command on lines of its own ("Did you
   * mean: --resume?"), appended to the one line: " (did you mean --resume?)"; else nothing.
   */
  static String suggestion(CommandLine.ParameterException ex) {
    if (!(ex instanceof CommandLine.UnmatchedArgumentException u)) {
      return "";
    }
    if (u.getUnmatched().isEmpty() || u.getSuggestions() == null) {
      return "";
    }
    // picocli suggests anything that shares two letters with the word (start: export); only
    // near misses are kept, by the rule for config keys
    String typed = u.getUnmatched().get(0).split("=", 2)[0];
    java.util.List<String> s = u.getSuggestions().stream()
        .filter(c -> convspark.driver.config.KeySuggestion.close(typed, c)).limit(3).toList();
    return s.isEmpty() ? "" : " (did you mean " + String.join(" or ", s) + "?)";
  }

  /**
   * A first word that is no command ("trian"): picocli says "Unmatched arguments from index 0"
   * and lists the whole command line; this names the word and the commands.
   */
  static java.util.Optional<String> unknownCommand(CommandLine.ParameterException ex) {
    if (ex instanceof CommandLine.UnmatchedArgumentException u
        && u.getCommandLine().getParent() == null && !u.getUnmatched().isEmpty()
        && !u.getUnmatched().get(0).startsWith("-")) {
      return java.util.Optional.of("unknown command '" + oneLine(u.getUnmatched().get(0))
          + "': expected train, evaluate, predict, export or config");
    }
    return java.util.Optional.empty();
  }

  /** The first line of a message (Spark's carry stack traces after it). */
  static String oneLine(String s) {
    return convspark.common.Causes.firstLine(s);
  }
}
