package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.io.Checkpoint;
import convspark.driver.TestData;
import convspark.driver.metrics.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Early stopping across {@code --resume}: a run interrupted after every epoch (its patience
 * counter, best epoch and best.bin carried by the checkpoints) stops at the same epoch, keeps the
 * same best epoch and ends with the same weights, bit for bit, as the run left alone, for both
 * step engines.
 */
class ResumeEarlyStopTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "stop.conf", 1200, 200);
  }

  private static CliTrainTest.Run train(Path out, String engine, String... extra) {
    String[] base = {"--set", "train.engine=" + engine, "--set", "train.epochs=8", "--set",
        "train.early-stopping.patience=2", "--set", "train.early-stopping.min-delta=0.01"};
    String[] all = Arrays.copyOf(base, base.length + extra.length);
    System.arraycopy(extra, 0, all, base.length, extra.length);
    return CliTrainTest.train(config, out, all);
  }

  /**
   * The run left alone stops after epoch 4 (validation loss 0.3604 at epoch 2, then less than
   * min-delta better twice); the same run stopped after every epoch (--stop-after 1, as a job with
   * a time window) and resumed each time carries the count through epochs 3 and 4.
   */
  @ParameterizedTest
  @ValueSource(strings = {"driver", "ring"})
  void aRunResumedAfterEveryEpochStopsWhereAndAsTheWholeRunDoes(String engine) throws Exception {
    Path whole = dir.resolve(engine + "-whole");
    CliTrainTest.Run w = train(whole, engine);
    assertEquals(0, w.code(), w.err());
    JsonNode ws = CliTrainTest.summary(whole);
    assertEquals("early-stopped", ws.get("ended").asText(), ws.toString());
    int stopped = ws.get("epochs_run").asInt();
    int best = ws.get("best_val").get("epoch").asInt();
    assertTrue(stopped < 8 && best > 1 && best < stopped - 1, "a stop after a best epoch "
        + "other than the first, with epochs between: " + ws);
    Path split = dir.resolve(engine + "-split");
    CliTrainTest.Run r = train(split, engine, "--stop-after", "1");
    for (int i = 1; i < stopped; i++) {
      assertEquals(0, r.code(), r.err());
      assertEquals("paused", CliTrainTest.summary(split).get("ended").asText());
      r = train(split, engine, "--stop-after", "1", "--resume");
    }
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("early stopping after epoch " + stopped), r.out());
    JsonNode ss = CliTrainTest.summary(split);
    assertEquals("early-stopped", ss.get("ended").asText(), ss.toString());
    assertEquals(stopped, ss.get("epochs_run").asInt());
    assertEquals(best, ss.get("best_val").get("epoch").asInt());
    assertEquals(best, ss.get("test").get("weights_epoch").asInt());
    assertEquals(ws.get("best_val").get("loss").asDouble(),
        ss.get("best_val").get("loss").asDouble(), 0.0);
    assertEquals(ws.get("test").get("loss").asDouble(), ss.get("test").get("loss").asDouble(),
        0.0);
    for (String f : List.of("final.bin", "best.bin")) {
      Checkpoint a = CliTrainTest.ckpt(whole.resolve("checkpoints/" + f));
      Checkpoint b = CliTrainTest.ckpt(split.resolve("checkpoints/" + f));
      assertEquals(best, b.epoch(), f);
      assertArrayEquals(a.params(), b.params(), 0f, f + ": the same bits");
      assertArrayEquals(a.state(), b.state(), 0f, f);
    }
    Checkpoint a = CliTrainTest.ckpt(whole.resolve(String.format(
        "checkpoints/ckpt-%012d.bin", stopped * 30L)));
    Checkpoint b = CliTrainTest.ckpt(split.resolve(String.format(
        "checkpoints/ckpt-%012d.bin", stopped * 30L)));
    assertArrayEquals(a.params(), b.params(), 0f, "the last epoch's weights");
    assertArrayEquals(a.optimizerState()[0], b.optimizerState()[0], 0f, "and momentum");
    assertEquals(a.meta().get("early.bad-epochs"), b.meta().get("early.bad-epochs"));
    List<String> la = Files.readAllLines(whole.resolve("metrics.jsonl"));
    List<String> lb = Files.readAllLines(split.resolve("metrics.jsonl"));
    assertEquals(stopped, lb.size());
    for (int i = 0; i < stopped; i++) {
      for (String k : List.of("trainLoss", "valLoss", "lr")) {
        assertEquals(Json.MAPPER.readTree(la.get(i)).get(k).asDouble(),
            Json.MAPPER.readTree(lb.get(i)).get(k).asDouble(), 0.0, k + " of epoch " + (i + 1));
      }
    }
  }
}
