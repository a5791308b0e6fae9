package convspark.driver.exec;

import convspark.common.io.FloatArrays;
import java.io.Externalizable;
import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;
import java.io.Serial;
import java.io.Serializable;

/** What a step broadcasts: the parameters and the batch-norm running statistics. */
public record Weights(float[] params, float[] state) implements Serializable {

  /** Serialized through {@link Wire}: bulk float conversion instead of per-element. */
  @Serial
  private Object writeReplace() {
    return new Wire(params, state);
  }

  /** The serialized form of {@link Weights}. */
  public static final class Wire implements Externalizable {
    @Serial
    private static final long serialVersionUID = 1L;
    private float[] params;
    private float[] state;

    public Wire() {}

    Wire(float[] params, float[] state) {
      this.params = params;
      this.state = state;
    }

    @Override
    public void writeExternal(ObjectOutput out) throws IOException {
      FloatArrays.write(out, params);
      FloatArrays.write(out, state);
    }

    @Override
    public void readExternal(ObjectInput in) throws IOException {
      params = FloatArrays.read(in);
      state = FloatArrays.read(in);
    }

    @Serial
    private Object readResolve() {
      return new Weights(params, state);
    }
  }
}
