package convspark.driver.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Loads a run's configuration: the defaults ({@code convspark-defaults.conf}, the one place each
 * default lives), the user's HOCON file, and {@code --set key=value} overrides, in that order of
 * increasing precedence. Unknown keys are errors naming the key and the file.
 */
public final class Settings {
  private Settings() {}

  private static final String DEFAULTS = "convspark-defaults.conf";

  /** The defaults file as shipped, comments and all: every key, its default and meaning. */
  public static String defaultsText() {
    try (java.io.InputStream in = Settings.class.getClassLoader().getResourceAsStream(DEFAULTS)) {
      if (in == null) {
        throw new IllegalStateException(DEFAULTS + " is missing from the class path");
      }
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** The defaults alone. */
  public static Config defaults() {
    return ConfigFactory.parseResources(Settings.class.getClassLoader(), DEFAULTS);
  }

  /**
   * Loads {@code file} (may be null: defaults and overrides only) with overrides; the result is
   * resolved and has every key. A missing optional include in the file is skipped, as HOCON
   * says, with a warning on stderr.
   */
  public static Config load(String file, List<String> overrides) {
    return load(file, overrides, System.err);
  }

  /** {@link #load(String, List)}, with warnings printed to {@code warnings}. */
  static Config load(String file, List<String> overrides, PrintStream warnings) {
    Config user = ConfigFactory.empty();
    String source = "--set";
    if (file != null) {
      File f = new File(file);
      if (f.isDirectory()) {
        throw new BadInputException(file + ": is a directory, expected a config file");
      }
      if (!f.isFile()) {
        throw new BadInputException(file + ": config file not found");
      }
      try {
        Utf8Text.check(f.toPath(), file);
      } catch (IOException e) {
        throw new BadInputException(file + ": cannot read the config file: " + e.getMessage());
      }
      try {
        // by its absolute path: includes are found beside the file even for a bare file name
        user = ConfigFactory.parseFile(f.getAbsoluteFile(), ConfigParseOptions.defaults()
            .setIncluder(new WarningIncluder(file, warnings, null)));
      } catch (ConfigException e) {
        // HOCON's message starts with the file (or the included file) and the line
        throw new BadInputException(e.origin() != null && e.origin().filename() != null
            ? oneLine(e.getMessage()) : file + ": " + oneLine(e.getMessage()));
      }
      user = flattenPassThrough(user, file);
      source = file;
    }
    Config sets = ConfigFactory.empty();
    for (String o : overrides) {
      int eq = o.indexOf('=');
      if (eq <= 0) {
        throw new BadInputException("--set " + o + ": expected key=value");
      }
      String key = o.substring(0, eq).trim();
      String value = o.substring(eq + 1).trim();
      Config one = parseSet(key, value);
      if (one == null) {
        try {
          one = ConfigFactory.empty().withValue(key, ConfigValueFactory.fromAnyRef(value));
        } catch (ConfigException e2) {
          throw new BadInputException("--set " + o + ": " + oneLine(e2.getMessage()));
        }
      }
      checkKnown(one, "--set");
      sets = flattenPassThrough(one, "--set").withFallback(sets);
    }
    checkKnown(user, source);
    Config merged = sets.withFallback(user);
    // a model given by the user replaces the (empty) default model wholesale
    Config resolved;
    try {
      resolved = merged.withFallback(defaults()).resolve();
    } catch (ConfigException e) {
      throw new BadInputException(source + ": " + oneLine(e.getMessage()));
    }
    checkShape(resolved, defaults().root(), "");
    return resolved;
  }

  /**
   * Refuses a section that the file or a --set replaced by something else than an object
   * ({@code data.normalize = given} for {@code data.normalize.mode = given}, {@code train.ring =
   * 5}), and a key set to null: each would fail later as HOCON's own message about a key the user
   * did not write (data.normalize.mode), without the key it was meant for.
   */
  private static void checkShape(Config c, ConfigObject defaults, String prefix) {
    for (Map.Entry<String, ConfigValue> e : defaults.entrySet()) {
      String path = prefix.isEmpty() ? quote(e.getKey()) : prefix + "." + quote(e.getKey());
      boolean section = e.getValue() instanceof ConfigObject;
      if (!c.hasPathOrNull(path) || c.getIsNull(path)) {
        throw new BadInputException("config key " + path + ": expected "
            + (section ? "an object { ... }" : "a value (default: "
            + e.getValue().render(ConfigRenderOptions.concise()) + ")") + ", found null");
      }
      if (!section) {
        continue;
      }
      ConfigValue v = c.getValue(path);
      if (v.valueType() != ConfigValueType.OBJECT) {
        java.util.Set<String> keys = ((ConfigObject) e.getValue()).keySet();
        String found = switch (v.valueType()) {
          case NUMBER, BOOLEAN -> v.render(ConfigRenderOptions.concise());
          case LIST -> "a list";
          default -> "a string"; // not named: it may hold a credential
        };
        throw new BadInputException("config key " + path + ": expected an object { ... }"
            + (keys.isEmpty() ? "" : " of the keys " + String.join(", ", new TreeSet<>(keys))
            + " (or one of them set as " + path + ".<key> = ...)") + ", found " + found);
      }
      if (!PASS_THROUGH.contains(path) && !path.equals("model")) {
        checkShape(c, (ConfigObject) e.getValue(), path);
      }
    }
  }

  /**
   * {@code key = value} parsed as HOCON (numbers, booleans, lists, objects, quoted strings,
   * substitutions), or null when the value is to be taken as the raw string: when it does not
   * parse (as {@code hdfs://host/path} often does not), when a comment would start in it
   * ({@code //} or {@code #} outside quotes: {@code /tmp/a//b}, {@code x.gz#v2}), or when it
   * parses to more than the one key (a comma or newline starting another field). A value is
   * never cut short.
   */
  static Config parseSet(String key, String value) {
    if (startsComment(value)) {
      return null;
    }
    Config one;
    try {
      one = ConfigFactory.parseString(key + " = " + value);
    } catch (ConfigException e) {
      return null;
    }
    // exactly the one path: a value that set other keys too was not one value
    List<String> path;
    try {
      path = ConfigUtil.splitPath(key);
    } catch (ConfigException e) {
      return null;
    }
    ConfigValue v = one.root();
    for (String k : path) {
      if (!(v instanceof ConfigObject o) || o.size() != 1 || !o.containsKey(k)) {
        return null;
      }
      v = o.get(k);
    }
    return one;
  }

  /** The objects whose properties are passed on as they are, by their full (dotted) names. */
  static final List<String> PASS_THROUGH = List.of("spark.conf", "data.dataframe.options");

  /**
   * {@code layer} (the file, or one --set) with each {@link #PASS_THROUGH} object flattened to
   * one level keyed by the properties' full names. {@code spark.conf { "spark.executor.memory" =
   * 4g }} and {@code spark.conf.spark.executor.memory = 4g} (unquoted, HOCON nests it: {@code
   * spark { executor { memory } }}) name the same Spark property, but merged as written they are
   * two keys, and which of them reached Spark was a matter of hash order: a --set in the one form
   * was lost to the file's value in the other. Flattened, the layers merge property by property.
   * The same property given twice in one layer with different values is an error. An object that
   * is not resolved yet (a substitution merged into it) is left as it is.
   */
  static Config flattenPassThrough(Config layer, String source) {
    for (String path : PASS_THROUGH) {
      ConfigValue v = layer.root();
      for (String k : ConfigUtil.splitPath(path)) {
        v = v instanceof ConfigObject o ? o.get(k) : null;
      }
      if (!(v instanceof ConfigObject o)) {
        continue;
      }
      Map<String, ConfigValue> flat = new LinkedHashMap<>();
      Map<String, String> written = new HashMap<>();
      try {
        flatten(o, List.of(), flat, written, path, source);
      } catch (ConfigException.NotResolved e) {
        continue;
      }
      layer = layer.withValue(path, ConfigValueFactory.fromMap(flat));
    }
    return layer;
  }

  private static void flatten(ConfigObject o, List<String> keys, Map<String, ConfigValue> flat,
      Map<String, String> written, String path, String source) {
    for (Map.Entry<String, ConfigValue> e : o.entrySet()) {
      List<String> at = new ArrayList<>(keys);
      at.add(e.getKey());
      if (e.getValue() instanceof ConfigObject inner) {
        flatten(inner, at, flat, written, path, source);
        continue;
      }
      String name = String.join(".", at);
      String as = path + "." + ConfigUtil.joinPath(at);
      ConfigValue before = flat.put(name, e.getValue());
      String asBefore = written.put(name, as);
      if (before != null && !sameValue(before, e.getValue())) {
        throw new BadInputException(source + ": " + asBefore + " and " + as + " both set '"
            + name + "', to different values; set it once");
      }
    }
  }

  private static boolean sameValue(ConfigValue a, ConfigValue b) {
    try {
      return java.util.Objects.equals(a.unwrapped(), b.unwrapped());
    } catch (ConfigException e) {
      return false; // not resolved yet: cannot tell
    }
  }

  /** Whether HOCON would read a comment in {@code s}: {@code //} or {@code #} outside quotes. */
  static boolean startsComment(String s) {
    int n = s.length();
    int i = 0;
    while (i < n) {
      char c = s.charAt(i);
      if (s.startsWith("\"\"\"", i)) { // """...""": no escapes; ends at the last of a run of "
        int end = s.indexOf("\"\"\"", i + 3);
        if (end < 0) {
          return false; // unterminated: does not parse, taken raw
        }
        while (end + 3 < n && s.charAt(end + 3) == '"') {
          end++;
        }
        i = end + 3;
      } else if (c == '"') {
        i++;
        while (i < n && s.charAt(i) != '"') {
          i += s.charAt(i) == '\\' ? 2 : 1;
        }
        i++;
      } else if (c == '#' || (c == '/' && i + 1 < n && s.charAt(i + 1) == '/')) {
        return true;
      } else {
        i++;
      }
    }
    return false;
  }

  /** Rejects keys that the defaults do not have (outside model and spark.conf). */
  static void checkKnown(Config user, String source) {
    Config defaults = defaults();
    List<String> unknown = new ArrayList<>();
    walk(user.root(), "", defaults, unknown);
    if (!unknown.isEmpty()) {
      throw new BadInputException(source + ": unknown config key '" + unknown.get(0) + "'"
          + KeySuggestion.of(unknown.get(0), defaults).map(k -> " (did you mean '" + k + "'?)")
              .orElse("")
          + (unknown.size() > 1 ? " (and " + (unknown.size() - 1) + " more)" : "")
          + "; `convspark config --defaults` prints every known key, its default and meaning "
          + "(the jar's " + DEFAULTS + ")");
    }
  }

  private static void walk(com.typesafe.config.ConfigObject obj, String prefix, Config defaults,
      List<String> unknown) {
    for (Map.Entry<String, ConfigValue> e : obj.entrySet()) {
      String path = prefix.isEmpty() ? quote(e.getKey()) : prefix + "." + quote(e.getKey());
      if (path.equals("model") || path.equals("spark.conf")
          || path.equals("data.dataframe.options")) {
        continue; // validated by the model parser / passed through to Spark
      }
      if (!defaults.hasPathOrNull(path)) {
        unknown.add(path);
        continue;
      }
      ConfigValue dv = defaults.getValue(path);
      // instanceof, not valueType(): an unresolved substitution (${...}) has no type yet
      if (e.getValue() instanceof ConfigObject o && dv instanceof ConfigObject) {
        walk(o, path, defaults, unknown);
      }
    }
  }

  private static String quote(String key) {
    return key.matches("[A-Za-z0-9_-]+") ? key : "\"" + key + "\"";
  }

  static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ');
  }

  /** The config rendered as JSON, for summaries and checkpoints. */
  public static String renderJson(Config c) {
    return c.root().render(ConfigRenderOptions.concise().setFormatted(true));
  }
}
