package convspark.common.nn;

import convspark.common.spec.Shape;
import java.util.SplittableRandom;

/**
 * Inverted dropout: in training each unit is kept with probability 1-rate and scaled by
 * 1/(1-rate); at inference it is the identity. The mask is drawn from the pass seed mixed with
 * this layer's index, so a given (seed, step, partition) always gives the same mask.
 */
public final class Dropout extends BoundLayer {
  private static final long serialVersionUID = 1L;
  private final double rate;
  private final int index;

  public Dropout(Shape shape, double rate, int index) {
    super(shape, shape, 0, 0);
    this.rate = rate;
    this.index = index;
  }

  /**
   * Element-wise: any layout (a unit's mask bit follows its index in the buffer, so the two
   * layouts drop different units of the same seed, at the same rate).
   */
  @Override
  public boolean channelsLastCapable() {
    return true;
  }

  private record Ctx(float[] mask, boolean[] active) implements Context {}

  @Override
  public Context newContext(int maxBatch) {
    return new Ctx(new float[maxBatch * in.size()], new boolean[1]);
  }

  @Override
  public void forward(Pass pass, Context context, float[] x, float[] y, int n) {
    Ctx ctx = (Ctx) context;
    int len = n * in.size();
    boolean active = pass.training() && rate > 0;
    ctx.active()[0] = active;
    if (!active) {
      System.arraycopy(x, 0, y, 0, len);
      return;
    }
    SplittableRandom rng = new SplittableRandom(pass.seed() * 0x9E3779B97F4A7C15L + index);
    float scale = (float) (1.0 / (1.0 - rate));
    float[] mask = ctx.mask();
    // four 16-bit uniforms per 64-bit draw: a unit is dropped when its 16 bits are below
    // rate * 2^16 (the rate is used to 1/65536)
    int threshold = (int) Math.round(rate * 65536);
    // branch-free: a float select compiles to a branch, mispredicted at every rate between 0
    // and 1 (it cost ~3 ns per unit); this keeps scale's bits where 16 bits >= threshold
    int scaleBits = Float.floatToRawIntBits(scale);
    int i = 0;
    for (; i + 3 < len; i += 4) {
      long bits = rng.nextLong();
      mask[i] = keep(bits, threshold, scaleBits);
      mask[i + 1] = keep(bits >>> 16, threshold, scaleBits);
      mask[i + 2] = keep(bits >>> 32, threshold, scaleBits);
      mask[i + 3] = keep(bits >>> 48, threshold, scaleBits);
      y[i] = x[i] * mask[i];
      y[i + 1] = x[i + 1] * mask[i + 1];
      y[i + 2] = x[i + 2] * mask[i + 2];
      y[i + 3] = x[i + 3] * mask[i + 3];
    }
    if (i < len) {
      long bits = rng.nextLong();
      for (; i < len; i++, bits >>>= 16) {
        mask[i] = keep(bits, threshold, scaleBits);
        y[i] = x[i] * mask[i];
      }
    }
  }

  /** scale if the low 16 bits of {@code bits} are >= threshold, else 0. */
  private static float keep(long bits, int threshold, int scaleBits) {
    int dropped = ((int) (bits & 0xFFFF) - threshold) >> 31; // -1 when below the threshold
    return Float.intBitsToFloat(scaleBits & ~dropped);
  }

  @Override
  public void backward(Pass pass, Context context, float[] x, float[] y, float[] gy, float[] gx,
      int n) {
    if (gx == null) {
      return;
    }
    Ctx ctx = (Ctx) context;
    int len = n * in.size();
    if (!ctx.active()[0]) {
      System.arraycopy(gy, 0, gx, 0, len);
      return;
    }
    float[] mask = ctx.mask();
    for (int i = 0; i < len; i++) {
      gx[i] = gy[i] * mask[i];
    }
  }
}
