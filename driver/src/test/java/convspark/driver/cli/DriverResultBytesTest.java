package convspark.driver.cli;

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
 * The bytes the driver receives per training step, measured by the run's Spark listener
 * ({@code driverResultBytes} in metrics.jsonl), in local[2] with 2 workers over 2 epochs of 40
 * steps. The driver engine receives every partition's gradient every step: at least
 * P x 4 x params bytes per step. The ring engine receives one state per round (rank 0's
 * parameters, batch-norm state and optimizer state) and from every other task an empty result:
 * per round at least 4 x params bytes (so the listener does see the ring's result) and at most
 * 4 x (params x (1 + optimizer slots) + state) + P x 8 KiB of task-result overhead; with one
 * round per epoch that is far below one gradient per step.
 */
class DriverResultBytesTest {
  @TempDir static Path dir;
  static Path config;
  static final int PARTITIONS = 2;
  static final int STEPS = 40;

  @BeforeAll
  static void data() throws Exception {
    config = TestData.writeConfig(dir, "test.conf", 1600, 400);
  }

  static List<JsonNode> train(Path out, String engine, String... more) throws Exception {
    List<String> args = new java.util.ArrayList<>(List.of("train", "--config",
        config.toString(), "--out", out.toString(), "--set", "train.engine=" + engine,
        "--set", "train.epochs=2"));
    for (String s : more) {
      args.add("--set");
      args.add(s);
    }
    CliRunner.Run r = CliRunner.run(args.toArray(new String[0]));
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains(STEPS + " steps/epoch"), r.out());
    List<JsonNode> lines = new java.util.ArrayList<>();
    for (String l : Files.readAllLines(out.resolve("metrics.jsonl"))) {
      lines.add(Json.MAPPER.readTree(l));
    }
    assertEquals(2, lines.size());
    return lines;
  }

  @Test
  void driverEngineReceivesEveryGradientTheRingOneStatePerRound() throws Exception {
    Path d = dir.resolve("driver");
    List<JsonNode> driver = train(d, "driver");
    Checkpoint c = Checkpoint.fromBytes(Files.readAllBytes(d.resolve("checkpoints/final.bin")),
        "final.bin");
    long params = c.params().length;
    long state = c.state().length;
    long slots = c.optimizerState().length;
    long gradient = 4 * params;
    for (JsonNode m : driver) {
      double perStep = m.get("driverResultBytesPerStep").asDouble();
      System.out.printf("driver engine: %s bytes/step (gradient %d bytes, %d partitions)%n",
          perStep, gradient, PARTITIONS);
      assertEquals(m.get("driverResultBytes").asDouble() / STEPS, perStep, 1e-9 * perStep);
      assertTrue(perStep >= PARTITIONS * gradient, "driver engine: " + perStep
          + " bytes per step, expected at least " + PARTITIONS + " gradients of " + gradient);
    }
    for (int roundSteps : new int[] {0, 10}) {
      int rounds = roundSteps == 0 ? 1 : STEPS / roundSteps;
      List<JsonNode> ring = train(dir.resolve("ring-" + roundSteps), "ring",
          "train.ring.round-steps=" + roundSteps);
      long perRoundMax = 4 * (params * (1 + slots) + state) + PARTITIONS * 8192L;
      for (JsonNode m : ring) {
        long bytes = m.get("driverResultBytes").asLong();
        double perStep = m.get("driverResultBytesPerStep").asDouble();
        System.out.printf("ring engine, %d rounds/epoch: %d bytes/epoch, %s bytes/step "
            + "(bound %d per round)%n", rounds, bytes, perStep, perRoundMax);
        assertTrue(bytes >= rounds * gradient, "ring: " + bytes + " bytes in " + rounds
            + " rounds, expected at least the weights of every round");
        assertTrue(bytes <= rounds * perRoundMax, "ring: " + bytes + " bytes in " + rounds
            + " rounds, expected at most " + perRoundMax + " per round");
      }
      if (roundSteps == 0) {
        double perStep = ring.get(1).get("driverResultBytesPerStep").asDouble();
        assertTrue(perStep < gradient, "ring, one round per epoch: " + perStep
            + " bytes per step, expected less than one gradient (" + gradient + ")");
      }
    }
  }
}
