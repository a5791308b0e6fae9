package convspark.worker.update;

import convspark.common.optim.LrSchedule;
import java.io.Serializable;

/**
 * How the averaged gradient becomes a parameter update: everything the {@link Updater} needs
 * besides the network. Small and serializable, so an engine can ship it to executors and every
 * replica applies exactly the same rule.
 *
 * @param optimizer the optimizer and its settings
 * @param l1 L1 penalty (config key train.l1)
 * @param l2 L2 penalty (config key train.l2)
 * @param regularizeAll penalise biases and batch-norm parameters too, not only conv and dense
 *     weights (train.regularize-all)
 * @param clipGradNorm rescale the averaged gradient of the loss to at most this L2 norm, 0 =
 *     never (train.clip-grad-norm); the L1/L2 gradient is added after clipping
 * @param schedule the learning rate of every step
 */
public record UpdateRule(OptimizerSettings optimizer, double l1, double l2,
    boolean regularizeAll, double clipGradNorm, LrSchedule schedule) implements Serializable {}
