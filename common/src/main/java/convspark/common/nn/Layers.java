package convspark.common.nn;

import convspark.common.spec.LayerSpec;
import convspark.common.spec.Shape;

/**
 * Builds runtime layers from layer specs: the one place where a spec type meets its kernel. The
 * runtime layer's output shape and parameter and state counts are checked against the spec's
 * own, so the two can never drift apart.
 */
public final class Layers {
  private Layers() {}

  /**
   * The runtime layer for {@code spec} at input shape {@code in}, owning the parameter slice
   * from {@code paramOffset} and the state slice from {@code stateOffset}; {@code index} is the
   * layer's stream id for random choices (dropout masks), its position in the top-level list.
   */
  public static Layer bind(LayerSpec spec, Shape in, int index, int paramOffset,
      int stateOffset) {
    Layer l;
    if (spec instanceof LayerSpec.Conv c) {
      l = new Conv2d(in, c.filters(), c.kernel(), c.stride(), c.padding(), c.groups(), c.bias(),
          c.init(), paramOffset);
    } else if (spec instanceof LayerSpec.Dense d) {
      l = new Dense(in, d.units(), d.bias(), d.init(), paramOffset);
    } else if (spec instanceof LayerSpec.MaxPool m) {
      l = new MaxPool2d(in, m.kernel(), m.stride(), m.padding());
    } else if (spec instanceof LayerSpec.AvgPool a) {
      l = new AvgPool2d(in, a.kernel(), a.kernel(), a.stride());
    } else if (spec instanceof LayerSpec.GlobalAvgPool) {
      l = new AvgPool2d(in, in.height(), in.width(), 1);
    } else if (spec instanceof LayerSpec.BatchNorm b) {
      l = new BatchNorm(in, b.momentum(), b.epsilon(), paramOffset, stateOffset);
    } else if (spec instanceof LayerSpec.Dropout d) {
      l = new Dropout(in, d.rate(), index);
    } else if (spec instanceof LayerSpec.Act a) {
      l = new Activation(in, a.kind());
    } else if (spec instanceof LayerSpec.FlattenSpec) {
      l = new Flatten(in);
    } else if (spec instanceof LayerSpec.Residual r) {
      l = Residual.bind(r, in, index, paramOffset, stateOffset);
    } else {
      throw new IllegalArgumentException("no runtime layer for spec type " + spec.type());
    }
    if (!l.outShape().equals(spec.outShape(in)) || l.paramCount() != spec.paramCount(in)
        || l.stateCount() != spec.stateCount(in)) {
      throw new IllegalStateException(spec.type() + " at input " + in + ": the runtime layer has "
          + "output " + l.outShape() + ", " + l.paramCount() + " parameters, " + l.stateCount()
          + " state values; its spec says " + spec.outShape(in) + ", " + spec.paramCount(in)
          + ", " + spec.stateCount(in));
    }
    return l;
  }
}
