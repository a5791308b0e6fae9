package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.worker.TrainingFailedException;
import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The command line, and the main class given to {@code spark-submit}. Exit codes: 0 success, 2
 * bad input or config, 3 training failure (divergence, a failed Spark job, anything unexpected).
 */
@Command(name = "convspark", mixinStandardHelpOptions = true, version = "convspark 0.1.0",
    description = "Data-parallel CNN training on Apache Spark.",
    subcommands = {TrainCommand.class, EvaluateCommand.class, PredictCommand.class,
        ExportCommand.class})
public final class Main implements Runnable {
  public static final int OK = 0;
  public static final int BAD_INPUT = 2;
  public static final int FAILED = 3;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this),
        "missing command: train, evaluate, predict or export");
  }

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    System.exit(code);
  }

  /** Runs a command line in this JVM and returns its exit code. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setParameterExceptionHandler((ex, a) -> {
      err.println("convspark: error: " + ex.getMessage());
      return BAD_INPUT;
    });
    cl.setExecutionExceptionHandler((ex, commandLine, parsed) -> {
      boolean verbose = parsed.hasMatchedOption("--verbose");
      Throwable cause = rootBadInput(ex);
      if (verbose) {
        ex.printStackTrace(err);
      }
      if (cause instanceof BadInputException) {
        err.println("convspark: error: " + cause.getMessage());
        return BAD_INPUT;
      }
      if (ex instanceof TrainingFailedException) {
        err.println("convspark: training failed: " + ex.getMessage().replace('\n', ' '));
        return FAILED;
      }
      err.println("convspark: failed: " + ex + (verbose ? "" : " (--verbose for details)"));
      return FAILED;
    });
    return cl.execute(args);
  }

  /** A BadInputException anywhere in the cause chain (Spark wraps executor-side ones). */
  private static Throwable rootBadInput(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof BadInputException) {
        return c;
      }
    }
    return t;
  }
}
