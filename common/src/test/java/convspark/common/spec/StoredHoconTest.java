package convspark.common.spec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model spec read from a checkpoint, an exported file or a saved model is data: it includes
 * nothing (no file read, no URL fetched: a URL that never answers hung the reader for good) and
 * substitutes nothing from the environment (which an error message then printed).
 */
class StoredHoconTest {
  private static final String LAYERS = "layers = [ { type = flatten }, { type = dense, units = 2 } ]";

  @Test
  void aFileIncludeIsRefusedNotRead(@TempDir Path dir) throws IOException {
    Path f = dir.resolve("input.conf");
    Files.writeString(f, "input { channels = 1, height = 4, width = 4 }\n");
    String m = assertThrows(BadInputException.class, () -> ModelSpec.parse(
        "model { include file(\"" + f + "\")\n " + LAYERS + " }")).getMessage();
    assertTrue(m.contains("include") && m.contains("refused"), m);
    for (String form : new String[] {"\"" + f + "\"", "required(file(\"" + f + "\"))",
        "classpath(\"reference.conf\")"}) {
      String m2 = assertThrows(BadInputException.class, () -> ModelSpec.parse(
          "model { include " + form + "\n " + LAYERS + " }")).getMessage();
      assertTrue(m2.contains("refused"), form + ": " + m2);
    }
  }

  @Test
  @Timeout(20)
  void aUrlIncludeIsRefusedWithoutConnecting() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      s.setSoTimeout(300);
      String m = assertThrows(BadInputException.class, () -> ModelSpec.parse(
          "include url(\"http://127.0.0.1:" + s.getLocalPort() + "/spec.conf\")\nmodel {}"))
          .getMessage();
      assertTrue(m.contains("refused"), m);
      boolean connected;
      try {
        s.accept().close();
        connected = true;
      } catch (SocketTimeoutException e) {
        connected = false;
      }
      assertFalse(connected, "parsing a stored spec connected to the URL it includes");
    }
  }

  @Test
  void substitutionsNeverReachTheEnvironment() {
    String home = System.getenv("HOME");
    String m = assertThrows(BadInputException.class, () -> ModelSpec.parse(
        "model { input { channels = 1, height = 4, width = 4 }\n"
            + " layers = [ { type = ${HOME} } ] }")).getMessage();
    if (home != null) {
      assertFalse(m.contains(home), m);
    }
    // substitutions within the text itself still work
    ModelSpec spec = ModelSpec.parse("n = 3\nmodel { input { channels = 1, height = 4, "
        + "width = 4 }\n layers = [ { type = flatten }, { type = dense, units = ${n} } ] }");
    assertEquals(2, spec.layers().size());
  }

  @Test
  void aSpecNestedTooDeeplyIsBadInputNotAStackOverflow() {
    int d = 5000;
    String spec = "model { input { channels = 1, height = 4, width = 4 }\n layers = "
        + "[ { type = residual, layers = ".repeat(d) + "[ { type = relu } ]" + " } ]".repeat(d)
        + " }";
    String m = assertThrows(BadInputException.class, () -> ModelSpec.parse(spec)).getMessage();
    assertTrue(m.startsWith("model spec: nested too deeply"), m);
  }
}
