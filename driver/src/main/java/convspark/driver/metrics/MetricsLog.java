package convspark.driver.metrics;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** A run's {@code metrics.jsonl}: one {@link EpochMetrics} JSON line per epoch. */
public final class MetricsLog {
  private final Path file;

  public MetricsLog(Path file) {
    this.file = file;
  }

  /** Appends one epoch's line. */
  public void append(EpochMetrics m) throws IOException {
    Files.writeString(file, Json.write(m) + "\n", StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  /**
   * The epochs up to {@code upToEpoch}, for a resumed run; the lines of later epochs, which the
   * run will redo, are removed from the file.
   */
  public List<EpochMetrics> truncateTo(int upToEpoch) {
    List<EpochMetrics> h = new ArrayList<>();
    if (!Files.exists(file)) {
      return h;
    }
    List<String> kept = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.isBlank()) {
          continue;
        }
        EpochMetrics m = Json.MAPPER.readValue(line, EpochMetrics.class);
        if (m.epoch() <= upToEpoch) {
          h.add(m);
          kept.add(line);
        }
      }
      Files.write(file, kept);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return h;
  }
}
