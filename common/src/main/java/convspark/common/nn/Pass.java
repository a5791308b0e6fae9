package convspark.common.nn;

/**
 * What one forward/backward call over a batch sees besides its activations: the flat parameter
 * vector, the flat gradient vector (gradients are accumulated into it with +=), the
 * non-trainable state (batch-norm running statistics), whether this is training, the seed for
 * this call's random choices (dropout masks), and where batch-norm batch statistics go.
 *
 * @param params all trainable parameters, one flat vector; each layer owns a slice
 * @param grads gradient accumulator of the same layout as params (may be null for inference)
 * @param state non-trainable state (batch-norm running mean/var), one flat vector
 * @param training true: batch statistics for BN and dropout active
 * @param seed seed of this call's random choices; each layer derives its own stream from it
 * @param bnStats accumulator (same layout as state) of count-weighted batch mean and unbiased
 *     variance in training; may be null
 */
public record Pass(
    float[] params, float[] grads, float[] state, boolean training, long seed, float[] bnStats) {

  /** An inference pass: no gradients, no batch statistics, no dropout. */
  public static Pass inference(float[] params, float[] state) {
    return new Pass(params, null, state, false, 0L, null);
  }
}
