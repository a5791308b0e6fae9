package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class RangeMismatchTest {
  @Test
  void aSplitWhoseInputsLieFarFromTheTrainingSplitsIsNamed() {
    double[] train = {1e6, 0.0, 1.0}; // auto normalisation: mean 0, std 1
    // a test set of 0-255 bytes beside training pixels of 0-1, normalised alike: a test loss in
    // the hundreds without a word
    Optional<String> w = Trainer.rangeMismatch("test", train, new double[] {1e5, 640.0, 300.0});
    assertTrue(w.isPresent() && w.get().startsWith("the test split's inputs, normalised as the "
        + "training split's, have mean 640.0 and std 300.0, the training split's mean 0.000 and "
        + "std 1.000: another pixel range"), w.toString());
    // the other way round: 0-1 floats beside 0-255 training pixels squeeze to one value
    assertTrue(Trainer.rangeMismatch("validation", train, new double[] {1e5, -2.5, 0.004})
        .isPresent());
    // the same data, or a shift well within the spread: nothing
    assertEquals(Optional.empty(), Trainer.rangeMismatch("test", train,
        new double[] {1e5, 0.1, 0.95}));
    assertEquals(Optional.empty(), Trainer.rangeMismatch("test", train,
        new double[] {1e5, -1.5, 2.0}));
    // nothing to compare
    assertEquals(Optional.empty(), Trainer.rangeMismatch("test", train, new double[] {0, 0, 0}));
    assertEquals(Optional.empty(), Trainer.rangeMismatch("test", new double[] {1e6, 3, 0},
        new double[] {1e5, 640.0, 300.0}));
  }
}
