package convspark.common.spec;

import convspark.common.nn.Activation;
import convspark.common.nn.AvgPool2d;
import convspark.common.nn.BatchNorm;
import convspark.common.nn.Conv2d;
import convspark.common.nn.Dense;
import convspark.common.nn.Dropout;
import convspark.common.nn.Flatten;
import convspark.common.nn.Init;
import convspark.common.nn.Layer;
import convspark.common.nn.MaxPool2d;
import convspark.common.nn.Shape;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The immutable description of one layer, as written in a model config. {@link #bind} turns it
 * into a runtime {@link Layer} for a given input shape and parameter/state offsets; {@link
 * #check} says why an input shape does not fit (or null when it does).
 */
public sealed interface LayerSpec extends Serializable {
  /** The config name of this layer type. */
  String type();

  /** Why this layer cannot take {@code in}, or null when it can. */
  default String check(Shape in) {
    return null;
  }

  Layer bind(Shape in, int index, int paramOffset, int stateOffset);

  /** The config keys and values that describe this layer (for checkpoints and export). */
  Map<String, Object> toMap();

  private static Map<String, Object> map(String type, Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("type", type);
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static String fits(Shape in, int kernelH, int kernelW, int stride, int padding) {
    if (Conv2d.outSize(in.height(), kernelH, stride, padding) < 1
        || Conv2d.outSize(in.width(), kernelW, stride, padding) < 1) {
      return "kernel " + kernelH + "x" + kernelW + " with padding " + padding
          + " does not fit input " + in;
    }
    return null;
  }

  record Conv(int filters, int kernel, int stride, int padding, boolean bias, Init init)
      implements LayerSpec {
    public String type() {
      return "conv";
    }

    public String check(Shape in) {
      return fits(in, kernel, kernel, stride, padding);
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new Conv2d(in, filters, kernel, stride, padding, bias, init, p);
    }

    public Map<String, Object> toMap() {
      return map(type(), "filters", filters, "kernel", kernel, "stride", stride, "padding",
          padding, "bias", bias, "init", init.name().toLowerCase());
    }
  }

  record Dense(int units, boolean bias, Init init) implements LayerSpec {
    public String type() {
      return "dense";
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new convspark.common.nn.Dense(in, units, bias, init, p);
    }

    public Map<String, Object> toMap() {
      return map(type(), "units", units, "bias", bias, "init", init.name().toLowerCase());
    }
  }

  record MaxPool(int kernel, int stride, int padding) implements LayerSpec {
    public String type() {
      return "maxpool";
    }

    public String check(Shape in) {
      if (padding * 2 > kernel) {
        return "padding " + padding + " must be at most half the kernel " + kernel;
      }
      return fits(in, kernel, kernel, stride, padding);
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new MaxPool2d(in, kernel, stride, padding);
    }

    public Map<String, Object> toMap() {
      return map(type(), "kernel", kernel, "stride", stride, "padding", padding);
    }
  }

  record AvgPool(int kernel, int stride) implements LayerSpec {
    public String type() {
      return "avgpool";
    }

    public String check(Shape in) {
      return fits(in, kernel, kernel, stride, 0);
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new AvgPool2d(in, kernel, kernel, stride);
    }

    public Map<String, Object> toMap() {
      return map(type(), "kernel", kernel, "stride", stride);
    }
  }

  record GlobalAvgPool() implements LayerSpec {
    public String type() {
      return "globalavgpool";
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new AvgPool2d(in, in.height(), in.width(), 1);
    }

    public Map<String, Object> toMap() {
      return map(type());
    }
  }

  record BatchNorm(double momentum, double epsilon) implements LayerSpec {
    public String type() {
      return "batchnorm";
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new convspark.common.nn.BatchNorm(in, momentum, epsilon, p, s);
    }

    public Map<String, Object> toMap() {
      return map(type(), "momentum", momentum, "epsilon", epsilon);
    }
  }

  record Dropout(double rate) implements LayerSpec {
    public String type() {
      return "dropout";
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new convspark.common.nn.Dropout(in, rate, index);
    }

    public Map<String, Object> toMap() {
      return map(type(), "rate", rate);
    }
  }

  record Act(Activation.Kind kind) implements LayerSpec {
    public String type() {
      return kind.name().toLowerCase();
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new Activation(in, kind);
    }

    public Map<String, Object> toMap() {
      return map(type());
    }
  }

  record FlattenSpec() implements LayerSpec {
    public String type() {
      return "flatten";
    }

    public Layer bind(Shape in, int index, int p, int s) {
      return new Flatten(in);
    }

    public Map<String, Object> toMap() {
      return map(type());
    }
  }
}
