package convspark.driver.train;

import java.io.Serializable;

/** What a step broadcasts: the parameters and the batch-norm running statistics. */
public record Weights(float[] params, float[] state) implements Serializable {}
