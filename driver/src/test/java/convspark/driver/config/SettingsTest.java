package convspark.driver.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The config file and --set overrides: values kept whole, includes found beside the file. */
class SettingsTest {
  @TempDir Path dir;

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
  void aSyntaxErrorNamesTheFileOnceWithItsLine() throws Exception {
    Path f = dir.resolve("bad.conf");
    Files.writeString(f, "train {\n  epochs = 3\n  seed = [1\n}\n");
    String e = assertThrows(convspark.common.BadInputException.class,
        () -> Settings.load(f.toString(), List.of())).getMessage();
    assertTrue(e.startsWith(f.toAbsolutePath() + ": 4: "), e);
    assertEquals(1, e.split("bad\\.conf", -1).length - 1, "the file once: " + e);
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
  void substitutionsInTheFileAndInSetValuesAreResolved() throws Exception {
    Path f = dir.resolve("subst.conf");
    Files.writeString(f, "train { workers = 4, epochs = ${train.workers} }\n"
        + "data.train.path = ${?CONVSPARK_TEST_UNSET_VARIABLE}\n" + MODEL);
    Config c = Settings.load(f.toString(), List.of("train.global-batch=${train.epochs}"));
    assertEquals(4, c.getInt("train.epochs"));
    assertEquals(4, c.getInt("train.global-batch"));
    assertEquals("", c.getString("data.train.path"));
    assertEquals(7, set("train.workers=7", "train.epochs=${train.workers}")
        .getInt("train.epochs"));
    Path g = dir.resolve("unknown.conf");
    Files.writeString(g, "train { epochs = ${train.workers}, nope = 1 }\n" + MODEL);
    BadInputException e = assertThrows(BadInputException.class,
        () -> Settings.load(g.toString(), List.of()));
    assertEquals(g + ": unknown config key 'train.nope'", e.getMessage().split(";")[0]);
  }

  /**
   * An unknown key's error names the known key it was probably meant to be: a letter off, the
   * camelCase a Spark ML user writes, the same name in another block; and none when no key is
   * close, rather than a guess.
   */
  @Test
  void anUnknownKeyNamesTheKeyItWasProbablyMeantToBe() {
    Map<String, String> meant = new java.util.LinkedHashMap<>();
    meant.put("train.epoch=3", "train.epochs");
    meant.put("train.globalBatch=64", "train.global-batch");
    meant.put("train.global_batch=64", "train.global-batch");
    meant.put("train.global-batc=64", "train.global-batch");
    meant.put("trian.epochs=3", "train");
    meant.put("train.normalize.mode=auto", "data.normalize");
    meant.forEach((set, key) -> {
      BadInputException e = assertThrows(BadInputException.class, () -> set(set));
      String unknown = set.substring(0, set.indexOf('='));
      if (unknown.startsWith("trian")) {
        unknown = "trian";
      } else if (unknown.startsWith("train.normalize")) {
        unknown = "train.normalize";
      }
      assertEquals("--set: unknown config key '" + unknown + "' (did you mean '" + key + "'?)",
          e.getMessage().split(";")[0], set);
    });
    for (String far : List.of("train.nope=1", "train.x=1", "trainingg.epochs=1")) {
      BadInputException e = assertThrows(BadInputException.class, () -> set(far));
      assertFalse(e.getMessage().contains("did you mean"), e.getMessage());
    }
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

  private static final String MODEL =
      "model { input { channels = 1, height = 4, width = 4 }, layers = [] }\n";

  @Test
  void includesAreFoundBesideAConfigGivenByABareFileName() throws Exception {
    // a bare name is relative to the working directory: the files must lie there
    Path cwd = Path.of("").toAbsolutePath();
    String tag = "settings-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    Path base = cwd.resolve(tag + "-base.conf");
    Path inc = cwd.resolve(tag + "-inc.conf");
    try {
      Files.writeString(base, "train { epochs = 7 }\n");
      Files.writeString(inc, "include \"" + base.getFileName() + "\"\n" + MODEL);
      ByteArrayOutputStream warnings = new ByteArrayOutputStream();
      Config c = Settings.load(inc.getFileName().toString(), List.of(),
          new PrintStream(warnings, true, StandardCharsets.UTF_8));
      assertEquals(7, c.getInt("train.epochs"));
      assertEquals("", warnings.toString(StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(base);
      Files.deleteIfExists(inc);
    }
  }

  @Test
  void includesBesideAConfigGivenByAPath() throws Exception {
    Files.writeString(dir.resolve("base.conf"), "train { epochs = 5 }\n");
    Files.writeString(dir.resolve("extra.conf"), "train { workers = 2 }\n");
    Path inc = dir.resolve("inc.conf");
    Files.writeString(inc, "include \"base.conf\"\ninclude file(\"" + dir.resolve("extra.conf")
        + "\")\ninclude required(\"extra\")\n" + MODEL);
    ByteArrayOutputStream warnings = new ByteArrayOutputStream();
    Config c = Settings.load(inc.toString(), List.of(),
        new PrintStream(warnings, true, StandardCharsets.UTF_8));
    assertEquals(5, c.getInt("train.epochs"));
    assertEquals(2, c.getInt("train.workers"));
    assertEquals("", warnings.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aMissingIncludeIsSkippedWithOneWarningLine() throws Exception {
    Files.writeString(dir.resolve("nested.conf"), "include \"gone.conf\"\ntrain.epochs = 4\n");
    Path inc = dir.resolve("inc.conf");
    Files.writeString(inc, "include \"absent.conf\"\ninclude file(\"" + dir.resolve("nofile")
        + "\")\ninclude \"nested.conf\"\n" + MODEL);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Config c = Settings.load(inc.toString(), List.of(),
        new PrintStream(out, true, StandardCharsets.UTF_8));
    assertEquals(4, c.getInt("train.epochs"));
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(3, lines.size(), "one line per missing include: " + lines);
    assertTrue(lines.get(0).startsWith("convspark: WARNING: " + inc + ": include \"absent.conf\""),
        lines.get(0));
    assertTrue(lines.get(0).contains("skipped") && lines.get(0).contains("required"),
        lines.get(0));
    assertTrue(lines.get(1).contains("file(\"" + dir.resolve("nofile") + "\")"), lines.get(1));
    assertTrue(lines.get(2).startsWith("convspark: WARNING: " + dir.resolve("nested.conf")
        + ": include \"gone.conf\""), "names the file that holds the include: " + lines.get(2));
  }

  @Test
  void aConfigThatIsNotUtf8IsNamedWithItsLineNotReadWithAReplacedCharacter() throws Exception {
    Path latin1 = dir.resolve("latin1.conf");
    Files.write(latin1, ("train.epochs = 3\ndata.train.path = \"/data/caf\u00e9.csv\"\n")
        .getBytes(StandardCharsets.ISO_8859_1));
    String e = assertThrows(BadInputException.class,
        () -> Settings.load(latin1.toString(), List.of())).getMessage();
    assertEquals(latin1 + ": line 2: byte 0xE9 is not UTF-8 (a file saved as Latin-1 or "
        + "Windows-1252?); save it as UTF-8", e);

    Path utf16 = dir.resolve("utf16.conf");
    Files.write(utf16, "train.epochs = 3\n".getBytes(StandardCharsets.UTF_16LE));
    e = assertThrows(BadInputException.class,
        () -> Settings.load(utf16.toString(), List.of())).getMessage();
    assertTrue(e.startsWith(utf16 + ": line 1: a NUL byte"), e);
    Files.write(utf16, "train.epochs = 3\n".getBytes(StandardCharsets.UTF_16)); // with a BOM
    e = assertThrows(BadInputException.class,
        () -> Settings.load(utf16.toString(), List.of())).getMessage();
    assertTrue(e.startsWith(utf16 + ": the file is UTF-16"), e);

    // an included file is checked too, and named
    Files.write(dir.resolve("part.conf"), "train.seed = 7 # d\u00e9j\u00e0\n"
        .getBytes(StandardCharsets.ISO_8859_1));
    Path main = dir.resolve("main.conf");
    Files.writeString(main, "include \"part.conf\"\n" + MODEL);
    e = assertThrows(BadInputException.class,
        () -> Settings.load(main.toString(), List.of())).getMessage();
    assertTrue(e.startsWith(dir.resolve("part.conf") + ": line 1: byte 0xE9 is not UTF-8"), e);

    // UTF-8, with or without a byte order mark, reads as written
    Path utf8 = dir.resolve("utf8.conf");
    Files.write(utf8, ("\ufefftrain.epochs = 3\ndata.train.path = \"/data/caf\u00e9.csv\"\n")
        .getBytes(StandardCharsets.UTF_8));
    Config c = Settings.load(utf8.toString(), List.of());
    assertEquals("/data/caf\u00e9.csv", c.getString("data.train.path"));
    assertEquals(3, c.getInt("train.epochs"));
  }

  @Test
  void aMissingRequiredIncludeIsAnError() throws Exception {
    Path inc = dir.resolve("req.conf");
    Files.writeString(inc, "include required(\"absent.conf\")\n" + MODEL);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BadInputException e = assertThrows(BadInputException.class, () -> Settings.load(
        inc.toString(), List.of(), new PrintStream(out, true, StandardCharsets.UTF_8)));
    assertTrue(e.getMessage().startsWith(inc + ": ") && e.getMessage().contains("absent.conf"),
        e.getMessage());
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    assertEquals("", out.toString(StandardCharsets.UTF_8));
  }

  @Test
  void aSetPropertyWinsOverTheFileWhetherItsKeyIsQuotedOrNested() throws Exception {
    Path f = dir.resolve("props.conf");
    Path x = dir.resolve("x.gz");
    // quoted in the file, as convspark-defaults.conf shows it; nested (unquoted) on --set
    Files.writeString(f, convspark.driver.TestData.config(x, x, x, x)
        + "spark.conf { \"spark.executor.memory\" = 4g, \"spark.e\" = 1, \"spark.a.b\" = 1,"
        + " spark.nested.key = file }\n"
        + "data.dataframe.options { \"fs.opt\" = file, mergeSchema = false }\n");
    RunConfig c = RunConfig.parse(Settings.load(f.toString(), List.of("data.format=dataframe",
        "data.train.images=", "data.train.labels=", "data.test.images=", "data.test.labels=",
        "data.train.path=t", "spark.conf.spark.executor.memory=8g", "spark.conf.spark.e=2",
        "spark.conf.spark.a.b=2", "spark.conf.\"spark.nested.key\"=set",
        "data.dataframe.options.fs.opt=set")));
    assertEquals(java.util.Map.of("spark.executor.memory", "8g", "spark.e", "2", "spark.a.b", "2",
        "spark.nested.key", "set"), c.spark().conf());
    assertEquals(java.util.Map.of("fs.opt", "set", "mergeSchema", "false"),
        c.data().frame().options());
    // the one property twice in one file, with two values: which one is meant?
    Path twice = dir.resolve("twice.conf");
    Files.writeString(twice, "spark.conf { \"spark.a.b\" = 1, spark.a.b = 2 }\n" + MODEL);
    BadInputException e = assertThrows(BadInputException.class,
        () -> Settings.load(twice.toString(), List.of()));
    assertTrue(e.getMessage().startsWith(twice + ": spark.conf."), e.getMessage());
    assertTrue(e.getMessage().contains("both set 'spark.a.b'"), e.getMessage());
  }

  @Test
  void aSectionReplacedByAValueOrANullIsNamed() throws Exception {
    BadInputException e = assertThrows(BadInputException.class,
        () -> set("data.normalize=given"));
    assertEquals("config key data.normalize: expected an object { ... } of the keys mean, mode, "
        + "std (or one of them set as data.normalize.<key> = ...), found a string",
        e.getMessage());
    e = assertThrows(BadInputException.class, () -> set("train.ring=5"));
    assertTrue(e.getMessage().startsWith("config key train.ring: expected an object { ... } of "
        + "the keys attempts, "), e.getMessage());
    assertTrue(e.getMessage().endsWith(", found 5"), e.getMessage());
    e = assertThrows(BadInputException.class, () -> set("spark.conf=[a]"));
    assertEquals("config key spark.conf: expected an object { ... }, found a list",
        e.getMessage());
    e = assertThrows(BadInputException.class, () -> set("train.augment.erase=null"));
    assertEquals("config key train.augment.erase: expected an object { ... }, found null",
        e.getMessage().replaceAll(" of the keys .*\\),", ","));
    e = assertThrows(BadInputException.class, () -> set("train.epochs=null"));
    assertEquals("config key train.epochs: expected a value (default: 10), found null",
        e.getMessage());
    Path f = dir.resolve("model.conf");
    Files.writeString(f, "model = 5\n");
    e = assertThrows(BadInputException.class, () -> Settings.load(f.toString(), List.of()));
    assertEquals("config key model: expected an object { ... }, found 5", e.getMessage());
    // objects set key by key, and values inside spark.conf, are as before
    assertEquals("given", set("data.normalize={ mode = given }").getString("data.normalize.mode"));
    assertFalse(set("spark.conf.\"spark.x\"=null").hasPath("spark.conf.\"spark.x\""));
  }
}
