package convspark.common.nn;

import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Shape;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A model spec bound to runtime layers: each layer's slice of the flat parameter vector and of
 * the flat state vector (batch-norm running statistics). Immutable and shareable; the buffers of
 * a computation live in a {@link Workspace}.
 */
public final class Network implements Serializable {
  private static final long serialVersionUID = 1L;
  private final ModelSpec spec;
  private final List<Layer> layers;
  private final int paramCount;
  private final int stateCount;
  private final int classes;
  private final int minTrainingBatch;

  public Network(ModelSpec spec) {
    this.spec = spec;
    List<Layer> ls = new ArrayList<>();
    Shape s = spec.input();
    int p = 0;
    int st = 0;
    for (int i = 0; i < spec.layers().size(); i++) {
      LayerSpec l = spec.layers().get(i);
      Layer layer = Layers.bind(l, s, i, p, st);
      ls.add(layer);
      p += layer.paramCount();
      st += layer.stateCount();
      s = layer.outShape();
    }
    this.layers = Collections.unmodifiableList(ls);
    this.paramCount = p;
    this.stateCount = st;
    this.classes = s.size();
    this.minTrainingBatch = spec.minTrainingBatch();
  }

  public ModelSpec spec() {
    return spec;
  }

  /** The fewest samples a training batch may hold ({@link ModelSpec#minTrainingBatch}). */
  public int minTrainingBatch() {
    return minTrainingBatch;
  }

  public List<Layer> layers() {
    return layers;
  }

  public Shape inputShape() {
    return spec.input();
  }

  public int classes() {
    return classes;
  }

  public int paramCount() {
    return paramCount;
  }

  public int stateCount() {
    return stateCount;
  }

  /** Fresh parameters, initialised from {@code seed} (He/Xavier per layer, biases 0, BN 1/0). */
  public float[] initParams(long seed) {
    float[] params = new float[paramCount];
    float[] state = new float[stateCount];
    SplittableRandom root = new SplittableRandom(seed);
    for (Layer l : layers) {
      l.init(params, state, root.split());
    }
    return params;
  }

  /** Fresh non-trainable state: running mean 0, running variance 1. */
  public float[] initState() {
    float[] params = new float[paramCount];
    float[] state = new float[stateCount];
    SplittableRandom rng = new SplittableRandom(0);
    for (Layer l : layers) {
      l.init(params, state, rng.split());
    }
    return state;
  }

  /** Slices of the parameter vector that are weights (conv and dense kernels). */
  public List<ParamRange> weightRanges() {
    List<ParamRange> r = new ArrayList<>();
    for (Layer l : layers) {
      l.weightRanges(r);
    }
    return r;
  }

  /** Slices that are biases and batch-norm scale/shift. */
  public List<ParamRange> otherParamRanges() {
    List<ParamRange> r = new ArrayList<>();
    for (Layer l : layers) {
      l.otherParamRanges(r);
    }
    return r;
  }

  /**
   * Folds batch statistics into the running statistics. {@code statSums} holds, in the state
   * layout, the count-weighted sums of batch means and unbiased variances over workers; {@code
   * count} is the total weight.
   */
  public void updateRunningStats(float[] state, float[] statSums, long count) {
    if (stateCount == 0 || count == 0) {
      return;
    }
    float[] avg = new float[stateCount];
    for (int i = 0; i < stateCount; i++) {
      avg[i] = (float) ((double) statSums[i] / count);
    }
    for (Layer l : layers) {
      l.updateRunningStats(state, avg);
    }
  }

  /** Buffers for batches of up to {@code maxBatch} samples. */
  public Workspace newWorkspace(int maxBatch) {
    return new Workspace(this, maxBatch);
  }

  /**
   * Buffers for batches of up to {@code maxBatch} samples, with ({@code fuse}) or without the
   * fused kernels of {@link Workspace#plan}: for tests and A/B benchmarks.
   */
  public Workspace newWorkspace(int maxBatch, boolean fuse) {
    return new Workspace(this, maxBatch, fuse);
  }
}
