package convspark.driver.engine;

import convspark.worker.ModelState;

/**
 * What a round returns: the state after its last step, the summed training loss, sample count
 * and correct predictions over its steps, the learning rate of its last step, and where the time
 * went.
 */
public record RoundResult(ModelState state, double lossSum, long count, long correct,
    double lastLr, StepTimes times) {}
