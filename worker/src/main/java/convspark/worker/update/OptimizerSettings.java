package convspark.worker.update;

import java.io.Serializable;

/**
 * Which optimizer, with its settings (config keys {@code train.optimizer.*}).
 *
 * @param type sgd or adam
 * @param momentum SGD momentum
 * @param nesterov SGD Nesterov momentum
 * @param beta1 Adam's first-moment decay
 * @param beta2 Adam's second-moment decay
 * @param epsilon Adam's epsilon
 * @param weightDecay Adam's decoupled weight decay (AdamW when > 0)
 */
public record OptimizerSettings(Type type, double momentum, boolean nesterov, double beta1,
    double beta2, double epsilon, double weightDecay) implements Serializable {

  /** Optimizer choice. */
  public enum Type {
    SGD,
    ADAM
  }
}
