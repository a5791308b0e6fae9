package convspark.common.optim;

/**
 * The learning rate at every step: the base rate scaled for the global batch by a {@link
 * ScalingRule}, reached by gradual linear warmup from the base rate over {@code warmupEpochs}
 * (Goyal et al. 2017, section 2.2), then decayed. When the scaled rate is below the base rate
 * (global batch below the base batch), warmup holds the scaled rate.
 *
 * @param baseLr the rate tuned for {@code baseBatch}
 * @param baseBatch the batch the base rate was tuned for
 * @param globalBatch the effective global batch (local batch x partitions)
 * @param rule how the rate scales with {@code globalBatch / baseBatch}
 * @param warmupEpochs length of the warmup, in epochs (0: none)
 * @param decay what happens after warmup
 * @param totalEpochs the planned length of training (for cosine)
 * @param stepEvery for step decay: multiply by {@code stepGamma} every this many epochs
 * @param stepGamma for step decay
 * @param minLr for cosine: the rate reached at the end
 */
public record LrSchedule(
    double baseLr,
    int baseBatch,
    int globalBatch,
    ScalingRule rule,
    double warmupEpochs,
    Decay decay,
    int totalEpochs,
    double stepEvery,
    double stepGamma,
    double minLr) implements java.io.Serializable {

  /** Decay after warmup. */
  public enum Decay {
    CONSTANT,
    STEP,
    COSINE
  }

  public LrSchedule {
    if (!(baseLr > 0)) {
      throw new IllegalArgumentException("base learning rate must be > 0, found " + baseLr);
    }
    if (baseBatch <= 0 || globalBatch <= 0) {
      throw new IllegalArgumentException("batch sizes must be positive");
    }
  }

  /** The rate after warmup, before decay. */
  public double scaledLr() {
    return rule.scale(baseLr, baseBatch, globalBatch);
  }

  /** {@code k = globalBatch / baseBatch}. */
  public double k() {
    return (double) globalBatch / baseBatch;
  }

  /**
   * The rate for global step {@code step} (0-based) when an epoch has {@code stepsPerEpoch}
   * steps.
   */
  public double lr(long step, int stepsPerEpoch) {
    double epoch = (double) step / stepsPerEpoch;
    double target = scaledLr();
    if (epoch < warmupEpochs) {
      // a global batch below the base batch (k < 1) scales the rate down: there is nothing to
      // warm up to, and a ramp from the base rate would run above the scaled rate
      double from = Math.min(baseLr, target);
      return from + (target - from) * epoch / warmupEpochs;
    }
    return switch (decay) {
      case CONSTANT -> target;
      case STEP -> target * Math.pow(stepGamma, Math.floor(epoch / stepEvery));
      case COSINE -> {
        double span = totalEpochs - warmupEpochs;
        double t = span <= 0 ? 1 : Math.min(1, (epoch - warmupEpochs) / span);
        yield minLr + (target - minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
      }
    };
  }
}
