package convspark.driver.cli;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.BadInputException;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.metrics.Json;
import convspark.driver.train.RunSummary;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code convspark config}: the config a command would run with (the defaults, the {@code
 * --config} file and its includes, the {@code --set} values, resolved and checked as {@code
 * train} checks them before it reads data: all but the heap's preflight; a config without a
 * model, as evaluate and predict take, has only its keys checked), printed
 * as JSON, which HOCON reads, with credentials redacted as in {@code summary.json}; or, with
 * {@code --defaults}, the shipped defaults file with its comments: what a user of the jar alone
 * has for the list of keys. Nothing else is read or started.
 */
@Command(name = "config", mixinStandardHelpOptions = true, version = Main.VERSION,
    description = "Print the effective config (defaults, --config, --set; checked, credentials "
        + "redacted) and exit; --defaults prints every key with its default and meaning.")
public final class ConfigCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE", description = "HOCON config file.")
  String config;

  @Option(names = "--set", paramLabel = "KEY=VALUE",
      description = "Override a config key (repeatable).")
  List<String> set = new ArrayList<>();

  @Option(names = "--defaults", description = "Print the defaults file, comments and all.")
  boolean defaults;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    java.io.PrintWriter out = spec.commandLine().getOut();
    if (defaults) {
      if (config != null || !set.isEmpty()) {
        throw new BadInputException("--defaults with --config or --set: --defaults prints the "
            + "built-in defaults alone; drop it to see what the file and values make of them");
      }
      out.print(Settings.defaultsText());
      out.flush();
      return Main.OK;
    }
    com.typesafe.config.Config loaded = Settings.load(config, set);
    if (loaded.getConfig("model").root().isEmpty()) {
      // evaluate and predict take a checkpoint's model when the config has none; the values'
      // checks need one (the input's channels, say)
      spec.commandLine().getErr().println("convspark: WARNING: the config has no model: printed "
          + "with its keys checked, not its values (train needs a model; evaluate and predict "
          + "take their checkpoint's)");
    } else {
      loaded = RunConfig.parse(loaded).raw();
    }
    JsonNode json = RunSummary.redacted(Json.MAPPER.readTree(Settings.renderJson(loaded)));
    out.println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(json));
    out.flush();
    return Main.OK;
  }
}
