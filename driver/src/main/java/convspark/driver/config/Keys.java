package convspark.driver.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import convspark.common.BadInputException;
import java.util.List;
import java.util.Locale;

/** Typed, validated reads of config keys; every error names the key and what was expected. */
final class Keys {
  private final Config c;

  Keys(Config c) {
    this.c = c;
  }

  private String found(String key) {
    return c.getValue(key).render(ConfigRenderOptions.concise());
  }

  String string(String key) {
    try {
      return c.getString(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException("config key " + key + ": expected a string, found " + found(key));
    }
  }

  double number(String key) {
    try {
      double v = c.getDouble(key);
      if (!Double.isFinite(v)) {
        throw new BadInputException("config key " + key + ": expected a finite number, found " + v);
      }
      return v;
    } catch (ConfigException.WrongType e) {
      throw new BadInputException("config key " + key + ": expected a number, found "
          + found(key));
    }
  }

  long integer(String key) {
    try {
      return c.getLong(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException("config key " + key + ": expected an integer, found "
          + found(key));
    }
  }

  boolean bool(String key) {
    try {
      return c.getBoolean(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException("config key " + key + ": expected true or false, found "
          + found(key));
    }
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
    try {
      List<Double> l = c.getDoubleList(key);
      float[] a = new float[l.size()];
      for (int i = 0; i < a.length; i++) {
        a[i] = l.get(i).floatValue();
      }
      return a;
    } catch (ConfigException.WrongType e) {
      throw new BadInputException("config key " + key + ": expected a list of numbers, found "
          + found(key));
    }
  }
}
