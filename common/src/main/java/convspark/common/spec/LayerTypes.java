package convspark.common.spec;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueType;
import convspark.common.BadInputException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** The layer types a model config may name: each type's allowed keys and its parser. */
final class LayerTypes {
  private LayerTypes() {}

  private record Type(Set<String> keys, Function<Fields, LayerSpec> parser) {}

  private static final Map<String, Type> TYPES = new LinkedHashMap<>();

  static {
    TYPES.put("conv", new Type(LayerSpec.Conv.KEYS, LayerSpec.Conv::parse));
    TYPES.put("dense", new Type(LayerSpec.Dense.KEYS, LayerSpec.Dense::parse));
    TYPES.put("maxpool", new Type(LayerSpec.MaxPool.KEYS, LayerSpec.MaxPool::parse));
    TYPES.put("avgpool", new Type(LayerSpec.AvgPool.KEYS, LayerSpec.AvgPool::parse));
    TYPES.put("globalavgpool", new Type(Set.of(), f -> new LayerSpec.GlobalAvgPool()));
    TYPES.put("batchnorm", new Type(LayerSpec.BatchNorm.KEYS, LayerSpec.BatchNorm::parse));
    TYPES.put("dropout", new Type(LayerSpec.Dropout.KEYS, LayerSpec.Dropout::parse));
    for (Nonlinearity n : Nonlinearity.values()) {
      TYPES.put(n.configName(), new Type(Set.of(), f -> new LayerSpec.Act(n)));
    }
    TYPES.put("flatten", new Type(Set.of(), f -> new LayerSpec.FlattenSpec()));
    TYPES.put("residual", new Type(LayerSpec.Residual.KEYS, LayerSpec.Residual::parse));
  }

  static LayerSpec parse(Config l, String where) {
    if (!l.hasPath("type")) {
      throw new BadInputException(where + ": missing key 'type' (one of " + TYPES.keySet() + ")");
    }
    if (l.getValue("type").valueType() != ConfigValueType.STRING) {
      throw new BadInputException(where + ": key 'type' must be a string (one of "
          + TYPES.keySet() + ")");
    }
    String type = l.getString("type").toLowerCase(java.util.Locale.ROOT);
    Type t = TYPES.get(type);
    if (t == null) {
      throw new BadInputException(
          where + ": unknown layer type '" + type + "' (expected one of " + TYPES.keySet() + ")");
    }
    Fields f = new Fields(l, where, where + " (" + type + ")");
    f.onlyKeys(t.keys());
    return t.parser().apply(f);
  }
}
