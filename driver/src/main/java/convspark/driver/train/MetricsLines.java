package convspark.driver.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import convspark.driver.metrics.EpochMetrics;
import convspark.driver.metrics.Json;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Reading back a run's metrics.jsonl on resume. A line torn by a kill mid-append (or otherwise
 * unreadable) is reported and skipped, never a reason to refuse the resume: the checkpoints, not
 * the metrics, say where the run is, and the epochs after the checkpoint are redone anyway.
 */
final class MetricsLines {
  private MetricsLines() {}

  /** The metrics of one line, or null (reported on {@code log}) when it cannot be read. */
  static EpochMetrics parse(String line, Path file, PrintStream log) {
    try {
      return Json.MAPPER.readValue(line, EpochMetrics.class);
    } catch (JsonProcessingException e) {
      String shown = line.length() > 60 ? line.substring(0, 60) + "..." : line;
      log.println("convspark: WARNING: skipping an unreadable line of " + file + " (torn by an "
          + "interrupted write?): " + shown);
      return null;
    }
  }
}
