package convspark.driver.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Options every command takes. */
public final class CommonOptions {
  @Option(names = "--config", paramLabel = "FILE", description = "HOCON config file.")
  String config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Override a config key (repeatable), e.g. --set train.epochs=3 for train, "
          + "--set data.test.images=FILE for evaluate.")
  List<String> set = new ArrayList<>();

  @Option(names = "--master", paramLabel = "URL",
      description = "Spark master (default: config key spark.conf.\"spark.master\", else "
          + "spark-submit's, else config key spark.master, local[*]).")
  String master;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;
}
