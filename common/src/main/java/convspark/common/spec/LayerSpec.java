package convspark.common.spec;

import com.typesafe.config.Config;
import convspark.common.BadInputException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The immutable description of one layer, as written in a model config. Each layer type owns its
 * config keys ({@code KEYS}), their defaults and parsing ({@code parse}), the shapes it accepts
 * ({@link #check}), its output shape ({@link #outShape}), how many parameters and state values
 * it has, and how it is written back ({@link #toMap}). Specs know nothing of the runtime layers:
 * {@code convspark.common.nn} builds those from specs (the dependency goes nn -> spec only).
 */
public sealed interface LayerSpec extends Serializable {
  /** The config name of this layer type. */
  String type();

  /** Why this layer cannot take {@code in}, or null when it can. */
  default String check(Shape in) {
    return null;
  }

  /** The shape of one output sample for input {@code in} (which must pass {@link #check}). */
  Shape outShape(Shape in);

  /** Number of trainable parameters for input {@code in}. */
  default int paramCount(Shape in) {
    return 0;
  }

  /** Number of non-trainable state values (batch-norm running statistics) for {@code in}. */
  default int stateCount(Shape in) {
    return 0;
  }

  /** The config keys and values that describe this layer (for checkpoints and export). */
  Map<String, Object> toMap();

  /**
   * Parses one layer object; {@code where} (e.g. {@code model.layers[3]}) starts every error.
   *
   * @throws BadInputException naming the layer, the key, what was expected and what was found
   */
  static LayerSpec parse(Config layer, String where) {
    return LayerTypes.parse(layer, where);
  }

  private static Map<String, Object> map(String type, Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", type);
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static String fits(Shape in, int kernel, int stride, int padding) {
    if (Shape.outSize(in.height(), kernel, stride, padding) < 1
        || Shape.outSize(in.width(), kernel, stride, padding) < 1) {
      // the caller names the input shape
      return "kernel " + kernel + "x" + kernel + " is larger than the input padded by "
          + padding + " on each side";
    }
    return null;
  }

  private static Shape window(Shape in, int channels, int kernel, int stride, int padding) {
    return in.window(channels, kernel, kernel, stride, padding);
  }

  /**
   * 2-D convolution; weight [filters, in / groups, kernel, kernel] then bias [filters]. With
   * {@code groups} g > 1, filters [j*f/g, (j+1)*f/g) see only input channels [j*c/g, (j+1)*c/g)
   * (PyTorch's {@code groups}; depthwise when g equals the input channels).
   */
  record Conv(int filters, int kernel, int stride, int padding, int groups, boolean bias,
      Init init) implements LayerSpec {
    static final Set<String> KEYS = Set.of("filters", "kernel", "stride", "padding", "groups",
        "bias", "init");

    /** An ungrouped convolution. */
    public Conv(int filters, int kernel, int stride, int padding, boolean bias, Init init) {
      this(filters, kernel, stride, padding, 1, bias, init);
    }

    static Conv parse(Fields f) {
      return new Conv(f.posInt("filters", null), f.posInt("kernel", null), f.posInt("stride", 1),
          f.nonNegInt("padding", 0), f.posInt("groups", 1), f.bool("bias", true), f.init());
    }

    public String type() {
      return "conv";
    }

    public String check(Shape in) {
      boolean channels = in.channels() % groups == 0;
      boolean outputs = filters % groups == 0;
      if (!channels || !outputs) {
        return "groups = " + groups + " does not divide " + (channels ? ""
            : "the input's " + in.channels() + " channels") + (channels || outputs ? ""
            : " nor ") + (outputs ? "" : "the " + filters + " filters")
            + " (it must divide both)";
      }
      return fits(in, kernel, stride, padding);
    }

    public Shape outShape(Shape in) {
      return window(in, filters, kernel, stride, padding);
    }

    public int paramCount(Shape in) {
      return Math.addExact(Math.multiplyExact(Math.multiplyExact(filters,
          in.channels() / groups), kernel * kernel), bias ? filters : 0);
    }

    public Map<String, Object> toMap() {
      Map<String, Object> m = map(type(), "filters", filters, "kernel", kernel, "stride", stride,
          "padding", padding);
      if (groups != 1) {
        m.put("groups", groups); // only when set, so ungrouped specs render as before
      }
      m.put("bias", bias);
      m.put("init", init.name().toLowerCase(java.util.Locale.ROOT));
      return m;
    }
  }

  /** Fully connected layer over the flattened input; weight [units, in] then bias [units]. */
  record Dense(int units, boolean bias, Init init) implements LayerSpec {
    static final Set<String> KEYS = Set.of("units", "bias", "init");

    static Dense parse(Fields f) {
      return new Dense(f.posInt("units", null), f.bool("bias", true), f.init());
    }

    public String type() {
      return "dense";
    }

    public Shape outShape(Shape in) {
      return Shape.vector(units);
    }

    public int paramCount(Shape in) {
      return Math.addExact(Math.multiplyExact(units, in.size()), bias ? units : 0);
    }

    public Map<String, Object> toMap() {
      return map(type(), "units", units, "bias", bias, "init",
          init.name().toLowerCase(java.util.Locale.ROOT));
    }
  }

  /** Max pooling; stride defaults to the kernel, padding (at most half the kernel) to 0. */
  record MaxPool(int kernel, int stride, int padding) implements LayerSpec {
    static final Set<String> KEYS = Set.of("kernel", "stride", "padding");

    static MaxPool parse(Fields f) {
      int kernel = f.posInt("kernel", null);
      return new MaxPool(kernel, f.posInt("stride", kernel), f.nonNegInt("padding", 0));
    }

    public String type() {
      return "maxpool";
    }

    public String check(Shape in) {
      if (padding * 2 > kernel) {
        return "padding " + padding + " must be at most half the kernel " + kernel;
      }
      return fits(in, kernel, stride, padding);
    }

    public Shape outShape(Shape in) {
      return window(in, in.channels(), kernel, stride, padding);
    }

    public Map<String, Object> toMap() {
      return map(type(), "kernel", kernel, "stride", stride, "padding", padding);
    }
  }

  /** Average pooling without padding; stride defaults to the kernel. */
  record AvgPool(int kernel, int stride) implements LayerSpec {
    static final Set<String> KEYS = Set.of("kernel", "stride");

    static AvgPool parse(Fields f) {
      int kernel = f.posInt("kernel", null);
      return new AvgPool(kernel, f.posInt("stride", kernel));
    }

    public String type() {
      return "avgpool";
    }

    public String check(Shape in) {
      return fits(in, kernel, stride, 0);
    }

    public Shape outShape(Shape in) {
      return window(in, in.channels(), kernel, stride, 0);
    }

    public Map<String, Object> toMap() {
      return map(type(), "kernel", kernel, "stride", stride);
    }
  }

  /** The mean of each channel: C x H x W to C x 1 x 1. */
  record GlobalAvgPool() implements LayerSpec {
    public String type() {
      return "globalavgpool";
    }

    public Shape outShape(Shape in) {
      return new Shape(in.channels(), 1, 1);
    }

    public Map<String, Object> toMap() {
      return map(type());
    }
  }

  /** Batch normalisation per channel: gamma, beta [C]; running mean and variance [C] as state. */
  record BatchNorm(double momentum, double epsilon) implements LayerSpec {
    static final Set<String> KEYS = Set.of("momentum", "epsilon");

    static BatchNorm parse(Fields f) {
      return new BatchNorm(f.fraction("momentum", 0.1, false), f.positive("epsilon", 1e-5));
    }

    public String type() {
      return "batchnorm";
    }

    public Shape outShape(Shape in) {
      return in;
    }

    public int paramCount(Shape in) {
      return 2 * in.channels();
    }

    public int stateCount(Shape in) {
      return 2 * in.channels();
    }

    public Map<String, Object> toMap() {
      return map(type(), "momentum", momentum, "epsilon", epsilon);
    }
  }

  /** Inverted dropout with the given rate (default 0.5). */
  record Dropout(double rate) implements LayerSpec {
    static final Set<String> KEYS = Set.of("rate");

    static Dropout parse(Fields f) {
      return new Dropout(f.fraction("rate", 0.5, true));
    }

    public String type() {
      return "dropout";
    }

    public Shape outShape(Shape in) {
      return in;
    }

    public Map<String, Object> toMap() {
      return map(type(), "rate", rate);
    }
  }

  /** An element-wise function; its config type is the function's name. */
  record Act(Nonlinearity kind) implements LayerSpec {
    public String type() {
      return kind.configName();
    }

    public Shape outShape(Shape in) {
      return in;
    }

    public Map<String, Object> toMap() {
      return map(type());
    }
  }

  /** C x H x W read as a vector of C*H*W values. */
  record FlattenSpec() implements LayerSpec {
    public String type() {
      return "flatten";
    }

    public Shape outShape(Shape in) {
      return Shape.vector(in.size());
    }

    public Map<String, Object> toMap() {
      return map(type());
    }
  }

  /**
   * A residual block: {@code activation(body(x) + shortcut(x))}. The body is the list {@code
   * layers}; the shortcut is the identity when {@code shortcut} is empty, else that list (a
   * projection, typically a 1x1 convolution with stride and a batch norm). Both must output the
   * same shape. {@code activation} is null for none. Config:
   *
   * <pre>
   * { type = residual, activation = relu            # default relu; none for no activation
   *   layers = [ { type = conv, ... }, ... ]        # the body, required
   *   shortcut = [ { type = conv, kernel = 1, stride = 2, ... }, { type = batchnorm } ]
   * }                                               # optional: absent or [] is the identity
   * </pre>
   *
   * As PyTorch: the {@code state_dict()} of a module with {@code body} and {@code shortcut}
   * {@code nn.Sequential}s (see docs/PYTORCH.md); parameters are laid out body first.
   */
  record Residual(List<LayerSpec> layers, List<LayerSpec> shortcut, Nonlinearity activation)
      implements LayerSpec {
    static final Set<String> KEYS = Set.of("layers", "shortcut", "activation");

    public Residual {
      layers = List.copyOf(layers);
      shortcut = List.copyOf(shortcut);
      if (layers.isEmpty()) {
        throw new IllegalArgumentException("a residual block needs at least one body layer");
      }
    }

    static Residual parse(Fields f) {
      List<LayerSpec> body = f.layers("layers", null);
      if (body.isEmpty()) {
        throw new BadInputException(f.at() + ": key 'layers': expected at least one layer, found "
            + "none");
      }
      List<LayerSpec> shortcut = f.layers("shortcut", List.of());
      String act = f.string("activation", "relu").toLowerCase(java.util.Locale.ROOT);
      Nonlinearity a = null;
      if (!act.equals("none")) {
        try {
          a = Nonlinearity.valueOf(act.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw new BadInputException(f.at() + ": key 'activation' must be one of relu, sigmoid, "
              + "tanh, none, found '" + act + "'");
        }
      }
      return new Residual(body, shortcut, a);
    }

    public String type() {
      return "residual";
    }

    /** Whether the shortcut is the identity (no layers). */
    public boolean identity() {
      return shortcut.isEmpty();
    }

    public String check(Shape in) {
      String why = checkList("layers", layers, in);
      if (why == null) {
        why = checkList("shortcut", shortcut, in);
      }
      if (why != null) {
        return why;
      }
      Shape b = outShape(layers, in);
      Shape s = outShape(shortcut, in);
      if (b.equals(s)) {
        return null;
      }
      String hint = "";
      if (identity()) {
        int stride = (in.height() + b.height() - 1) / b.height();
        if (Shape.outSize(in.height(), 1, stride, 0) == b.height()
            && Shape.outSize(in.width(), 1, stride, 0) == b.width()) {
          hint = "; a projection shortcut = [ { type = conv, filters = " + b.channels()
              + ", kernel = 1, stride = " + stride + ", bias = false }, { type = batchnorm } ] "
              + "would fit";
        }
      }
      return "the body (layers) outputs " + b + " but the "
          + (identity() ? "identity shortcut passes the input " + in
              : "shortcut outputs " + s)
          + "; they are summed, so the shapes must be equal" + hint;
    }

    private static String checkList(String key, List<LayerSpec> list, Shape in) {
      Shape s = in;
      for (int j = 0; j < list.size(); j++) {
        LayerSpec l = list.get(j);
        String why = l.check(s);
        if (why != null) {
          return key + "[" + j + "] (" + l.type() + "): " + why + " (input shape " + s + ")";
        }
        s = l.outShape(s);
      }
      return null;
    }

    private static Shape outShape(List<LayerSpec> list, Shape in) {
      Shape s = in;
      for (LayerSpec l : list) {
        s = l.outShape(s);
      }
      return s;
    }

    private static int count(List<LayerSpec> list, Shape in, boolean state) {
      Shape s = in;
      int n = 0;
      for (LayerSpec l : list) {
        n = Math.addExact(n, state ? l.stateCount(s) : l.paramCount(s));
        s = l.outShape(s);
      }
      return n;
    }

    public Shape outShape(Shape in) {
      return outShape(layers, in);
    }

    public int paramCount(Shape in) {
      return Math.addExact(count(layers, in, false), count(shortcut, in, false));
    }

    public int stateCount(Shape in) {
      return count(layers, in, true) + count(shortcut, in, true);
    }

    public Map<String, Object> toMap() {
      List<Object> body = new ArrayList<>();
      for (LayerSpec l : layers) {
        body.add(l.toMap());
      }
      Map<String, Object> m = map(type(), "activation",
          activation == null ? "none" : activation.configName(), "layers", body);
      if (!shortcut.isEmpty()) {
        List<Object> sc = new ArrayList<>();
        for (LayerSpec l : shortcut) {
          sc.add(l.toMap());
        }
        m.put("shortcut", sc);
      }
      return m;
    }
  }
}
