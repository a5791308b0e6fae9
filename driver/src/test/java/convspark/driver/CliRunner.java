package convspark.driver;

import convspark.driver.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs a convspark command line in this JVM, capturing its exit code, stdout and stderr. */
public final class CliRunner {
  private CliRunner() {}

  /** What a command returned and printed. */
  public record Run(int code, String out, String err) {}

  public static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out;
    PrintStream po = new PrintStream(out, true, StandardCharsets.UTF_8);
    System.setOut(po);
    int code;
    try {
      code = Main.run(args, po, new PrintStream(err, true, StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
    }
    return new Run(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }
}
