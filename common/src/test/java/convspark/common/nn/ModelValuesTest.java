package convspark.common.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import convspark.common.BadInputException;
import convspark.common.spec.ModelSpec;
import org.junit.jupiter.api.Test;

/**
 * A model read from a file is refused for a non-finite value or a negative running variance, at
 * the top level and inside a residual block's body and shortcut, naming the layer as the spec
 * does.
 */
class ModelValuesTest {
  private static final Network NET = new Network(ModelSpec.parse("""
      input { channels = 2, height = 6, width = 6 }
      layers = [
        { type = batchnorm }
        { type = residual
          layers = [ { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
                     { type = batchnorm } ]
          shortcut = [ { type = conv, filters = 4, kernel = 1, bias = false }
                       { type = batchnorm } ] }
        { type = flatten }
        { type = dense, units = 3 } ]
      """));

  /** Where batch norm {@code bn}'s running variances start in the state vector. */
  private static int variance(Layer bn) {
    return bn.stateOffset() + bn.outShape().channels();
  }

  private static String refused(float[] params, float[] state) {
    return assertThrows(BadInputException.class,
        () -> ModelValues.check(NET, params, state, "f.bin")).getMessage();
  }

  @Test
  void negativeVariancesAreFoundAtEveryDepth() {
    float[] params = NET.initParams(1);
    ModelValues.check(NET, params, NET.initState(), "f.bin"); // a fresh model passes
    Residual r = (Residual) NET.layers().get(1);

    float[] state = NET.initState();
    state[variance(NET.layers().get(0)) + 1] = -1f;
    assertEquals("f.bin: model.layers[0] (batchnorm): running variance of channel 1 is -1.0; a "
        + "variance cannot be negative", refused(params, state));

    state = NET.initState();
    state[variance(r.body().get(1)) + 2] = -0.5f;
    assertEquals("f.bin: model.layers[1] (residual): layers[1] (batchnorm): running variance of "
        + "channel 2 is -0.5; a variance cannot be negative", refused(params, state));

    state = NET.initState();
    state[variance(r.shortcut().get(1)) + 3] = -2f;
    assertEquals("f.bin: model.layers[1] (residual): shortcut[1] (batchnorm): running variance "
        + "of channel 3 is -2.0; a variance cannot be negative", refused(params, state));
  }

  @Test
  void nonFiniteValuesInsideABlockAreFound() {
    float[] params = NET.initParams(1);
    Residual r = (Residual) NET.layers().get(1);
    params[r.body().get(0).paramOffset()] = Float.NaN;
    String e = refused(params, NET.initState());
    assertEquals("f.bin: model.layers[1] (residual): parameter 0 is NaN; expected finite weights",
        e);
  }
}
