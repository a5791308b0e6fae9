package convspark.driver.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import convspark.common.BadInputException;
import org.junit.jupiter.api.Test;

/** Integer keys take integers, written as HOCON numbers or strings, and nothing else. */
class KeysTest {
  private static Keys keys(String hocon) {
    return new Keys(ConfigFactory.parseString(hocon));
  }

  @Test
  void wholeNumbersAreIntegersWhateverTheirSpelling() {
    assertEquals(2, keys("a = 2").integer("a"));
    assertEquals(2, keys("a = 2.0").integer("a"));
    assertEquals(2, keys("a = \"2\"").integer("a"));
    assertEquals(-3, keys("a = -3").integer("a"));
    assertEquals(1L << 40, keys("a = 1099511627776").integer("a"));
    assertEquals(7, keys("a = 7").positiveInt("a"));
  }

  @Test
  void fractionsAndTextAreNamedNotTruncated() {
    BadInputException e = assertThrows(BadInputException.class,
        () -> keys("a = 1.5").integer("a"));
    assertEquals("config key a: expected an integer, found 1.5", e.getMessage());
    e = assertThrows(BadInputException.class, () -> keys("a = \"0.5\"").positiveInt("a"));
    assertEquals("config key a: expected an integer, found \"0.5\"", e.getMessage());
    e = assertThrows(BadInputException.class, () -> keys("a = 1e30").integer("a"));
    assertEquals("config key a: expected an integer, found 1.0E30", e.getMessage());
    e = assertThrows(BadInputException.class, () -> keys("a = many").integer("a"));
    assertEquals("config key a: expected an integer, found \"many\"", e.getMessage());
  }

  @Test
  void boundedIntegersNameTheirRange() {
    assertEquals(0, keys("a = 0").intAtMost("a", 10));
    assertEquals(10, keys("a = 10").intAtMost("a", 10));
    BadInputException e = assertThrows(BadInputException.class,
        () -> keys("a = 11").intAtMost("a", 10));
    assertEquals("config key a: expected an integer in [0, 10], found 11", e.getMessage());
    assertThrows(BadInputException.class, () -> keys("a = -1").intAtMost("a", 10));
  }
}
