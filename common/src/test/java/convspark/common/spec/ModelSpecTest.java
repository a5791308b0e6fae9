package convspark.common.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.common.nn.Network;
import convspark.common.spec.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ModelSpecTest {
  static final String GOOD = """
      model {
        input { channels = 1, height = 28, width = 28 }
        layers = [
          { type = conv, filters = 8, kernel = 3, padding = 1 }
          { type = batchnorm }
          { type = relu }
          { type = maxpool, kernel = 2 }
          { type = dropout, rate = 0.25 }
          { type = flatten }
          { type = dense, units = 10 }
        ]
      }
      """;

  static String msg(String hocon) {
    return assertThrows(BadInputException.class, () -> ModelSpec.parse(hocon)).getMessage();
  }

  @Test
  void parsesShapesAndParamCounts() {
    ModelSpec spec = ModelSpec.parse(GOOD);
    Network net = new Network(spec);
    assertEquals(new Shape(1, 28, 28), net.inputShape());
    assertEquals(new Shape(8, 14, 14), net.layers().get(4).outShape());
    assertEquals(10, net.classes());
    assertEquals(8 * 9 + 8 + 16 + 10 * 8 * 14 * 14 + 10, net.paramCount());
    assertEquals(16, net.stateCount());
  }

  @Test
  void renderRoundTrips() {
    ModelSpec spec = ModelSpec.parse(GOOD);
    assertEquals(spec, ModelSpec.parse(spec.render()));
  }

  @Test
  void unknownLayerType() {
    String m = msg(GOOD.replace("type = relu", "type = relux"));
    assertTrue(m.contains("model.layers[2]") && m.contains("unknown layer type 'relux'"), m);
  }

  @Test
  void unknownKey() {
    String m = msg(GOOD.replace("filters = 8", "filters = 8, filter = 3"));
    assertTrue(m.contains("model.layers[0] (conv)") && m.contains("unknown key 'filter'"), m);
  }

  @Test
  void negativeKernel() {
    String m = msg(GOOD.replace("kernel = 3", "kernel = -3"));
    assertTrue(m.contains("model.layers[0] (conv)") && m.contains("'kernel'")
        && m.contains("-3"), m);
  }

  @Test
  void kernelLargerThanInput() {
    String m = msg(GOOD.replace("type = maxpool, kernel = 2", "type = maxpool, kernel = 40"));
    assertTrue(m.contains("model.layers[3] (maxpool)") && m.contains("8x28x28"), m);
  }

  @Test
  void lastLayerMustBeAVector() {
    String m = msg(GOOD.replace("{ type = flatten }\n", "").replace(
        "{ type = dense, units = 10 }", "{ type = relu }"));
    assertTrue(m.contains("last layer"), m);
  }

  @Test
  void wrongTypeOfValue() {
    String m = msg(GOOD.replace("units = 10", "units = ten"));
    assertTrue(m.contains("model.layers[6] (dense)") && m.contains("'units'"), m);
  }

  @Test
  void dropoutRateOutOfRange() {
    String m = msg(GOOD.replace("rate = 0.25", "rate = 1.5"));
    assertTrue(m.contains("model.layers[4] (dropout)") && m.contains("'rate'"), m);
  }

  @Test
  void shippedExampleConfigsParse() throws Exception {
    for (String name : new String[] {"fashion-mnist.conf", "fashion-mnist-best.conf", "lenet5.conf"}) {
      Path p = Path.of("..", "conf", name);
      ModelSpec spec = ModelSpec.parse(Files.readString(p));
      assertEquals(10, spec.classes(), name);
    }
  }
}
