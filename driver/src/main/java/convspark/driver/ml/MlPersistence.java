package convspark.driver.ml;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import convspark.common.BadInputException;
import convspark.driver.metrics.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.Params;

/**
 * Spark ML metadata, written and read the way {@code DefaultParamsWriter}/{@code
 * DefaultParamsReader} do (those are {@code private[ml]} in Scala): one JSON line with class,
 * timestamp, sparkVersion, uid, paramMap and defaultParamMap (plus our own fields) in {@code
 * path/metadata/part-00000}, so that {@code Pipeline.load} and {@code PipelineModel.load} find
 * our stages and call their static {@code read()}.
 */
final class MlPersistence {
  private MlPersistence() {}

  /** Our own field in the metadata: the version of the layout under path/data. */
  static final String FORMAT_KEY = "convsparkFormat";

  /** Writes {@code path/metadata}. */
  static void saveMetadata(Params instance, String path, SparkContext sc,
      Map<String, Object> extra) {
    ObjectNode m = Json.MAPPER.createObjectNode();
    m.put("class", instance.getClass().getName());
    m.put("timestamp", System.currentTimeMillis());
    m.put("sparkVersion", sc.version());
    m.put("uid", instance.uid());
    ObjectNode set = m.putObject("paramMap");
    ObjectNode defaults = m.putObject("defaultParamMap");
    for (Param<?> p : instance.params()) {
      @SuppressWarnings("unchecked")
      Param<Object> po = (Param<Object>) p;
      if (instance.isSet(po)) {
        set.set(p.name(), encode(po, instance.get(po).get()));
      }
      if (instance.hasDefault(po)) {
        defaults.set(p.name(), encode(po, instance.getDefault(po).get()));
      }
    }
    for (Map.Entry<String, Object> e : extra.entrySet()) {
      m.set(e.getKey(), Json.MAPPER.valueToTree(e.getValue()));
    }
    JavaSparkContext.fromSparkContext(sc).parallelize(List.of(Json.write(m)), 1)
        .saveAsTextFile(path + "/metadata");
  }

  private static JsonNode encode(Param<Object> p, Object value) {
    try {
      return Json.MAPPER.readTree(p.jsonEncode(value));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads {@code path/metadata} and checks that it describes an instance of {@code cls}. */
  static JsonNode loadMetadata(String path, SparkContext sc, Class<?> cls) {
    String line;
    try {
      line = JavaSparkContext.fromSparkContext(sc).textFile(path + "/metadata", 1).first();
    } catch (Exception e) {
      // Exception, not RuntimeException: Hadoop's "Input path does not exist" (a path with no
      // metadata: none, a file, an empty directory) is a checked IOException Spark throws as is
      throw new BadInputException(path + ": not a saved Spark ML stage (no readable metadata: "
          + String.valueOf(e.getMessage()).lines().findFirst().orElse("") + ")", e);
    }
    JsonNode m;
    try {
      m = Json.MAPPER.readTree(line);
    } catch (IOException e) {
      throw new BadInputException(path + "/metadata: not JSON: " + e.getMessage(), e);
    }
    String found = m.path("class").asText("");
    if (!found.equals(cls.getName())) {
      throw new BadInputException(path + ": expected a saved " + cls.getName()
          + " but found class name " + (found.isEmpty() ? "(none)" : found));
    }
    if (!m.hasNonNull("uid")) {
      throw new BadInputException(path + "/metadata: no uid");
    }
    return m;
  }

  /** Checks our layout version: a model saved by a newer convspark is refused, not misread. */
  static void checkFormat(JsonNode metadata, int supported, String path) {
    int v = metadata.path(FORMAT_KEY).asInt(-1);
    if (v < 1 || v > supported) {
      throw new BadInputException(path + ": saved with convspark model format " + v
          + " but this build reads formats 1.." + supported);
    }
  }

  /** Sets the params of {@code metadata} on {@code instance}: defaults first, then set ones. */
  static void applyParams(Params instance, JsonNode metadata, String path) {
    apply(instance, metadata.path("defaultParamMap"), true, path);
    apply(instance, metadata.path("paramMap"), false, path);
  }

  private static void apply(Params instance, JsonNode map, boolean asDefault, String path) {
    for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (!instance.hasParam(e.getKey())) {
        if (asDefault) {
          continue; // a default this build no longer has
        }
        throw new BadInputException(path + ": param " + e.getKey() + " is unknown to "
            + instance.getClass().getSimpleName() + " of this build");
      }
      Param<Object> p = instance.getParam(e.getKey());
      Object v = p.jsonDecode(e.getValue().toString());
      if (asDefault) {
        instance.setDefault(p, v);
      } else {
        instance.set(p, v);
      }
    }
  }
}
