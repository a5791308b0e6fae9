package convspark.common.nn;

import convspark.common.spec.Shape;

/**
 * What every runtime layer holds once bound: its input and output shapes and the first indices
 * of its slices of the flat parameter and state vectors (0 for a layer that has none).
 */
abstract class BoundLayer implements Layer {
  private static final long serialVersionUID = 1L;
  protected final Shape in;
  protected final Shape out;
  protected final int paramOffset;
  protected final int stateOffset;

  BoundLayer(Shape in, Shape out, int paramOffset, int stateOffset) {
    this.in = in;
    this.out = out;
    this.paramOffset = paramOffset;
    this.stateOffset = stateOffset;
  }

  @Override
  public final Shape inShape() {
    return in;
  }

  @Override
  public final Shape outShape() {
    return out;
  }

  @Override
  public final int paramOffset() {
    return paramOffset;
  }

  @Override
  public final int stateOffset() {
    return stateOffset;
  }
}
