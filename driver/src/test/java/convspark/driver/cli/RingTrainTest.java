package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.io.Checkpoint;
import convspark.driver.CliRunner;
import convspark.driver.TestData;
import convspark.driver.metrics.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code convspark train} with {@code train.engine = ring} in local[2], end to end: it trains the
 * generated data to the accuracy the driver engine reaches, writes the ring's metrics, names the
 * engine in summary.json, and two runs with the same seed end with the same weights.
 */
class RingTrainTest {
  @TempDir static Path dir;
  static Path config;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "test.conf", 1600, 400);
  }

  static CliRunner.Run train(Path out, String... more) {
    List<String> args = new java.util.ArrayList<>(List.of("train", "--config", config.toString(),
        "--out", out.toString(), "--set", "train.engine=ring", "--set", "train.epochs=3"));
    args.addAll(List.of(more));
    return CliRunner.run(args.toArray(new String[0]));
  }

  @Test
  void trainsWithTheRingEngineAndRepeatsBitForBit() throws Exception {
    Path a = dir.resolve("ring-a");
    CliRunner.Run r = train(a);
    assertEquals(0, r.code(), r.err());
    JsonNode s = Json.MAPPER.readTree(a.resolve("summary.json").toFile());
    assertEquals("ring", s.get("engine").asText());
    assertTrue(s.get("test").get("accuracy").asDouble() >= 0.9, s.toString());
    assertEquals(3, s.get("epochs_run").asInt());
    List<String> lines = Files.readAllLines(a.resolve("metrics.jsonl"));
    assertEquals(3, lines.size());
    for (String line : lines) {
      JsonNode m = Json.MAPPER.readTree(line);
      assertTrue(m.get("allreduceBytes").asLong() > 0, line);
      assertTrue(m.get("allreduceSeconds").asDouble() > 0, line);
      assertTrue(m.get("computeSeconds").asDouble() > 0, line);
    }
    assertEquals("local[2]", s.get("master").asText());
    // the same two task slots under another master URL (local[N,F]: F task attempts): the
    // summary names the master the run used, which --master gave, not the config's
    Path b = dir.resolve("ring-b");
    CliRunner.Run r2 = train(b, "--master", "local[2,1]");
    assertEquals(0, r2.code(), r2.err());
    JsonNode sb = Json.MAPPER.readTree(b.resolve("summary.json").toFile());
    assertEquals("local[2,1]", sb.get("master").asText());
    assertEquals("local[2]", sb.get("config").get("spark").get("master").asText());
    Checkpoint ca = read(a.resolve("checkpoints/final.bin"));
    Checkpoint cb = read(b.resolve("checkpoints/final.bin"));
    assertArrayEquals(ca.params(), cb.params(), 0f, "same seed, same P: same bits");
    assertArrayEquals(ca.state(), cb.state(), 0f);
  }

  /**
   * {@code train.ring.round-steps = 7} (40 steps per epoch: rounds of 7, the last of 5) ends with
   * the same weights, bit for bit, and the same epoch metrics as one round per epoch; progress
   * lines count steps from the epoch's start.
   */
  @Test
  void roundsShorterThanAnEpochGiveTheSameWeightsAsOneRoundPerEpoch() throws Exception {
    Path whole = dir.resolve("ring-epoch-rounds");
    CliRunner.Run r = CliRunner.run("train", "--config", config.toString(), "--out",
        whole.toString(), "--set", "train.engine=ring", "--set", "train.epochs=2");
    assertEquals(0, r.code(), r.err());
    Path split = dir.resolve("ring-7-step-rounds");
    CliRunner.Run r7 = CliRunner.run("train", "--config", config.toString(), "--out",
        split.toString(), "--set", "train.engine=ring", "--set", "train.epochs=2",
        "--set", "train.ring.round-steps=7", "--set", "train.log-every-steps=7");
    assertEquals(0, r7.code(), r7.err());
    assertTrue(r7.out().contains("40 steps/epoch"), r7.out());
    assertTrue(r7.out().contains("step 14/40"), "progress counts from the epoch start: "
        + r7.out());
    Checkpoint a = read(whole.resolve("checkpoints/final.bin"));
    Checkpoint b = read(split.resolve("checkpoints/final.bin"));
    assertArrayEquals(a.params(), b.params(), 0f, "rounds of 7 steps: same bits");
    assertArrayEquals(a.state(), b.state(), 0f);
    assertEquals(a.optimizerSteps(), b.optimizerSteps());
    List<String> la = Files.readAllLines(whole.resolve("metrics.jsonl"));
    List<String> lb = Files.readAllLines(split.resolve("metrics.jsonl"));
    assertEquals(2, lb.size());
    for (int i = 0; i < 2; i++) {
      JsonNode ma = Json.MAPPER.readTree(la.get(i));
      JsonNode mb = Json.MAPPER.readTree(lb.get(i));
      for (String k : new String[] {"step", "trainAccuracy", "valLoss", "valAccuracy", "lr"}) {
        assertEquals(ma.get(k).asDouble(), mb.get(k).asDouble(), 0.0, k + " of epoch " + (i + 1));
      }
      // the epoch's loss is a sum of the rounds' double sums: a different order of additions
      assertEquals(ma.get("trainLoss").asDouble(), mb.get("trainLoss").asDouble(),
          1e-12 * ma.get("trainLoss").asDouble(), "trainLoss of epoch " + (i + 1));
      // 6 rounds of the same steps send the same gradient bytes as one
      assertEquals(ma.get("allreduceBytes").asLong(), mb.get("allreduceBytes").asLong());
    }
  }

  private static Checkpoint read(Path p) throws Exception {
    return Checkpoint.fromBytes(Files.readAllBytes(p), p.toString());
  }
}
