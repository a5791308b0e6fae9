package convspark.common.nn;

import convspark.common.BadInputException;
import convspark.common.spec.LayerSpec;
import java.util.List;

/**
 * Checks the values of a model read from a file (checkpoint, safetensors) before they are used:
 * every weight and running statistic finite, every batch-norm running variance non-negative (also
 * inside residual blocks). A
 * model failing this would "work" and print {@code loss NaN} or garbage with exit 0, and a Spark
 * ML model built from it would predict class 0 for every row.
 */
public final class ModelValues {
  private ModelValues() {}

  /** Throws a {@link BadInputException} naming {@code source}, the layer and the index. */
  public static void check(Network net, float[] params, float[] state, String source) {
    List<Layer> layers = net.layers();
    for (int li = 0; li < layers.size(); li++) {
      Layer l = layers.get(li);
      String where = source + ": model.layers[" + li + "] ("
          + net.spec().layers().get(li).type() + ")";
      for (int i = l.paramOffset(); i < l.paramOffset() + l.paramCount(); i++) {
        if (!Float.isFinite(params[i])) {
          throw new BadInputException(where + ": parameter " + (i - l.paramOffset()) + " is "
              + params[i] + "; expected finite weights");
        }
      }
      for (int i = l.stateOffset(); i < l.stateOffset() + l.stateCount(); i++) {
        if (!Float.isFinite(state[i])) {
          throw new BadInputException(where + ": running statistic " + (i - l.stateOffset())
              + " is " + state[i] + "; expected finite values");
        }
      }
      variances(l, net.spec().layers().get(li), where, state);
    }
  }

  /**
   * Refuses a negative running variance of {@code l}, a batch norm, or of any batch norm inside
   * {@code l}, a residual block (its body and shortcut, named as in the spec: {@code
   * model.layers[3] (residual): layers[1] (batchnorm)}): evaluation takes its square root.
   */
  private static void variances(Layer l, LayerSpec spec, String where, float[] state) {
    if (l instanceof BatchNorm) {
      int ch = l.outShape().channels();
      for (int c = 0; c < ch; c++) {
        float v = state[l.stateOffset() + ch + c];
        if (v < 0) {
          throw new BadInputException(where + ": running variance of channel " + c + " is "
              + v + "; a variance cannot be negative");
        }
      }
    } else if (l instanceof Residual r && spec instanceof LayerSpec.Residual rs) {
      inner(r.body(), rs.layers(), where + ": layers", state);
      inner(r.shortcut(), rs.shortcut(), where + ": shortcut", state);
    }
  }

  private static void inner(List<Layer> layers, List<LayerSpec> specs, String key,
      float[] state) {
    for (int j = 0; j < layers.size(); j++) {
      variances(layers.get(j), specs.get(j), key + "[" + j + "] (" + specs.get(j).type() + ")",
          state);
    }
  }
}
