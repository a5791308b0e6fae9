package convspark.driver.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import convspark.common.BadInputException;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/** Typed, validated reads of config keys; every error names the key and what was expected. */
final class Keys {
  private final Config c;

  Keys(Config c) {
    this.c = c;
  }

  private String found(String key) {
    return c.getValue(key).render(ConfigRenderOptions.concise());
  }

  /** Reads {@code key} with {@code get}; a value of the wrong type is bad input. */
  private <T> T typed(String key, Function<String, T> get, String expected) {
    try {
      return get.apply(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException("config key " + key + ": expected " + expected + ", found "
          + found(key));
    }
  }

  String string(String key) {
    return typed(key, c::getString, "a string");
  }

  double number(String key) {
    double v = typed(key, c::getDouble, "a number");
    if (!Double.isFinite(v)) {
      throw new BadInputException("config key " + key + ": expected a finite number, found " + v);
    }
    return v;
  }

  long integer(String key) {
    Number n = typed(key, c::getNumber, "an integer");
    // HOCON's getLong truncates 1.5 to 1 silently; an integer key takes integers only
    if (!(n instanceof Integer || n instanceof Long)) {
      double v = n.doubleValue();
      if (v != Math.rint(v) || Math.abs(v) >= 0x1p63) {
        throw new BadInputException("config key " + key + ": expected an integer, found "
            + found(key));
      }
      return (long) v;
    }
    return n.longValue();
  }

  boolean bool(String key) {
    return typed(key, c::getBoolean, "true or false");
  }

  int positiveInt(String key) {
    long v = integer(key);
    if (v <= 0 || v > Integer.MAX_VALUE) {
      throw new BadInputException("config key " + key + ": expected a positive integer, found "
          + v);
    }
    return (int) v;
  }

  int nonNegativeInt(String key) {
    long v = integer(key);
    if (v < 0 || v > Integer.MAX_VALUE) {
      throw new BadInputException("config key " + key + ": expected an integer >= 0, found " + v);
    }
    return (int) v;
  }

  /** An integer in [0, max]. */
  int intAtMost(String key, int max) {
    long v = integer(key);
    if (v < 0 || v > max) {
      throw new BadInputException("config key " + key + ": expected an integer in [0, " + max
          + "], found " + v);
    }
    return (int) v;
  }

  double positive(String key) {
    double v = number(key);
    if (!(v > 0)) {
      throw new BadInputException("config key " + key + ": expected a number > 0, found " + v);
    }
    return v;
  }

  double nonNegative(String key) {
    double v = number(key);
    if (!(v >= 0)) {
      throw new BadInputException("config key " + key + ": expected a number >= 0, found " + v);
    }
    return v;
  }

  double fraction(String key) {
    double v = number(key);
    if (!(v >= 0 && v < 1)) {
      throw new BadInputException("config key " + key + ": expected a number in [0, 1), found "
          + v);
    }
    return v;
  }

  <E extends Enum<E>> E choice(String key, Class<E> type) {
    String v = string(key);
    try {
      return Enum.valueOf(type, v.toUpperCase(Locale.ROOT).replace('-', '_'));
    } catch (IllegalArgumentException e) {
      StringBuilder allowed = new StringBuilder();
      for (E x : type.getEnumConstants()) {
        allowed.append(allowed.length() == 0 ? "" : ", ")
            .append(x.name().toLowerCase(Locale.ROOT).replace('_', '-'));
      }
      throw new BadInputException("config key " + key + ": expected one of " + allowed
          + ", found '" + v + "'");
    }
  }

  float[] floats(String key) {
    List<Double> l = typed(key, c::getDoubleList, "a list of numbers");
    float[] a = new float[l.size()];
    for (int i = 0; i < a.length; i++) {
      a[i] = l.get(i).floatValue();
    }
    return a;
  }
}
