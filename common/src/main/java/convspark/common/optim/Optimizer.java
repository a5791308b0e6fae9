package convspark.common.optim;

/**
 * An optimizer over the flat parameter vector. Lifecycle: construct for a parameter count,
 * optionally {@link #loadState} from a checkpoint, then {@link #step} once per training step.
 * {@link #state()} returns the arrays that a checkpoint must keep (by reference: copy before
 * mutating if needed).
 */
public interface Optimizer {
  /** Applies one update: {@code grad} is the averaged gradient (regularisation included). */
  default void step(float[] params, float[] grad, double lr) {
    stepRange(params, grad, lr, 0, params.length);
    endStep();
  }

  /**
   * Applies elements [from, to) of the next update (step number {@link #steps()} + 1) without
   * counting it: element i's new value and state depend only on element i, so calls over
   * disjoint ranges that cover the vector, followed by one {@link #endStep}, give exactly the
   * bits of one {@link #step}. The sharded update of the ring engine steps only the range a
   * replica owns.
   */
  void stepRange(float[] params, float[] grad, double lr, int from, int to);

  /** Counts the update that {@link #stepRange} calls applied. */
  void endStep();

  /** Config name: "sgd" or "adam". */
  String name();

  /** The optimizer's state arrays (velocity, or first and second moments). */
  float[][] state();

  /** Number of steps taken (Adam's bias correction needs it). */
  long steps();

  /** Restores state saved by {@link #state()} and {@link #steps()}. */
  void loadState(float[][] state, long steps);
}
