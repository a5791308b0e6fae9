package convspark.common.nn;

import convspark.common.spec.Nonlinearity;
import convspark.common.spec.Shape;

/** Element-wise activation: ReLU, sigmoid or tanh. */
public final class Activation extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final Nonlinearity kind;

  public Activation(Shape shape, Nonlinearity kind) {
    super(shape, shape, 0, 0);
    this.kind = kind;
  }

  Nonlinearity kind() {
    return kind;
  }

  /** Element-wise: any layout. */
  @Override
  public boolean channelsLastCapable() {
    return true;
  }




  @Override
  public void forward(Pass pass, Context ctx, float[] x, float[] y, int n) {
    int len = n * in.size();
    switch (kind) {
      case RELU -> {
        for (int i = 0; i < len; i++) {
          y[i] = Math.max(x[i], 0f); // vectorised by C2, unlike a conditional
        }
      }
      case SIGMOID -> {
        for (int i = 0; i < len; i++) {
          y[i] = (float) (1.0 / (1.0 + Math.exp(-x[i])));
        }
      }
      case TANH -> {
        for (int i = 0; i < len; i++) {
          y[i] = (float) Math.tanh(x[i]);
        }
      }
      default -> throw new AssertionError(kind);
    }
  }

  @Override
  public void backward(Pass pass, Context ctx, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx == null) {
      return;
    }
    int len = n * in.size();
    switch (kind) {
      case RELU -> {
        if (Kernels.VECTOR_API) {
          VectorKernels.reluBackward(x, gy, gx, len);
          return;
        }
        for (int i = 0; i < len; i++) {
          gx[i] = x[i] > 0 ? gy[i] : 0f;
        }
      }
      case SIGMOID -> {
        for (int i = 0; i < len; i++) {
          gx[i] = gy[i] * y[i] * (1f - y[i]);
        }
      }
      case TANH -> {
        for (int i = 0; i < len; i++) {
          gx[i] = gy[i] * (1f - y[i] * y[i]);
        }
      }
      default -> throw new AssertionError(kind);
    }
  }
}
