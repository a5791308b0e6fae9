package convspark.driver.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.common.optim.LrSchedule;
import convspark.driver.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * train.min-lr against the peak rate: cosine anneals from the scaled base rate down to min-lr, so
 * a min-lr above it is refused; other schedules do not use min-lr, which is refused with them.
 */
class RunConfigScheduleTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void conf() throws Exception {
    Path p = dir.resolve("x.gz");
    config = dir.resolve("test.conf");
    // base-lr 0.05 for base-batch 32, global batch 32: the peak is 0.05
    Files.writeString(config, TestData.config(p, p, p, p));
  }

  static RunConfig parse(String... sets) {
    List<String> s = new ArrayList<>(List.of(sets));
    return RunConfig.parse(Settings.load(config.toString(), s));
  }

  @Test
  void cosineWithMinLrAboveThePeakRateIsRefused() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> parse("train.schedule=cosine", "train.min-lr=0.3", "train.global-batch=128"));
    // linear scaling: 0.05 x 128 / 32 = 0.2
    assertTrue(e.getMessage().startsWith("config key train.min-lr: expected at most the peak "
        + "learning rate 0.2 "), e.getMessage());
    assertTrue(e.getMessage().contains("found 0.3") && e.getMessage().contains("linear")
        && e.getMessage().contains("train.base-lr 0.05"), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());
    e = assertThrows(BadInputException.class,
        () -> parse("train.schedule=cosine", "train.min-lr=0.06"));
    assertTrue(e.getMessage().contains("peak learning rate 0.05 ")
        && e.getMessage().contains("found 0.06"), e.getMessage());
    // sqrt scaling of a batch 4 x the base: x 2
    e = assertThrows(BadInputException.class, () -> parse("train.schedule=cosine",
        "train.min-lr=0.11", "train.global-batch=128", "train.scaling=sqrt"));
    assertTrue(e.getMessage().contains("peak learning rate 0.1 ")
        && e.getMessage().contains("sqrt scaling factor 2.0"), e.getMessage());
  }

  @Test
  void cosineDownToAtMostThePeakAndOtherSchedulesParse() {
    RunConfig c = parse("train.schedule=cosine", "train.min-lr=0.2", "train.global-batch=128");
    assertEquals(0.2, c.train().lrSchedule().lr(1_000_000, 10), 1e-12);
    c = parse("train.schedule=cosine", "train.min-lr=0.01");
    assertEquals(0.01, c.train().lrSchedule().lr(1_000_000, 10), 1e-12);
    // min-lr is cosine's floor only: set with another schedule it would be ignored, and is
    // refused instead; left at 0 they parse
    for (String schedule : new String[] {"step", "constant"}) {
      BadInputException e = assertThrows(BadInputException.class,
          () -> parse("train.schedule=" + schedule, "train.min-lr=0.3"));
      assertTrue(e.getMessage().startsWith("config key train.min-lr: set to 0.3, but "
          + "train.schedule = " + schedule + " does not use it"), e.getMessage());
    }
    c = parse("train.schedule=step", "train.warmup-epochs=0");
    assertEquals(LrSchedule.Decay.STEP, c.train().decay());
    assertEquals(0.05, c.train().lrSchedule().lr(0, 10), 1e-12);
    c = parse("train.schedule=constant");
    assertEquals(0.05, c.train().lrSchedule().lr(1000, 10), 1e-12);
  }
}
