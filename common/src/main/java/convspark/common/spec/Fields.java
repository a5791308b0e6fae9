package convspark.common.spec;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The keys of one config object (a layer, the input block) read with validation: every error is
 * a {@link BadInputException} that starts with {@code at} (e.g. {@code model.layers[0] (conv)})
 * and names the key, what was expected and what was found. Each default is passed by the layer
 * spec that owns it.
 */
final class Fields {
  private final Config c;
  private final String path;
  private final String at;

  /** {@code path}: the object's config path (model.layers[3]); {@code at}: how errors name it. */
  Fields(Config c, String path, String at) {
    this.c = c;
    this.path = path;
    this.at = at;
  }

  Fields(Config c, String path) {
    this(c, path, path);
  }

  String at() {
    return at;
  }

  boolean has(String key) {
    return c.hasPath(key);
  }

  /** Fails on the first key outside {@code allowed} (and {@code type}). */
  void onlyKeys(Set<String> allowed) {
    for (String k : c.root().keySet()) {
      if (!k.equals("type") && !allowed.contains(k)) {
        throw new BadInputException(at + ": unknown key '" + k + "' (allowed: "
            + new TreeSet<>(allowed) + ")");
      }
    }
  }

  private int intValue(String key) {
    double v;
    try {
      v = c.getNumber(key).doubleValue();
    } catch (ConfigException.WrongType e) {
      v = Double.NaN;
    }
    // 2.5 is not an integer: HOCON's getInt would truncate it silently
    if (v != Math.rint(v) || Math.abs(v) > Integer.MAX_VALUE) {
      throw new BadInputException(at + ": key '" + key + "' must be an integer, found "
          + c.getValue(key).render(ConfigRenderOptions.concise())
          + (c.getValue(key).valueType() == ConfigValueType.LIST
          ? " (one number, the same for height and width)" : ""));
    }
    return (int) v;
  }

  /** A positive integer; {@code dflt} null means the key is required. */
  int posInt(String key, Integer dflt) {
    if (!c.hasPath(key)) {
      if (dflt == null) {
        throw new BadInputException(at + ": missing key '" + key + "' (a positive integer)");
      }
      return dflt;
    }
    int v = intValue(key);
    if (v <= 0) {
      throw new BadInputException(at + ": key '" + key + "' must be a positive integer, found "
          + v);
    }
    return v;
  }

  int nonNegInt(String key, int dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    int v = intValue(key);
    if (v < 0) {
      throw new BadInputException(at + ": key '" + key + "' must be >= 0, found " + v);
    }
    return v;
  }

  private double number(String key) {
    try {
      return c.getDouble(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException(at + ": key '" + key + "' must be a number, found "
          + c.getValue(key).render(ConfigRenderOptions.concise()));
    }
  }

  /** A number in [0, 1) when {@code zeroOk}, else in (0, 1). */
  double fraction(String key, double dflt, boolean zeroOk) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    double v = number(key);
    if (!(v >= 0 && v < 1) || (!zeroOk && v == 0)) {
      throw new BadInputException(at + ": key '" + key + "' must be in " + (zeroOk ? "[0" : "(0")
          + ", 1), found " + v);
    }
    return v;
  }

  double positive(String key, double dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    double v = number(key);
    if (!(v > 0) || Double.isInfinite(v)) {
      throw new BadInputException(at + ": key '" + key + "' must be a finite number > 0, found "
          + v);
    }
    return v;
  }

  boolean bool(String key, boolean dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    try {
      return c.getBoolean(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException(at + ": key '" + key + "' must be true or false");
    }
  }

  String string(String key, String dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    if (c.getValue(key).valueType() != ConfigValueType.STRING) {
      throw new BadInputException(at + ": key '" + key + "' must be a string, found "
          + c.getValue(key).render(ConfigRenderOptions.concise()));
    }
    return c.getString(key);
  }

  Init init() {
    String v = string("init", "he");
    try {
      return Init.valueOf(v.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new BadInputException(at + ": key 'init' must be one of he, xavier, torch, found '"
          + v + "'");
    }
  }

  /**
   * A list of layer objects under {@code key}, parsed with {@link LayerSpec#parse}; each
   * element's errors name {@code path.key[i]}. Absent: {@code whenAbsent} (null: required).
   */
  List<LayerSpec> layers(String key, List<LayerSpec> whenAbsent) {
    String where = path + "." + key;
    if (!c.hasPath(key)) {
      if (whenAbsent == null) {
        throw new BadInputException(where + ": missing (expected a list of layers)");
      }
      return whenAbsent;
    }
    if (c.getValue(key).valueType() != ConfigValueType.LIST) {
      throw new BadInputException(where + ": expected a list of layers [ { type = ... }, ... ], "
          + "found " + c.getValue(key).render(ConfigRenderOptions.concise()));
    }
    List<? extends Config> list;
    try {
      list = c.getConfigList(key);
    } catch (ConfigException e) {
      throw new BadInputException(where + ": every element must be an object { type = ... }");
    }
    List<LayerSpec> out = new java.util.ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      out.add(LayerSpec.parse(list.get(i), where + "[" + i + "]"));
    }
    return out;
  }
}
