package convspark.driver.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.common.spec.ModelSpec;
import org.junit.jupiter.api.Test;

/** The checks made before Spark starts: here, a batch norm that a local batch of 1 defeats. */
class PreflightTest {
  static final ModelSpec DENSE_BN = ModelSpec.parse("""
      input { channels = 1, height = 4, width = 4 }
      layers = [
        { type = conv, filters = 2, kernel = 3, padding = 1 }
        { type = batchnorm }
        { type = flatten }
        { type = dense, units = 8 }
        { type = batchnorm }
        { type = relu }
        { type = dense, units = 3 }
      ]
      """);

  static final ModelSpec CONV_BN = ModelSpec.parse("""
      input { channels = 1, height = 4, width = 4 }
      layers = [
        { type = conv, filters = 2, kernel = 3, padding = 1 }
        { type = batchnorm }
        { type = flatten }
        { type = dense, units = 3 }
      ]
      """);

  @Test
  void aLocalBatchOfOneBeforeABatchNormOfOneValuePerChannelIsRefused() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> Preflight.localBatch(DENSE_BN, 1, 4));
    // the conv's batch norm (16 values per channel) passes; the one after the dense layer is named
    assertTrue(e.getMessage().startsWith("config key train.global-batch: 4 over 4 workers leaves "
        + "a local batch of 1, and model.layers[4] (batchnorm on 8x1x1)"), e.getMessage());
    assertDoesNotThrow(() -> Preflight.localBatch(DENSE_BN, 2, 4));
    assertDoesNotThrow(() -> Preflight.localBatch(CONV_BN, 1, 4));
    // inside a residual block's shortcut, on the 1x1 map a global average pool leaves
    ModelSpec residual = ModelSpec.parse("""
        input { channels = 1, height = 4, width = 4 }
        layers = [
          { type = conv, filters = 2, kernel = 3, padding = 1 }
          { type = globalavgpool }
          { type = residual, layers = [ { type = conv, filters = 3, kernel = 1 } ],
            shortcut = [ { type = conv, filters = 3, kernel = 1 }, { type = batchnorm } ] }
          { type = flatten }
          { type = dense, units = 3 }
        ]
        """);
    BadInputException r = assertThrows(BadInputException.class,
        () -> Preflight.localBatch(residual, 1, 1));
    assertTrue(r.getMessage().contains("1 over 1 worker leaves a local batch of 1, and "
        + "model.layers[2].shortcut[1] (batchnorm on 3x1x1)"), r.getMessage());
    // a local batch of 8 passes whatever spark.task.cpus is: the ring engine's threads take
    // slices of at least two (PartitionStepTest)
    assertDoesNotThrow(() -> Preflight.localBatch(DENSE_BN, 8, 2));
    assertDoesNotThrow(() -> Preflight.localBatch(CONV_BN, 8, 2));
  }
}
