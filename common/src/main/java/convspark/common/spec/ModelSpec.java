package convspark.common.spec;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import convspark.common.nn.Activation;
import convspark.common.nn.Init;
import convspark.common.nn.Shape;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A network: the input shape and the ordered list of layers. Parsed from HOCON:
 *
 * <pre>
 * model {
 *   input { channels = 1, height = 28, width = 28 }
 *   layers = [
 *     { type = conv, filters = 32, kernel = 3, padding = 1 }
 *     { type = batchnorm }
 *     { type = relu }
 *     { type = maxpool, kernel = 2 }
 *     { type = flatten }
 *     { type = dense, units = 10 }
 *   ]
 * }
 * </pre>
 *
 * Every layer's keys are checked (unknown keys are errors) and shapes are inferred when the
 * spec is built; errors name the layer index, its type and the key. The last layer's output is
 * the class scores, so its size is the number of classes.
 */
public record ModelSpec(Shape input, List<LayerSpec> layers) implements Serializable {

  public ModelSpec {
    layers = List.copyOf(layers);
    if (layers.isEmpty()) {
      throw new BadInputException("model.layers: expected at least one layer, found none");
    }
    Shape s = input;
    for (int i = 0; i < layers.size(); i++) {
      LayerSpec l = layers.get(i);
      String why = l.check(s);
      if (why != null) {
        throw new BadInputException(
            "model.layers[" + i + "] (" + l.type() + "): " + why + " (input shape " + s + ")");
      }
      s = l.bind(s, i, 0, 0).outShape();
    }
    if (s.height() != 1 || s.width() != 1) {
      throw new BadInputException("model.layers: the last layer must output a vector of class "
          + "scores (e.g. a dense layer), but its output shape is " + s);
    }
    if (s.channels() < 2) {
      throw new BadInputException(
          "model.layers: the last layer must output at least 2 class scores, found " + s.channels());
    }
  }

  /** Number of classes: the size of the last layer's output. */
  public int classes() {
    Shape s = input;
    for (int i = 0; i < layers.size(); i++) {
      s = layers.get(i).bind(s, i, 0, 0).outShape();
    }
    return s.size();
  }

  // ---------------------------------------------------------------- parsing

  private static final Map<String, Set<String>> KEYS = new LinkedHashMap<>();

  static {
    KEYS.put("conv", Set.of("filters", "kernel", "stride", "padding", "bias", "init"));
    KEYS.put("dense", Set.of("units", "bias", "init"));
    KEYS.put("maxpool", Set.of("kernel", "stride", "padding"));
    KEYS.put("avgpool", Set.of("kernel", "stride"));
    KEYS.put("globalavgpool", Set.of());
    KEYS.put("batchnorm", Set.of("momentum", "epsilon"));
    KEYS.put("dropout", Set.of("rate"));
    KEYS.put("relu", Set.of());
    KEYS.put("sigmoid", Set.of());
    KEYS.put("tanh", Set.of());
    KEYS.put("flatten", Set.of());
  }

  /** Parses a HOCON string holding a {@code model { ... }} block or the block's content. */
  public static ModelSpec parse(String hocon) {
    Config c;
    try {
      c = ConfigFactory.parseString(hocon).resolve();
    } catch (ConfigException e) {
      throw new BadInputException("model spec: " + e.getMessage(), e);
    }
    return fromConfig(c.hasPath("model") ? c.getConfig("model") : c, "model");
  }

  /** Parses the model block {@code c}; {@code where} is its path, for error messages. */
  public static ModelSpec fromConfig(Config c, String where) {
    for (String k : c.root().keySet()) {
      if (!k.equals("input") && !k.equals("layers")) {
        throw new BadInputException(where + ": unknown key '" + k + "' (allowed: input, layers)");
      }
    }
    if (!c.hasPath("input")) {
      throw new BadInputException(where + ".input: missing (expected { channels, height, width })");
    }
    Shape input = parseInput(c, where + ".input");
    if (!c.hasPath("layers") || c.getValue("layers").valueType() != ConfigValueType.LIST) {
      throw new BadInputException(where + ".layers: missing or not a list of layers");
    }
    List<? extends Config> list;
    try {
      list = c.getConfigList("layers");
    } catch (ConfigException e) {
      throw new BadInputException(where + ".layers: every element must be an object { type = ... }");
    }
    List<LayerSpec> layers = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      layers.add(parseLayer(list.get(i), where + ".layers[" + i + "]"));
    }
    return new ModelSpec(input, layers);
  }

  private static Shape parseInput(Config c, String where) {
    ConfigValue v = c.getValue("input");
    if (v.valueType() == ConfigValueType.LIST) {
      List<Integer> dims = c.getIntList("input");
      if (dims.size() != 3) {
        throw new BadInputException(where + ": expected [channels, height, width], found " + dims);
      }
      return shape(where, dims.get(0), dims.get(1), dims.get(2));
    }
    Config in = c.getConfig("input");
    for (String k : in.root().keySet()) {
      if (!Set.of("channels", "height", "width").contains(k)) {
        throw new BadInputException(
            where + ": unknown key '" + k + "' (allowed: channels, height, width)");
      }
    }
    return shape(where, posInt(in, "channels", where, null), posInt(in, "height", where, null),
        posInt(in, "width", where, null));
  }

  private static Shape shape(String where, int c, int h, int w) {
    if (c <= 0 || h <= 0 || w <= 0) {
      throw new BadInputException(where + ": dimensions must be positive, found " + c + "x" + h
          + "x" + w);
    }
    return new Shape(c, h, w);
  }

  private static LayerSpec parseLayer(Config l, String where) {
    if (!l.hasPath("type")) {
      throw new BadInputException(where + ": missing key 'type' (one of " + KEYS.keySet() + ")");
    }
    String type = l.getString("type").toLowerCase();
    Set<String> allowed = KEYS.get(type);
    if (allowed == null) {
      throw new BadInputException(
          where + ": unknown layer type '" + type + "' (expected one of " + KEYS.keySet() + ")");
    }
    String at = where + " (" + type + ")";
    for (String k : l.root().keySet()) {
      if (!k.equals("type") && !allowed.contains(k)) {
        throw new BadInputException(at + ": unknown key '" + k + "' (allowed: "
            + new TreeSet<>(allowed) + ")");
      }
    }
    return switch (type) {
      case "conv" -> {
        int kernel = posInt(l, "kernel", at, null);
        yield new LayerSpec.Conv(posInt(l, "filters", at, null), kernel,
            posInt(l, "stride", at, 1), nonNegInt(l, "padding", at, 0), bool(l, "bias", at, true),
            init(l, at));
      }
      case "dense" -> new LayerSpec.Dense(posInt(l, "units", at, null), bool(l, "bias", at, true),
          init(l, at));
      case "maxpool" -> {
        int kernel = posInt(l, "kernel", at, null);
        yield new LayerSpec.MaxPool(kernel, posInt(l, "stride", at, kernel),
            nonNegInt(l, "padding", at, 0));
      }
      case "avgpool" -> {
        int kernel = posInt(l, "kernel", at, null);
        yield new LayerSpec.AvgPool(kernel, posInt(l, "stride", at, kernel));
      }
      case "globalavgpool" -> new LayerSpec.GlobalAvgPool();
      case "batchnorm" -> new LayerSpec.BatchNorm(
          fraction(l, "momentum", at, 0.1, false), positive(l, "epsilon", at, 1e-5));
      case "dropout" -> new LayerSpec.Dropout(fraction(l, "rate", at, 0.5, true));
      case "relu" -> new LayerSpec.Act(Activation.Kind.RELU);
      case "sigmoid" -> new LayerSpec.Act(Activation.Kind.SIGMOID);
      case "tanh" -> new LayerSpec.Act(Activation.Kind.TANH);
      case "flatten" -> new LayerSpec.FlattenSpec();
      default -> throw new AssertionError(type);
    };
  }

  private static int intValue(Config c, String key, String at) {
    try {
      return c.getInt(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException(at + ": key '" + key + "' must be an integer, found "
          + c.getValue(key).render(ConfigRenderOptions.concise()));
    }
  }

  private static int posInt(Config c, String key, String at, Integer dflt) {
    if (!c.hasPath(key)) {
      if (dflt == null) {
        throw new BadInputException(at + ": missing key '" + key + "' (a positive integer)");
      }
      return dflt;
    }
    int v = intValue(c, key, at);
    if (v <= 0) {
      throw new BadInputException(at + ": key '" + key + "' must be a positive integer, found "
          + v);
    }
    return v;
  }

  private static int nonNegInt(Config c, String key, String at, int dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    int v = intValue(c, key, at);
    if (v < 0) {
      throw new BadInputException(at + ": key '" + key + "' must be >= 0, found " + v);
    }
    return v;
  }

  private static double number(Config c, String key, String at) {
    try {
      return c.getDouble(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException(at + ": key '" + key + "' must be a number, found "
          + c.getValue(key).render(ConfigRenderOptions.concise()));
    }
  }

  private static double fraction(Config c, String key, String at, double dflt,
      boolean zeroOk) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    double v = number(c, key, at);
    if (!(v >= 0 && v < 1) || (!zeroOk && v == 0)) {
      throw new BadInputException(at + ": key '" + key + "' must be in " + (zeroOk ? "[0" : "(0")
          + ", 1), found " + v);
    }
    return v;
  }

  private static double positive(Config c, String key, String at, double dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    double v = number(c, key, at);
    if (!(v > 0)) {
      throw new BadInputException(at + ": key '" + key + "' must be > 0, found " + v);
    }
    return v;
  }

  private static boolean bool(Config c, String key, String at, boolean dflt) {
    if (!c.hasPath(key)) {
      return dflt;
    }
    try {
      return c.getBoolean(key);
    } catch (ConfigException.WrongType e) {
      throw new BadInputException(at + ": key '" + key + "' must be true or false");
    }
  }

  private static Init init(Config c, String at) {
    if (!c.hasPath("init")) {
      return Init.HE;
    }
    String v = c.getString("init");
    try {
      return Init.valueOf(v.toUpperCase());
    } catch (IllegalArgumentException e) {
      throw new BadInputException(at + ": key 'init' must be one of he, xavier, torch, found '"
          + v + "'");
    }
  }

  // ---------------------------------------------------------------- rendering

  /** This spec as a HOCON/JSON string that {@link #parse} reads back to an equal spec. */
  public String render() {
    Map<String, Object> in = new LinkedHashMap<>();
    in.put("channels", input.channels());
    in.put("height", input.height());
    in.put("width", input.width());
    List<Object> ls = new ArrayList<>();
    for (LayerSpec l : layers) {
      ls.add(l.toMap());
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("input", in);
    m.put("layers", ls);
    return ConfigValueFactory.fromMap(m).render(ConfigRenderOptions.concise());
  }
}
