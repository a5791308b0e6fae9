package convspark.common.spec;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigIncludeContext;
import com.typesafe.config.ConfigIncluder;
import com.typesafe.config.ConfigIncluderClasspath;
import com.typesafe.config.ConfigIncluderFile;
import com.typesafe.config.ConfigIncluderURL;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import java.io.File;
import java.net.URL;

/**
 * Parses HOCON that came out of a file or a stream rather than from the user's own config: the
 * model spec a checkpoint, an exported safetensors file or a saved Spark ML model holds, and the
 * train block a checkpoint records. Such text is data: an {@code include} in it (of a file, a
 * URL or a class-path resource) is refused instead of being read, and a substitution resolves
 * only against the text itself, never against the environment, so a crafted file can neither
 * make the reader fetch a URL (which could hang it, an include's read having no timeout), read
 * another local file, nor copy an environment variable into an error message or an output.
 */
public final class StoredHocon {
  private StoredHocon() {}

  private static final ConfigParseOptions OPTIONS =
      ConfigParseOptions.defaults().setIncluder(new Refusing());

  /**
   * Parses and resolves {@code text}.
   *
   * @throws ConfigException if it is malformed, includes anything, or names a substitution it
   *     does not define
   */
  public static Config parse(String text) {
    return ConfigFactory.parseString(text, OPTIONS).resolve(ConfigResolveOptions.noSystem());
  }

  /** Refuses every form of include: quoted, file(), url() and classpath(). */
  private static final class Refusing implements ConfigIncluder, ConfigIncluderFile,
      ConfigIncluderURL, ConfigIncluderClasspath {
    @Override
    public ConfigIncluder withFallback(ConfigIncluder fallback) {
      return this; // the parser's default includer would read what this refuses
    }

    @Override
    public ConfigObject include(ConfigIncludeContext context, String what) {
      throw refused("\"" + what + "\"");
    }

    @Override
    public ConfigObject includeFile(ConfigIncludeContext context, File what) {
      throw refused("file(\"" + what + "\")");
    }

    @Override
    public ConfigObject includeURL(ConfigIncludeContext context, URL what) {
      throw refused("url(\"" + what + "\")");
    }

    @Override
    public ConfigObject includeResources(ConfigIncludeContext context, String what) {
      throw refused("classpath(\"" + what + "\")");
    }

    private static ConfigException refused(String what) {
      return new ConfigException.Generic("include " + what + " refused: a spec or setting "
          + "stored in a file may not include anything");
    }
  }
}
