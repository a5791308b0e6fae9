package convspark.worker;

import convspark.common.nn.Network;
import java.io.Serializable;

/**
 * What every partition needs to know about a training step besides the parameters: the network,
 * the per-partition batch, where in training the step is, the run seed, the loss smoothing and
 * the augmentation. Small; shipped with each task's closure.
 *
 * @param network the model (spec bound to layers)
 * @param localBatch samples per partition per step (global batch / partitions)
 * @param epoch 0-based epoch
 * @param stepInEpoch 0-based step within the epoch
 * @param globalStep 0-based step since the start of training (seeds dropout and augmentation)
 * @param seed the run seed
 * @param labelSmoothing label smoothing epsilon
 * @param augment augmentation applied while gathering samples
 */
public record StepPlan(Network network, int localBatch, int epoch, int stepInEpoch,
    long globalStep, long seed, double labelSmoothing, Augment augment) implements Serializable {

  /** The plan of another step of the same run. */
  public StepPlan at(int epoch, int stepInEpoch, long globalStep) {
    return new StepPlan(network, localBatch, epoch, stepInEpoch, globalStep, seed,
        labelSmoothing, augment);
  }
}
