package convspark.driver.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import java.util.List;
import org.junit.jupiter.api.Test;

/** --set overrides: values kept whole, HOCON values keep their type. */
class SettingsTest {
  private static Config set(String... sets) {
    return Settings.load(null, List.of(sets));
  }

  private static String path(String set) {
    return set(set).getString(set.substring(0, set.indexOf('=')));
  }

  @Test
  void setValuesThatHoconWouldReadAsACommentAreKeptWhole() {
    assertEquals("/tmp/a//train.idx.gz", path("data.train.images=/tmp/a//train.idx.gz"));
    assertEquals("/tmp/x.gz#v2", path("data.train.images=/tmp/x.gz#v2"));
    assertEquals("/tmp/x.gz # v2", path("data.train.images=/tmp/x.gz # v2"));
    assertEquals("hdfs://host/path", path("data.train.path=hdfs://host/path"));
    assertEquals("hdfs://host:8020/a//b", path("data.train.path=hdfs://host:8020/a//b"));
    assertEquals("s3a://b/k", path("data.train.path=s3a://b/k"));
    assertEquals("[1, 2] // two", path("data.train.path=[1, 2] // two"));
  }

  @Test
  void setValuesThatAreHoconKeepTheirType() {
    assertEquals("quoted // not # a comment",
        path("data.train.path=\"quoted // not # a comment\""));
    assertEquals("/tmp/plain.gz", path("data.train.path=/tmp/plain.gz"));
    Config c = set("train.epochs=3", "data.csv.header=true", "data.normalize.mean=[0.5, 0.25]",
        "data.normalize={ std = [2, 4] }", "data.validation-fraction = 0.2");
    assertEquals(ConfigValueType.NUMBER, c.getValue("train.epochs").valueType());
    assertEquals(3, c.getInt("train.epochs"));
    assertTrue(c.getBoolean("data.csv.header"));
    assertEquals(List.of(0.5, 0.25), c.getDoubleList("data.normalize.mean"));
    assertEquals(List.of(2.0, 4.0), c.getDoubleList("data.normalize.std"));
    assertEquals("auto", c.getString("data.normalize.mode"));
    assertEquals(0.2, c.getDouble("data.validation-fraction"));
  }

  @Test
  void aSetValueSetsOneKeyOnly() {
    Config c = set("data.train.path=a, data.test.path=b");
    assertEquals("a, data.test.path=b", c.getString("data.train.path"));
    assertEquals("", c.getString("data.test.path"));
    c = set("data.train.path=a\ndata.test.path=b");
    assertEquals("a\ndata.test.path=b", c.getString("data.train.path"));
    assertEquals("", c.getString("data.test.path"));
  }

  @Test
  void startsCommentLooksOutsideQuotesOnly() {
    assertTrue(Settings.startsComment("a//b"));
    assertTrue(Settings.startsComment("a#b"));
    assertTrue(Settings.startsComment("\"a//b\" // c"));
    assertFalse(Settings.startsComment("\"a//b#c\""));
    assertFalse(Settings.startsComment("\"a\\\"//b\""));
    assertFalse(Settings.startsComment("\"\"\"a//\"b\"#\"\"\""));
    assertFalse(Settings.startsComment("a/b"));
  }
}
