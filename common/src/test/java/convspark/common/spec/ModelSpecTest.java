package convspark.common.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

  /** Checkpoints store the rendered spec: the rendering of existing layer types must not move. */
  @Test
  void renderIsStableForExistingCheckpoints() {
    assertEquals("{\"input\":{\"channels\":1,\"height\":28,\"width\":28},\"layers\":["
        + "{\"bias\":true,\"filters\":8,\"init\":\"he\",\"kernel\":3,\"padding\":1,\"stride\":1,"
        + "\"type\":\"conv\"},{\"epsilon\":1.0E-5,\"momentum\":0.1,\"type\":\"batchnorm\"},"
        + "{\"type\":\"relu\"},{\"kernel\":2,\"padding\":0,\"stride\":2,\"type\":\"maxpool\"},"
        + "{\"rate\":0.25,\"type\":\"dropout\"},{\"type\":\"flatten\"},"
        + "{\"bias\":true,\"init\":\"he\",\"type\":\"dense\",\"units\":10}]}",
        ModelSpec.parse(GOOD).render());
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

  /** groups: counted, rendered (only when set) and checked against both channel counts. */
  @Test
  void groupedConv() {
    String grouped = GOOD.replace("{ type = relu }",
        "{ type = relu }\n{ type = conv, filters = 12, kernel = 3, padding = 1, groups = 4 }");
    ModelSpec spec = ModelSpec.parse(grouped);
    // weight [12, 8/4, 3, 3] + bias [12]
    assertEquals(12 * 2 * 9 + 12, spec.layers().get(3).paramCount(new Shape(8, 28, 28)));
    assertTrue(spec.render().contains("\"groups\":4"), spec.render());
    assertEquals(spec, ModelSpec.parse(spec.render()));
    String m = msg(grouped.replace("groups = 4", "groups = 3"));
    assertTrue(m.startsWith("model.layers[3] (conv): groups = 3 does not divide the input's 8 "
        + "channels (it must divide both)"), m);
    m = msg(grouped.replace("groups = 4", "groups = 8").replace("filters = 12", "filters = 12"));
    assertTrue(m.startsWith("model.layers[3] (conv): groups = 8 does not divide the 12 filters "
        + "(it must divide both)"), m);
    m = msg(grouped.replace("groups = 4", "groups = 5"));
    assertTrue(m.startsWith("model.layers[3] (conv): groups = 5 does not divide the input's 8 "
        + "channels nor the 12 filters"), m);
    m = msg(grouped.replace("kernel = 3, padding = 1, groups = 4", "kernel = [3, 5]"));
    assertTrue(m.endsWith("key 'kernel' must be an integer, found [3,5] (one number, the same "
        + "for height and width)"), m);
    m = msg(grouped.replace("groups = 4", "groups = 0"));
    assertTrue(m.contains("model.layers[3] (conv)") && m.contains("'groups'"), m);
  }

  @Test
  void inputListOfIntegersOnly() {
    String list = GOOD.replace("input { channels = 1, height = 28, width = 28 }",
        "input = [1, 28, 28]");
    assertEquals(ModelSpec.parse(GOOD), ModelSpec.parse(list));
    // 12.5 was truncated to 12 by HOCON's getIntList
    assertEquals("model.input: expected [channels, height, width], three integers, found "
        + "[1,28,28.5]", msg(list.replace("[1, 28, 28]", "[1, 28, 28.5]")));
    assertEquals("model.input: expected [channels, height, width], three integers, found "
        + "[1,28,\"x\"]", msg(list.replace("[1, 28, 28]", "[1, 28, \"x\"]")));
    assertEquals("model.input: expected [channels, height, width], three integers, found "
        + "[28,28]", msg(list.replace("[1, 28, 28]", "[28, 28]")));
    assertTrue(msg(list.replace("[1, 28, 28]", "[1, 0, 28]")).contains("must be positive"));
  }

  @Test
  void batchNormEpsilonMustBeFinite() {
    String m = msg(GOOD.replace("{ type = batchnorm }", "{ type = batchnorm, epsilon = 1e400 }"));
    assertEquals("model.layers[1] (batchnorm): key 'epsilon' must be a finite number > 0, found "
        + "Infinity", m);
    assertTrue(msg(GOOD.replace("{ type = batchnorm }", "{ type = batchnorm, epsilon = 0 }"))
        .contains("must be a finite number > 0, found 0.0"));
  }

  @Test
  void dropoutRateOutOfRange() {
    String m = msg(GOOD.replace("rate = 0.25", "rate = 1.5"));
    assertTrue(m.contains("model.layers[4] (dropout)") && m.contains("'rate'"), m);
  }

  @Test
  void shippedExampleConfigsParse() throws Exception {
    for (String name : new String[] {"fashion-mnist.conf", "fashion-mnist-best.conf", "lenet5.conf",
        "fashion-mnist-resnet.conf", "fashion-mnist-resnet-small.conf"}) {
      Path p = Path.of("..", "conf", name);
      ModelSpec spec = ModelSpec.parse(Files.readString(p));
      assertEquals(10, spec.classes(), name);
      assertEquals(spec, ModelSpec.parse(spec.render()), name);
    }
    // the counts their comments state
    assertEquals(696_042, new Network(ModelSpec.parse(Files.readString(
        Path.of("..", "conf", "fashion-mnist-resnet.conf")))).paramCount());
    assertEquals(308_074, new Network(ModelSpec.parse(Files.readString(
        Path.of("..", "conf", "fashion-mnist-resnet-small.conf")))).paramCount());
  }

  static final String RESNET = """
      model {
        input { channels = 1, height = 8, width = 8 }
        layers = [
          { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
          { type = batchnorm }
          { type = relu }
          { type = residual, layers = [
              { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
              { type = batchnorm }
              { type = relu }
              { type = conv, filters = 4, kernel = 3, padding = 1, bias = false }
              { type = batchnorm }
            ] }
          { type = residual, layers = [
              { type = conv, filters = 8, kernel = 3, stride = 2, padding = 1, bias = false }
              { type = batchnorm }
              { type = relu }
              { type = conv, filters = 8, kernel = 3, padding = 1, bias = false }
              { type = batchnorm }
            ], shortcut = [
              { type = conv, filters = 8, kernel = 1, stride = 2, bias = false }
              { type = batchnorm }
            ] }
          { type = globalavgpool }
          { type = flatten }
          { type = dense, units = 10 }
        ]
      }
      """;

  @Test
  void residualShapesAndCounts() {
    ModelSpec spec = ModelSpec.parse(RESNET);
    Network net = new Network(spec);
    assertEquals(new Shape(4, 8, 8), net.layers().get(3).outShape());
    assertEquals(new Shape(8, 4, 4), net.layers().get(4).outShape());
    int block1 = 2 * (4 * 4 * 9 + 8);
    int block2 = 8 * 4 * 9 + 16 + 8 * 8 * 9 + 16 + 8 * 4 + 16;
    assertEquals(4 * 9 + 8 + block1 + block2 + 10 * 8 + 10, net.paramCount());
    assertEquals(spec.paramCount(), net.paramCount());
    assertEquals(8 + 16 + 3 * 16, net.stateCount());
    assertEquals(spec.stateCount(), net.stateCount());
    LayerSpec.Residual r = (LayerSpec.Residual) spec.layers().get(4);
    assertEquals(Nonlinearity.RELU, r.activation());
    assertTrue(((LayerSpec.Residual) spec.layers().get(3)).identity());
    assertEquals(spec, ModelSpec.parse(spec.render()));
  }

  @Test
  void residualActivationNone() {
    ModelSpec spec = ModelSpec.parse(RESNET.replace("{ type = residual, layers",
        "{ type = residual, activation = none, layers"));
    assertEquals(null, ((LayerSpec.Residual) spec.layers().get(3)).activation());
    assertEquals(spec, ModelSpec.parse(spec.render()));
    String m = msg(RESNET.replace("{ type = residual, layers",
        "{ type = residual, activation = gelu, layers"));
    assertTrue(m.startsWith("model.layers[3] (residual): key 'activation'"), m);
  }

  @Test
  void residualWhoseShortcutDoesNotFitIsNamedInOneLine() {
    // the second block without its projection: identity 4x8x8 against the body's 8x4x4
    int a = RESNET.indexOf("], shortcut = [");
    int b = RESNET.indexOf("] }", a + 5);
    String m = msg(RESNET.substring(0, a) + RESNET.substring(b));
    assertEquals("model.layers[4] (residual): the body (layers) outputs 8x4x4 but the identity "
        + "shortcut passes the input 4x8x8; they are summed, so the shapes must be equal; a "
        + "projection shortcut = [ { type = conv, filters = 8, kernel = 1, stride = 2, bias = "
        + "false }, { type = batchnorm } ] would fit (input shape 4x8x8)", m);
    assertFalse(m.contains("\n"));
    // a projection with the wrong stride
    m = msg(RESNET.replace("filters = 8, kernel = 1, stride = 2", "filters = 8, kernel = 1"));
    assertTrue(m.startsWith("model.layers[4] (residual): the body (layers) outputs 8x4x4 but "
        + "the shortcut outputs 8x8x8"), m);
  }

  @Test
  void residualInnerLayerErrorsNameBlockAndLayer() {
    String m = msg(RESNET.replace("filters = 8, kernel = 3, padding = 1, bias = false",
        "filters = 8, kernel = 3, padding = 1, bias = false, dilation = 2"));
    assertTrue(m.startsWith("model.layers[4].layers[3] (conv): unknown key 'dilation'"), m);
    m = msg(RESNET.replace("kernel = 1, stride = 2", "kernel = 9, stride = 2"));
    assertTrue(m.startsWith("model.layers[4] (residual): shortcut[0] (conv): kernel 9x9 is "
        + "larger than the input padded by 0 on each side (input shape 4x8x8)"), m);
    m = msg(RESNET.replace("{ type = residual, layers", "{ type = residual, layer"));
    assertTrue(m.startsWith("model.layers[3] (residual): unknown key 'layer'"), m);
    m = msg(RESNET.replace("], shortcut = [", "], shortcut = 3, x = ["));
    assertTrue(m.contains("model.layers[4] (residual)"), m);
    m = msg(RESNET.replace("{ type = residual, layers = [\n", "{ type = residual, layers = [\n"
        + "              { type = avgpool, kernel = 16 }\n"));
    assertTrue(m.startsWith("model.layers[3] (residual): layers[0] (avgpool): kernel 16x16"), m);
  }
}
