package convspark.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Map;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.ConfigurationSource;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.properties.PropertiesConfigurationFactory;
import org.apache.logging.log4j.core.impl.Log4jLogEvent;
import org.apache.logging.log4j.message.SimpleMessage;
import org.junit.jupiter.api.Test;

/**
 * The drivers' log4j2 configs (the jar's log4j2.properties, and the one scripts/local-cluster.sh
 * writes for drivers under scripts/submit.sh and for executors) drop Spark's harmless messages
 * and keep its other ones.
 */
class LogConfigTest {
  /** The two configs, by where they come from. */
  static Map<String, String> configs() throws Exception {
    String jar = Files.readString(TestData.projectRoot()
        .resolve("driver/src/main/resources/log4j2.properties"), StandardCharsets.UTF_8);
    String script = Files.readString(TestData.projectRoot().resolve("scripts/local-cluster.sh"),
        StandardCharsets.UTF_8);
    String start = "cat > \"$conf/log4j2.properties\" <<'EOF'\n";
    int from = script.indexOf(start);
    assertTrue(from >= 0, "local-cluster.sh writes no log4j2.properties");
    from += start.length();
    String cluster = script.substring(from, script.indexOf("\nEOF\n", from) + 1);
    return Map.of("log4j2.properties", jar, "local-cluster.sh's log4j2.properties", cluster);
  }

  static boolean shown(Configuration c, String logger, Level level, String message) {
    LoggerConfig lc = c.getLoggerConfig(logger);
    return lc.getLevel().isLessSpecificThan(level) && !lc.isFiltered(Log4jLogEvent.newBuilder()
        .setLoggerName(logger).setLevel(level).setMessage(new SimpleMessage(message)).build());
  }

  @Test
  void aBroadcastRemovedTwiceIsNotLoggedAndOtherCleanerErrorsStillAre() throws Exception {
    for (Map.Entry<String, String> e : configs().entrySet()) {
      Configuration c = new PropertiesConfigurationFactory().getConfiguration(
          new LoggerContext("test"), new ConfigurationSource(new ByteArrayInputStream(
              e.getValue().getBytes(StandardCharsets.UTF_8))));
      c.initialize();
      String where = e.getKey();
      // the race of a step's destroy and the ContextCleaner (seen on the local cluster)
      assertFalse(shown(c, "org.apache.spark.storage.BlockManagerMaster", Level.WARN,
          "Failed to remove broadcast 171 with removeFromMaster = true - Block "
          + "broadcast_171_piece0 does not exist"), where);
      assertFalse(shown(c, "org.apache.spark.ContextCleaner", Level.ERROR,
          "Error cleaning broadcast 171"), where);
      assertFalse(shown(c, "org.apache.spark.storage.BlockManager", Level.WARN,
          "Asked to remove block broadcast_3, which does not exist"), where);
      // what else those loggers say still shows
      assertTrue(shown(c, "org.apache.spark.storage.BlockManagerMaster", Level.WARN,
          "Failed to remove broadcast 171 with removeFromMaster = true - Connection reset"),
          where);
      assertTrue(shown(c, "org.apache.spark.ContextCleaner", Level.ERROR,
          "Error cleaning shuffle 4"), where);
      assertTrue(shown(c, "org.apache.spark.storage.BlockManager", Level.WARN,
          "Block rdd_3_0 could not be removed as it was not found on disk or in memory"), where);
      assertEquals(Level.WARN, c.getRootLogger().getLevel(), where);
    }
  }
}
