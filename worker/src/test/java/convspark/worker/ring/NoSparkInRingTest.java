package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The ring package must run without Spark (threads, processes, bench-scale's bundle): no class
 * of it may reference org.apache.spark. Checks the compiled classes' constant pools (every class
 * a class file uses is named there) and the sources.
 */
class NoSparkInRingTest {
  @Test
  void noClassOfTheRingPackageReferencesSpark() throws IOException, URISyntaxException {
    Path classes = Path.of(Ring.class.getProtectionDomain().getCodeSource().getLocation().toURI())
        .resolve("convspark/worker/ring");
    List<Path> files;
    try (Stream<Path> s = Files.list(classes)) {
      files = s.filter(p -> p.toString().endsWith(".class")).collect(Collectors.toList());
    }
    assertTrue(files.size() >= 7, "found only " + files + " in " + classes);
    for (Path f : files) {
      String pool = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
      assertEquals(-1, pool.indexOf("org/apache/spark"), f + " references Spark");
      assertEquals(-1, pool.indexOf("scala/"), f + " references Scala");
    }
    Path sources = Path.of("src/main/java/convspark/worker/ring");
    if (Files.isDirectory(sources)) {
      try (Stream<Path> s = Files.list(sources)) {
        for (Path f : (Iterable<Path>) s::iterator) {
          assertEquals(-1, Files.readString(f).indexOf("org.apache.spark"), f + " imports Spark");
        }
      }
    }
  }
}
