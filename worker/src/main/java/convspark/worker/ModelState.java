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

  /**
   * A 64-bit fingerprint of every value: the raw bits of each float (so -0.0 and 0.0, and NaNs
   * with other payloads, differ), the arrays' lengths and the optimizer's step count. Equal
   * states give equal fingerprints on every JVM. Two states that differ in one value never
   * collide, as every step of the hash is one-to-one both in the value it takes in and in the
   * hash so far; others collide by a chance of about 2^-64. Four interleaved lanes per array,
   * about a millisecond per million values.
   */
  public long fingerprint() {
    long h = mix(0x5851F42D4C957F2DL, optimizerSteps);
    h = mix(h, hash(params));
    h = mix(h, hash(state));
    h = mix(h, optimizerState.length);
    for (float[] a : optimizerState) {
      h = mix(h, hash(a));
    }
    return h;
  }

  /** One array's hash: four lanes over every fourth value, then the lanes combined. */
  private static long hash(float[] a) {
    long l0 = mix(0x14057B7EF767814FL, a.length);
    long l1 = mix(l0, 1);
    long l2 = mix(l0, 2);
    long l3 = mix(l0, 3);
    int n = a.length & ~3;
    for (int i = 0; i < n; i += 4) {
      l0 = mix(l0, Float.floatToRawIntBits(a[i]));
      l1 = mix(l1, Float.floatToRawIntBits(a[i + 1]));
      l2 = mix(l2, Float.floatToRawIntBits(a[i + 2]));
      l3 = mix(l3, Float.floatToRawIntBits(a[i + 3]));
    }
    for (int i = n; i < a.length; i++) {
      l0 = mix(l0, Float.floatToRawIntBits(a[i]));
    }
    return mix(mix(mix(l0, l1), l2), l3);
  }

  /** (h xor v) times an odd constant, then xor-shift: for a fixed v, a bijection of h. */
  private static long mix(long h, long v) {
    long x = (h ^ v) * 0x9E3779B97F4A7C15L;
    return x ^ (x >>> 29);
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
