package convspark.driver.config;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigIncludeContext;
import com.typesafe.config.ConfigIncluder;
import com.typesafe.config.ConfigIncluderFile;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigParseable;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The default HOCON includer, plus one warning line for an include that was not found. HOCON
 * skips a missing {@code include "x"} or {@code include file("x")} silently (only {@code include
 * required(...)} is an error); this keeps that behaviour and says so on {@code warnings}, naming
 * the config file and the include. An include is first parsed as required; when that fails for
 * want of the file, it is parsed again as the default includer would, and the warning printed.
 * URL and classpath includes are left to the default includer, without a warning. A missing
 * include inside an included file is named with that file: the includes being parsed are kept on
 * a stack (the parser calls back into this includer, on the same thread, for nested includes).
 */
final class WarningIncluder implements ConfigIncluder, ConfigIncluderFile {
  private final String file;
  private final PrintStream warnings;
  private final ConfigIncluder fallback;
  /** The files being included, innermost last: shared by the copies withFallback makes. */
  private final Deque<String> including;

  WarningIncluder(String file, PrintStream warnings, ConfigIncluder fallback) {
    this(file, warnings, fallback, new ArrayDeque<>());
  }

  private WarningIncluder(String file, PrintStream warnings, ConfigIncluder fallback,
      Deque<String> including) {
    this.file = file;
    this.warnings = warnings;
    this.fallback = fallback;
    this.including = including;
  }

  @Override
  public ConfigIncluder withFallback(ConfigIncluder next) {
    if (next == this || next == fallback) {
      return this;
    }
    return new WarningIncluder(file, warnings,
        fallback == null ? next : fallback.withFallback(next), including);
  }

  @Override
  public ConfigObject include(ConfigIncludeContext context, String what) {
    if (fallback == null) {
      return ConfigFactory.empty().root(); // not reached: the parser appends the default
    }
    ConfigParseable p = context.relativeTo(what);
    if (p != null && p.origin().filename() != null) {
      File f = new File(p.origin().filename());
      checkUtf8(f.isFile() ? f : new File(f.getPath() + ".conf")); // include "x" reads x.conf
    }
    return warnIfMissing(context, "\"" + what + "\"", describe(context, what),
        c -> fallback.include(c, what));
  }

  @Override
  public ConfigObject includeFile(ConfigIncludeContext context, File what) {
    checkUtf8(what);
    return warnIfMissing(context, "file(\"" + what + "\")", what.getPath(), c -> fallback instanceof
        ConfigIncluderFile f ? f.includeFile(c, what)
        : ConfigFactory.parseFileAnySyntax(what, c.parseOptions()).root());
  }

  /** An included file that exists must be UTF-8 (a missing one is the parser's to report). */
  private static void checkUtf8(File f) {
    if (f.isFile()) {
      try {
        Utf8Text.check(f.toPath(), f.getPath());
      } catch (IOException e) {
        // unreadable: the parser names it, or skips it with a warning, as for a missing include
      }
    }
  }

  private interface Include {
    ConfigObject from(ConfigIncludeContext context);
  }

  /** The name of the file an include names, resolved as the parser resolves it where it can. */
  private static String describe(ConfigIncludeContext context, String what) {
    ConfigParseable p = context.relativeTo(what);
    return p == null ? what : p.origin().description();
  }

  private ConfigObject warnIfMissing(ConfigIncludeContext context, String what, String name,
      Include inc) {
    String in = including.isEmpty() ? file : including.peekLast();
    including.addLast(name);
    try {
      return parse(context, what, in, inc);
    } finally {
      including.removeLast();
    }
  }

  private ConfigObject parse(ConfigIncludeContext context, String what, String in, Include inc) {
    ConfigParseOptions options = context.parseOptions();
    if (!options.getAllowMissing()) {
      return inc.from(context); // include required(...): the default error
    }
    try {
      return inc.from(context.setParseOptions(options.setAllowMissing(false)));
    } catch (ConfigException.IO e) {
      ConfigObject skipped = inc.from(context); // as HOCON says: skipped, or a later error
      warnings.println("convspark: WARNING: " + in + ": include " + what
          + " was not found (or could not be read) and is skipped; write include required(...)"
          + " to make that an error");
      return skipped;
    }
  }
}
