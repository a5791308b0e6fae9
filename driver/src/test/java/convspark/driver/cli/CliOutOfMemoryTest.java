package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import convspark.driver.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An OutOfMemoryError in one of convspark's Spark tasks fails the command with one line that
 * says so, exit 3, instead of Spark ending the JVM (exit 52 in local mode, where the executor is
 * the driver's JVM, reported as a shutdown by a signal). The model is one wide conv layer
 * (32,768 filters on 12x12: 4.7 M values a sample), so a batch of a few hundred samples needs a
 * single array of several GB, which this test JVM's heap (surefire's -Xmx3g) cannot hold: the
 * allocation fails at once, before any compute, every time.
 */
class CliOutOfMemoryTest {
  @TempDir static Path dir;
  /** 240 training samples: a local batch of 192 after the validation split. */
  static Path big;
  /** 20 training samples, global batch 8: trains in a few steps. */
  static Path small;

  static final long PER_SAMPLE = 32768L * 12 * 12;

  @BeforeAll
  static void data() throws Exception {
    big = config("big", 240);
    small = config("small", 20);
  }

  static Path config(String name, int train) throws Exception {
    Path[] tr = TestData.writeIdx(dir, name + "-train", train, 1);
    Path[] te = TestData.writeIdx(dir, name + "-test", 8, 2);
    return Files.writeString(dir.resolve(name + ".conf"), """
        data {
          format = idx
          train { images = "%s", labels = "%s" }
          test { images = "%s", labels = "%s" }
          scale = 0.00392156862745098
          validation-fraction = 0.2
        }
        model {
          input { channels = 1, height = 12, width = 12 }
          layers = [
            { type = conv, filters = 32768, kernel = 3, padding = 1 }
            { type = globalavgpool }
            { type = dense, units = 4 }
          ]
        }
        train {
          epochs = 1
          workers = 1
          global-batch = 8
          eval-batch = 8
          seed = 7
          log-every-steps = 0
        }
        predict.inference-batch = 8
        spark { master = "local[2]" }
        """.formatted(tr[0], tr[1], te[0], te[1]));
  }

  /** Skips where the heap could hold {@code samples} samples' activations (then no OOM). */
  static void assumeTooBig(int samples) {
    assumeTrue(samples * PER_SAMPLE * 4 > Runtime.getRuntime().maxMemory(),
        "the test JVM's heap holds a batch of " + samples);
  }

  /** The one line of a run that ran out of memory in a task, exit 3. */
  static String oomLine(CliTrainTest.Run r, String prefix) {
    String err = CliRobustnessTest.oneLine(r, 3);
    assertTrue(err.startsWith(prefix + "out of memory in a Spark task ("), err);
    assertTrue(err.contains("CONVSPARK_MEMORY") && err.contains("spark.executor.memory"), err);
    assertTrue(err.contains(String.format("heap %.1f GiB", Runtime.getRuntime().maxMemory()
        / (double) (1L << 30))), err);
    assertTrue(!err.contains("SIGINT") && !err.contains("shutting down"), err);
    return err;
  }

  @Test
  void aTrainingStepOfTheDriverEngine() {
    assumeTooBig(192);
    String err = oomLine(CliTrainTest.train(big, dir.resolve("step-driver"), "--set",
        "train.global-batch=192", "--set", "train.engine=driver"), "convspark: training failed: ");
    assertTrue(err.contains("(a training step, partition 0;"), err);
    assertTrue(err.contains("a smaller train.global-batch (192 samples per worker now)"), err);
  }

  @Test
  void aRingRound() {
    assumeTooBig(192);
    String err = oomLine(CliTrainTest.train(big, dir.resolve("step-ring"), "--set",
        "train.global-batch=192", "--set", "train.engine=ring"), "convspark: training failed: ");
    assertTrue(err.contains("(a ring training round, rank 0;"), err);
    assertTrue(err.contains("a smaller train.global-batch (192 samples per worker now)"), err);
    // the same round would run out of memory again: not rerun (train.ring.attempts)
    assertTrue(!err.contains("times in the ring engine"), err);
  }

  @Test
  void theValidationAfterAnEpoch() {
    assumeTooBig(455);
    String err = oomLine(CliTrainTest.train(small, dir.resolve("eval"), "--set",
        "train.eval-batch=455"), "convspark: training failed: ");
    assertTrue(err.contains("(evaluation, partition 0;"), err);
    assertTrue(err.contains("a smaller train.eval-batch (455 now)"), err);
  }

  @Test
  void scoringInPredict() throws Exception {
    // scoring borrows a workspace for the pending rows (the power of two at or above their
    // count, at most the inference batch): 600 rows in at most 4 partitions need 256 at least
    assumeTooBig(256);
    Path run = dir.resolve("trained");
    CliTrainTest.Run t = CliTrainTest.train(small, run);
    assertEquals(0, t.code(), t.err());
    Path[] te = TestData.writeIdx(dir, "score-test", 600, 3);
    String err = oomLine(CliTrainTest.run("predict", "--config", small.toString(),
        "--checkpoint", run.toString(), "--output",
        dir.resolve("p.csv").toString(), "--set", "predict.inference-batch=455",
        "--set", "data.test.images=\"" + te[0] + "\"", "--set",
        "data.test.labels=\"" + te[1] + "\""),
        "convspark: failed: ");
    assertTrue(err.contains("(scoring, partition "), err);
    assertTrue(err.contains("a smaller predict.inference-batch"), err);
  }
}
