package convspark.worker;

import convspark.common.io.FloatArrays;
import java.io.Externalizable;
import java.io.IOException;
import java.io.ObjectInput;
import java.io.ObjectOutput;

/**
 * Everything training changes, as one unit that travels to and from a round of steps: the flat
 * parameter vector, the batch-norm running statistics, the optimizer's state arrays and its step
 * count. Mutable: an {@link convspark.worker.update.Updater} updates it in place, step by step.
 * Serialized in bulk through {@link FloatArrays}.
 */
public final class ModelState implements Externalizable {
  private static final long serialVersionUID = 1L;
  private float[] params;
  private float[] state;
  private float[][] optimizerState;
  private long optimizerSteps;

  public ModelState(float[] params, float[] state, float[][] optimizerState,
      long optimizerSteps) {
    this.params = params;
    this.state = state;
    this.optimizerState = optimizerState;
    this.optimizerSteps = optimizerSteps;
  }

  /** For deserialization only. */
  public ModelState() {}

  /** The trainable parameters (one flat vector, live). */
  public float[] params() {
    return params;
  }

  /** The batch-norm running statistics (live). */
  public float[] state() {
    return state;
  }

  /** The optimizer's arrays (velocity, or Adam's moments; live). */
  public float[][] optimizerState() {
    return optimizerState;
  }

  /** Optimizer steps taken so far. */
  public long optimizerSteps() {
    return optimizerSteps;
  }

  /**
   * Points the optimizer fields at the optimizer's live arrays and step count (the updater calls
   * this, so the state always reflects the optimizer that steps it).
   */
  public void setOptimizer(float[][] arrays, long steps) {
    this.optimizerState = arrays;
    this.optimizerSteps = steps;
  }

  /** A deep copy. */
  public ModelState copy() {
    float[][] os = new float[optimizerState.length][];
    for (int i = 0; i < os.length; i++) {
      os[i] = optimizerState[i].clone();
    }
    return new ModelState(params.clone(), state.clone(), os, optimizerSteps);
  }

  @Override
  public void writeExternal(ObjectOutput out) throws IOException {
    FloatArrays.write(out, params);
    FloatArrays.write(out, state);
    out.writeInt(optimizerState.length);
    for (float[] a : optimizerState) {
      FloatArrays.write(out, a);
    }
    out.writeLong(optimizerSteps);
  }

  @Override
  public void readExternal(ObjectInput in) throws IOException {
    params = FloatArrays.read(in);
    state = FloatArrays.read(in);
    optimizerState = new float[in.readInt()][];
    for (int i = 0; i < optimizerState.length; i++) {
      optimizerState[i] = FloatArrays.read(in);
    }
    optimizerSteps = in.readLong();
  }
}
