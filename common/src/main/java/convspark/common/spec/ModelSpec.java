package convspark.common.spec;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToIntBiFunction;

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
 *     { type = residual, layers = [ ... ], shortcut = [ ... ] }   # see LayerSpec.Residual
 *     { type = flatten }
 *     { type = dense, units = 10 }
 *   ]
 * }
 * </pre>
 *
 * Every layer's keys are checked (unknown keys are errors) and shapes are inferred when the
 * spec is built; errors name the layer index, its type and the key (inside a residual block:
 * the block, then the inner layer, e.g. {@code model.layers[4] (residual): shortcut[0] (conv):
 * ...}). Each layer type's keys, defaults, parsing and output shape live in its {@link
 * LayerSpec} record; runtime layers are built from specs in {@code convspark.common.nn}. The last layer's output is
 * the class scores, so its size is the number of classes.
 */
public record ModelSpec(Shape input, List<LayerSpec> layers) implements Serializable {

  public ModelSpec {
    layers = List.copyOf(layers);
    if (layers.isEmpty()) {
      throw new BadInputException("model.layers: expected at least one layer, found none");
    }
    Shape s = input;
    int params = 0;
    int states = 0;
    for (int i = 0; i < layers.size(); i++) {
      LayerSpec l = layers.get(i);
      int p;
      int st;
      try {
        String why = l.check(s);
        if (why != null) {
          throw new BadInputException(
              "model.layers[" + i + "] (" + l.type() + "): " + why + " (input shape " + s + ")");
        }
        p = l.paramCount(s);
        st = l.stateCount(s);
        s = l.outShape(s);
      } catch (ArithmeticException | IllegalArgumentException e) {
        // int overflow: the layer's parameters or its output are more than an array can hold
        throw new BadInputException("model.layers[" + i + "] (" + l.type() + "): "
            + (e instanceof ArithmeticException ? "too large, more than " + Integer.MAX_VALUE
                + " parameters" : e.getMessage()) + " (input shape " + s + ")");
      }
      try {
        params = Math.addExact(params, p);
        states = Math.addExact(states, st);
      } catch (ArithmeticException e) {
        throw new BadInputException("model.layers: more than " + Integer.MAX_VALUE
            + " parameters up to layer " + i + ", more than the flat parameter vector can hold");
      }
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

  /** The input shape of layer {@code i} ({@code i == layers().size()}: the output shape). */
  public Shape shapeBefore(int i) {
    Shape s = input;
    for (int j = 0; j < i; j++) {
      s = layers.get(j).outShape(s);
    }
    return s;
  }

  /** Number of classes: the size of the last layer's output. */
  public int classes() {
    return shapeBefore(layers.size()).size();
  }

  /** Number of trainable parameters (the length of the flat parameter vector). */
  public int paramCount() {
    return sumOverLayers(LayerSpec::paramCount);
  }

  /** Number of non-trainable state values (batch-norm running statistics). */
  public int stateCount() {
    return sumOverLayers(LayerSpec::stateCount);
  }

  /**
   * The first batch norm (residual blocks included) that sees one value per channel, after a
   * dense or flatten layer or on a 1x1 map, named by its place ({@code model.layers[3]
   * (batchnorm on 1x1x64)}); null when there is none. Training normalises such a layer over the
   * batch's samples alone, so it needs at least two: with one it outputs its beta and passes no
   * gradient back (PyTorch refuses that batch: "Expected more than 1 value per channel").
   */
  public String batchNormOverSamplesOnly() {
    return batchNormOverSamplesOnly(layers, input, "model.layers");
  }

  /** The fewest samples a training batch may hold: 2 with such a batch norm, otherwise 1. */
  public int minTrainingBatch() {
    return batchNormOverSamplesOnly() == null ? 1 : 2;
  }

  private static String batchNormOverSamplesOnly(List<LayerSpec> layers, Shape in, String path) {
    Shape s = in;
    for (int i = 0; i < layers.size(); i++) {
      LayerSpec l = layers.get(i);
      String at = path + "[" + i + "]";
      if (l instanceof LayerSpec.BatchNorm && s.spatial() == 1) {
        return at + " (batchnorm on " + s + ")";
      }
      if (l instanceof LayerSpec.Residual r) {
        String inner = batchNormOverSamplesOnly(r.layers(), s, at + ".layers");
        if (inner == null) {
          inner = batchNormOverSamplesOnly(r.shortcut(), s, at + ".shortcut");
        }
        if (inner != null) {
          return inner;
        }
      }
      s = l.outShape(s);
    }
    return null;
  }

  /** The sum over the layers of {@code count} at each layer's input shape. */
  private int sumOverLayers(ToIntBiFunction<LayerSpec, Shape> count) {
    int n = 0;
    Shape s = input;
    for (LayerSpec l : layers) {
      n = Math.addExact(n, count.applyAsInt(l, s));
      s = l.outShape(s);
    }
    return n;
  }

  // ---------------------------------------------------------------- parsing

  /**
   * Parses a HOCON string holding a {@code model { ... }} block or the block's content. The
   * string is data (read from a checkpoint, an exported file, a saved model): it may not include
   * anything, and its substitutions never reach the environment ({@link StoredHocon}).
   */
  public static ModelSpec parse(String hocon) {
    Config c;
    try {
      c = StoredHocon.parse(hocon);
      return fromConfig(c.hasPath("model") ? c.getConfig("model") : c, "model");
    } catch (ConfigException e) {
      throw new BadInputException("model spec: " + e.getMessage(), e);
    } catch (StackOverflowError e) {
      // a crafted spec (thousands of nested residual blocks, or lists) exhausts the parser's
      // recursion: bad input, not a crash
      throw new BadInputException("model spec: nested too deeply to parse ("
          + hocon.length() + " characters)");
    }
  }

  /** Parses the model block {@code c}; {@code where} is its path, for error messages. */
  public static ModelSpec fromConfig(Config c, String where) {
    Fields f = new Fields(c, where);
    for (String k : c.root().keySet()) {
      if (!k.equals("input") && !k.equals("layers")) {
        throw new BadInputException(where + ": unknown key '" + k + "' (allowed: input, layers)");
      }
    }
    if (!c.hasPath("input")) {
      throw new BadInputException(where + ".input: missing (expected { channels, height, width })");
    }
    Shape input = parseInput(c, where + ".input");
    return new ModelSpec(input, f.layers("layers", null));
  }

  private static Shape parseInput(Config c, String where) {
    ConfigValue v = c.getValue("input");
    if (v.valueType() == ConfigValueType.LIST) {
      // each an integer: HOCON's getIntList would truncate 12.5 to 12, and say "has type
      // STRING rather than NUMBER" of a word without naming the key as written here
      List<? extends ConfigValue> dims = c.getList("input");
      BadInputException bad = new BadInputException(where + ": expected [channels, height, "
          + "width], three integers, found " + v.render(
          com.typesafe.config.ConfigRenderOptions.concise()));
      if (dims.size() != 3) {
        throw bad;
      }
      int[] d = new int[3];
      for (int i = 0; i < 3; i++) {
        double x = dims.get(i).unwrapped() instanceof Number n ? n.doubleValue() : Double.NaN;
        if (x != Math.rint(x) || Math.abs(x) > Integer.MAX_VALUE) {
          throw bad;
        }
        d[i] = (int) x;
      }
      return shape(where, d[0], d[1], d[2]);
    }
    Fields in = new Fields(c.getConfig("input"), where);
    for (String k : c.getConfig("input").root().keySet()) {
      if (!Set.of("channels", "height", "width").contains(k)) {
        throw new BadInputException(
            where + ": unknown key '" + k + "' (allowed: channels, height, width)");
      }
    }
    return shape(where, in.posInt("channels", null), in.posInt("height", null),
        in.posInt("width", null));
  }

  private static Shape shape(String where, int c, int h, int w) {
    if (c <= 0 || h <= 0 || w <= 0) {
      throw new BadInputException(where + ": dimensions must be positive, found " + c + "x" + h
          + "x" + w);
    }
    return new Shape(c, h, w);
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

  /**
   * Where this spec first differs from {@code other}, in words for an error message: "input ...
   * in {@code mine}, ... in {@code theirs}", or the first differing {@code model.layers[i]} with
   * both layers rendered, or the layer counts. For specs that differ.
   */
  public String difference(ModelSpec other, String mine, String theirs) {
    if (!input.equals(other.input)) {
      return "input " + input + " in " + mine + ", " + other.input + " in " + theirs;
    }
    int n = Math.min(layers.size(), other.layers.size());
    for (int i = 0; i < n; i++) {
      Map<String, Object> a = layers.get(i).toMap();
      Map<String, Object> b = other.layers.get(i).toMap();
      if (!a.equals(b)) {
        return "model.layers[" + i + "] is " + concise(a) + " in " + mine + ", " + concise(b)
            + " in " + theirs;
      }
    }
    return layers.size() + " layers in " + mine + ", " + other.layers.size() + " in " + theirs;
  }

  private static String concise(Map<String, Object> layer) {
    return ConfigValueFactory.fromMap(layer).render(ConfigRenderOptions.concise());
  }
}
