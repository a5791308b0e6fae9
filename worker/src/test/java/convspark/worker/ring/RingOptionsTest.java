package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** When a waiting peer spins, and what the options accept. */
class RingOptionsTest {
  @Test
  void peersSpinOnlyWhereTheHostHasACpuForEveryComputingThread() {
    assertEquals(2_000_000, RingOptions.spinNanosFor(2_000_000, 2, 2), "2 tasks x 1 on 2 CPUs");
    assertEquals(2_000_000, RingOptions.spinNanosFor(2_000_000, 4, 16));
    assertEquals(0, RingOptions.spinNanosFor(2_000_000, 3, 2), "local[3] on 2 CPUs");
    assertEquals(0, RingOptions.spinNanosFor(2_000_000, 2 * 2, 2), "2 tasks x 2 CPUs on 2");
    assertEquals(0, RingOptions.spinNanosFor(0, 1, 2), "0 asks for no spin");
  }

  @Test
  void spinIsCarriedByEveryCopyAndANegativeOneIsRefused() {
    RingOptions o = RingOptions.DEFAULTS.withSpinNanos(123_000);
    assertEquals(RingOptions.DEFAULT_SPIN_NANOS, RingOptions.DEFAULTS.spinNanos());
    assertEquals(123_000, o.withTimeouts(1, 2).withChunkBytes(4096).withSharedMemory(false)
        .withEncryption(true).spinNanos());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RingOptions.DEFAULTS.withSpinNanos(-1));
    assertEquals("ring spin must be >= 0 ns, got -1", e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> LocalRing.join(RingSecret.generate(), 1, 0, 1, 1_000, -1));
  }
}
