package convspark.driver.config;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigIncludeContext;
import com.typesafe.config.ConfigIncluder;
import com.typesafe.config.ConfigIncluderFile;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import java.io.File;
import java.io.PrintStream;

/**
 * The default HOCON includer, plus one warning line for an include that was not found. HOCON
 * skips a missing {@code include "x"} or {@code include file("x")} silently (only {@code include
 * required(...)} is an error); this keeps that behaviour and says so on {@code warnings}, naming
 * the config file and the include. An include is first parsed as required; when that fails for
 * want of the file, it is parsed again as the default includer would, and the warning printed.
 * URL and classpath includes are left to the default includer, without a warning.
 */
final class WarningIncluder implements ConfigIncluder, ConfigIncluderFile {
  private final String file;
  private final PrintStream warnings;
  private final ConfigIncluder fallback;

  WarningIncluder(String file, PrintStream warnings, ConfigIncluder fallback) {
    this.file = file;
    this.warnings = warnings;
    this.fallback = fallback;
  }

  @Override
  public ConfigIncluder withFallback(ConfigIncluder next) {
    if (next == this || next == fallback) {
      return this;
    }
    return new WarningIncluder(file, warnings,
        fallback == null ? next : fallback.withFallback(next));
  }

  @Override
  public ConfigObject include(ConfigIncludeContext context, String what) {
    if (fallback == null) {
      return ConfigFactory.empty().root(); // not reached: the parser appends the default
    }
    return warnIfMissing(context, "\"" + what + "\"", c -> fallback.include(c, what));
  }

  @Override
  public ConfigObject includeFile(ConfigIncludeContext context, File what) {
    return warnIfMissing(context, "file(\"" + what + "\")", c -> fallback instanceof
        ConfigIncluderFile f ? f.includeFile(c, what)
        : ConfigFactory.parseFileAnySyntax(what, c.parseOptions()).root());
  }

  private interface Include {
    ConfigObject from(ConfigIncludeContext context);
  }

  private ConfigObject warnIfMissing(ConfigIncludeContext context, String what, Include inc) {
    ConfigParseOptions options = context.parseOptions();
    if (!options.getAllowMissing()) {
      return inc.from(context); // include required(...): the default error
    }
    try {
      return inc.from(context.setParseOptions(options.setAllowMissing(false)));
    } catch (ConfigException.IO e) {
      ConfigObject skipped = inc.from(context); // as HOCON says: skipped, or a later error
      warnings.println("convspark: WARNING: " + file + ": include " + what
          + " was not found (or could not be read) and is skipped; write include required(...)"
          + " to make that an error");
      return skipped;
    }
  }
}
