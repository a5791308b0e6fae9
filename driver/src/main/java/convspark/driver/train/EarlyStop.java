package convspark.driver.train;

import convspark.driver.config.RunConfig;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Early-stopping bookkeeping: the best validation metric so far, its epoch, and how many epochs
 * since it improved by more than min-delta. Without validation ({@link
 * #observeWithoutValidation}) every epoch counts as the best and training never stops early.
 * Saved in checkpoints so a resumed run continues the count.
 */
final class EarlyStop {
  private final RunConfig.EarlyStopping cfg;
  private double best = Double.NaN;
  private double bestLoss = Double.NaN;
  private double bestAccuracy = Double.NaN;
  private int bestEpoch;
  private int badEpochs;

  EarlyStop(RunConfig.EarlyStopping cfg) {
    this.cfg = cfg;
  }

  /** Records an epoch of a run without validation data: every epoch is the best. */
  boolean observeWithoutValidation(int epoch) {
    bestEpoch = epoch;
    return true;
  }

  /**
   * Records an epoch's validation metrics; true when this epoch is the new best. A metric that is
   * not a number (a validation pass that overflowed) is no improvement, as in Keras: it must not
   * become the best and have its weights restored and tested.
   */
  boolean observe(int epoch, double valLoss, double valAcc) {
    boolean lossMetric = cfg.metric() == RunConfig.StopMetric.VAL_LOSS;
    double v = lossMetric ? valLoss : valAcc;
    boolean improved = !Double.isNaN(v) && (Double.isNaN(best)
        || (lossMetric ? v < best - cfg.minDelta() : v > best + cfg.minDelta()));
    if (improved) {
      best = v;
      bestLoss = valLoss;
      bestAccuracy = valAcc;
      bestEpoch = epoch;
      badEpochs = 0;
    } else {
      badEpochs++;
    }
    return improved;
  }

  boolean shouldStop() {
    return cfg.patience() > 0 && badEpochs >= cfg.patience();
  }

  /** Epochs since the best one (or since the start, before any). */
  int badEpochs() {
    return badEpochs;
  }

  /** The metric's config value, for messages: "val-loss", "val-accuracy". */
  String metricName() {
    return cfg.metric().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  double best() {
    return best;
  }

  int bestEpoch() {
    return bestEpoch;
  }

  Double bestLoss() {
    return Double.isNaN(bestLoss) ? null : bestLoss;
  }

  Double bestAccuracy() {
    return Double.isNaN(bestAccuracy) ? null : bestAccuracy;
  }

  Map<String, String> toMeta() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("early.best", Double.toString(best));
    m.put("early.best-loss", Double.toString(bestLoss));
    m.put("early.best-accuracy", Double.toString(bestAccuracy));
    m.put("early.best-epoch", Integer.toString(bestEpoch));
    m.put("early.bad-epochs", Integer.toString(badEpochs));
    return m;
  }

  /**
   * Continues the record of a checkpoint. The value to beat is the best epoch's value of this
   * run's metric: the same as the record's own when the metric is unchanged, and under a metric
   * changed on resume not the old metric's value (a loss of 1.5 kept as the accuracy to beat
   * would stop the run after patience epochs, whatever it learned). The best epoch and the count
   * since it stay the record's.
   */
  void restore(Map<String, String> meta) {
    if (meta.containsKey("early.best")) {
      bestLoss = Double.parseDouble(meta.get("early.best-loss"));
      bestAccuracy = Double.parseDouble(meta.get("early.best-accuracy"));
      best = cfg.metric() == RunConfig.StopMetric.VAL_LOSS ? bestLoss : bestAccuracy;
      bestEpoch = Integer.parseInt(meta.get("early.best-epoch"));
      badEpochs = Integer.parseInt(meta.get("early.bad-epochs"));
    }
  }
}
