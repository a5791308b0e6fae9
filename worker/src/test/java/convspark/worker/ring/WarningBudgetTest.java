package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Rejected connections are logged within a budget: a flood must not flood the log. */
class WarningBudgetTest {
  @Test
  void aFloodIsLoggedFiveTimesAMinuteAndTheNextLineCountsWhatWasHeldBack() {
    long minute = 60_000_000_000L;
    PendingConnections.WarningBudget b = new PendingConnections.WarningBudget(5, minute);
    long t = 1_000;
    for (int i = 0; i < 5; i++) {
      assertEquals(0, b.take(t + i));
    }
    for (int i = 0; i < 1000; i++) {
      assertEquals(-1, b.take(t + 10 + i), "held back");
    }
    // a new minute: the first line says how many were not logged, then the count starts again
    assertEquals(1000, b.take(t + minute));
    assertEquals(0, b.take(t + minute + 1));
  }
}
