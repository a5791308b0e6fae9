package convspark.driver.exec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import org.junit.jupiter.api.Test;

/** train.workers = 0 picks a partition count that divides the global batch. */
class PartitionsTest {
  @Test
  void autoWorkersIsTheLargestDivisorUpToTheParallelism() {
    assertEquals(2, Partitions.autoWorkers(128, 2));
    assertEquals(2, Partitions.autoWorkers(128, 3)); // a 3-core local[*]
    assertEquals(4, Partitions.autoWorkers(128, 6));
    assertEquals(16, Partitions.autoWorkers(128, 16));
    assertEquals(3, Partitions.autoWorkers(96, 3));
    assertEquals(6, Partitions.autoWorkers(96, 7));
    assertEquals(1, Partitions.autoWorkers(127, 8)); // prime: one partition
    assertEquals(1, Partitions.autoWorkers(128, 1));
    assertEquals(1, Partitions.autoWorkers(128, 0));
    for (int batch = 1; batch <= 300; batch++) {
      for (int par = 1; par <= 20; par++) {
        int p = Partitions.autoWorkers(batch, par);
        assertTrue(p >= 1 && p <= par && batch % p == 0, batch + "/" + par + " -> " + p);
        for (int q = p + 1; q <= par; q++) {
          assertTrue(batch % q != 0, batch + "/" + par + ": " + q + " divides too");
        }
      }
    }
  }

  @Test
  void anExplicitWorkerCountThatDoesNotDivideIsNamed() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> Partitions.localBatch(128, 3, "train.global-batch", "train.workers"));
    assertEquals("config key train.global-batch: 128 does not divide evenly over 3 workers "
        + "(train.workers)", e.getMessage());
    assertEquals(64, Partitions.localBatch(128, 2, "train.global-batch", "train.workers"));
  }
}
