package convspark.common.spec;

/** The element-wise functions a model spec can name: {@code relu}, {@code sigmoid}, {@code tanh}. */
public enum Nonlinearity {
  RELU,
  SIGMOID,
  TANH;

  /** The config name: {@code relu}, {@code sigmoid} or {@code tanh}. */
  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
