package convspark.worker;

import java.io.Serializable;
import java.util.SplittableRandom;

/**
 * Data augmentation applied while a step gathers its samples, inside the executors, so it costs
 * no extra pass over the data: random horizontal flip (probability 1/2) and random translation
 * by up to {@code maxShift} pixels in each direction (pad with zeros, then crop back to size, as
 * torchvision's {@code RandomCrop(size, padding)}). Labels are untouched.
 *
 * @param flip random horizontal flips
 * @param maxShift largest translation in pixels (0: none)
 */
public record Augment(boolean flip, int maxShift) implements Serializable {
  public static final Augment NONE = new Augment(false, 0);

  public boolean active() {
    return flip || maxShift > 0;
  }

  /**
   * Copies one C x H x W sample from {@code src} to {@code dst}, flipped and shifted as drawn from
   * {@code rng}. Zero is the padding value (after normalisation, zero is the mean).
   */
  public void apply(float[] src, int srcOff, float[] dst, int dstOff, int c, int h, int w,
      SplittableRandom rng) {
    boolean f = flip && rng.nextBoolean();
    int dy = maxShift > 0 ? rng.nextInt(2 * maxShift + 1) - maxShift : 0;
    int dx = maxShift > 0 ? rng.nextInt(2 * maxShift + 1) - maxShift : 0;
    for (int ch = 0; ch < c; ch++) {
      int plane = ch * h * w;
      for (int y = 0; y < h; y++) {
        int sy = y + dy;
        int out = dstOff + plane + y * w;
        if (sy < 0 || sy >= h) {
          java.util.Arrays.fill(dst, out, out + w, 0f);
          continue;
        }
        int in = srcOff + plane + sy * w;
        for (int x = 0; x < w; x++) {
          int sx = (f ? w - 1 - x : x) + dx;
          dst[out + x] = sx >= 0 && sx < w ? src[in + sx] : 0f;
        }
      }
    }
  }
}
