package convspark.driver.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.engine.Round;
import convspark.driver.engine.StepListener;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Progress lines every train.log-every-steps steps, whichever engine reports the steps. */
class TrainingListenerTest {
  private static List<String> lines(int every, int stepsPerEpoch, int... reports) {
    List<String> out = new ArrayList<>();
    StepListener l = TrainingListener.lines(out::add).steps(every, System.nanoTime());
    Round r = new Round(0, 0, 0, stepsPerEpoch, stepsPerEpoch, null, l);
    for (int done : reports) {
      l.afterStep(r, done, done * 0.5, done * 10L, done * 5L, 0.1);
    }
    return out;
  }

  @Test
  void stepByStepReportsPrintAtEveryMultiple() {
    int[] each = new int[12];
    for (int i = 0; i < each.length; i++) {
      each[i] = i + 1;
    }
    List<String> out = lines(5, 12, each);
    assertEquals(2, out.size(), out.toString());
    assertTrue(out.get(0).startsWith("  step 5/12"), out.toString());
    assertTrue(out.get(1).startsWith("  step 10/12"), out.toString());
    assertEquals(0, lines(0, 12, each).size(), "0: only per-epoch lines");
  }

  @Test
  void aRoundReportedAtOnceStillGetsItsLines() {
    // the ring engine reports once per round: an epoch of 38 steps in one round, every 5
    List<String> one = lines(5, 38, 38);
    assertEquals(1, one.size(), one.toString());
    assertTrue(one.get(0).startsWith("  step 38/38"), one.toString());
    // rounds of 7 steps (train.ring.round-steps): a line for each round that passes a multiple
    List<String> rounds = lines(10, 38, 7, 14, 21, 28, 35, 38);
    assertEquals(3, rounds.size(), rounds.toString());
    assertTrue(rounds.get(0).startsWith("  step 14/38"), rounds.toString());
    // a round shorter than the interval prints nothing
    assertEquals(0, lines(100, 38, 38).size());
  }
}
