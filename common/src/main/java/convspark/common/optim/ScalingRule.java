package convspark.common.optim;

/**
 * How the learning rate grows with the global batch (Goyal et al. 2017): with {@code k =
 * globalBatch / baseBatch}, {@code LINEAR} multiplies the base rate by k, {@code SQRT} by sqrt(k),
 * {@code NONE} leaves it.
 */
public enum ScalingRule {
  LINEAR,
  SQRT,
  NONE;

  /** The factor for {@code k = globalBatch / baseBatch}. */
  public double factor(int baseBatch, int globalBatch) {
    double k = (double) globalBatch / baseBatch;
    return switch (this) {
      case LINEAR -> k;
      case SQRT -> Math.sqrt(k);
      case NONE -> 1.0;
    };
  }

  /** The scaled learning rate. */
  public double scale(double baseLr, int baseBatch, int globalBatch) {
    return baseLr * factor(baseBatch, globalBatch);
  }
}
