package convspark.common.optim;

/**
 * An optimizer over the flat parameter vector. Lifecycle: construct for a parameter count,
 * optionally {@link #loadState} from a checkpoint, then {@link #step} once per training step.
 * {@link #state()} returns the arrays that a checkpoint must keep (by reference: copy before
 * mutating if needed).
 */
public interface Optimizer {
  /** Applies one update: {@code grad} is the averaged gradient (regularisation included). */
  void step(float[] params, float[] grad, double lr);

  /** Config name: "sgd" or "adam". */
  String name();

  /** The optimizer's state arrays (velocity, or first and second moments). */
  float[][] state();

  /** Number of steps taken (Adam's bias correction needs it). */
  long steps();

  /** Restores state saved by {@link #state()} and {@link #steps()}. */
  void loadState(float[][] state, long steps);
}
