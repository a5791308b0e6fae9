package convspark.driver.metrics;

import com.fasterxml.jackson.core.JsonProcessingException;
import convspark.common.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

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
   * run will redo, are removed from the file. A line torn by a kill mid-append (or otherwise
   * unreadable) is reported to {@code warn} and skipped, never a reason to refuse the resume:
   * the checkpoints, not the metrics, say where the run is. The file is rewritten only when a
   * line goes, and atomically: a failed rewrite leaves it as it was.
   */
  public List<EpochMetrics> truncateTo(int upToEpoch, Consumer<String> warn) {
    List<EpochMetrics> h = new ArrayList<>();
    if (!Files.exists(file)) {
      return h;
    }
    StringBuilder kept = new StringBuilder();
    try {
      String old = Files.readString(file, StandardCharsets.UTF_8);
      for (String line : old.lines().toList()) {
        if (line.isBlank()) {
          continue;
        }
        EpochMetrics m;
        try {
          m = Json.MAPPER.readValue(line, EpochMetrics.class);
        } catch (JsonProcessingException e) {
          String shown = line.length() > 60 ? line.substring(0, 60) + "..." : line;
          warn.accept("skipping an unreadable line of " + file
              + " (torn by an interrupted write?): " + shown);
          continue;
        }
        if (m.epoch() <= upToEpoch) {
          h.add(m);
          kept.append(line).append('\n');
        }
      }
      if (!kept.toString().equals(old)) {
        AtomicFiles.writeString(file, kept.toString());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return h;
  }
}
