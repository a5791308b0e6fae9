package convspark.worker;

import java.io.Serializable;
import java.util.SplittableRandom;

/**
 * Data augmentation applied while a step gathers its samples, inside the executors, so it costs
 * no extra pass over the data: random horizontal flip (probability 1/2), random translation by up
 * to {@code maxShift} pixels in each direction (pad with zeros, then crop back to size, as
 * torchvision's {@code RandomCrop(size, padding)}), then random erasing (Zhong et al. 2017,
 * "Random Erasing Data Augmentation"; torchvision's {@code RandomErasing} with {@code value = 0}):
 * with probability {@code erase}, a rectangle of {@code eraseMinArea}..{@code eraseMaxArea} of
 * the image, its aspect ratio drawn log-uniformly in 1/{@code eraseMaxAspect}..{@code
 * eraseMaxAspect}, is set to zero in every channel (after normalisation, zero is the mean).
 * Labels are untouched.
 *
 * @param flip random horizontal flips
 * @param maxShift largest translation in pixels (0: none)
 * @param erase probability of erasing a rectangle (0: never)
 * @param eraseMinArea smallest erased area, as a fraction of the image
 * @param eraseMaxArea largest erased area, as a fraction of the image
 * @param eraseMaxAspect largest height/width ratio of the rectangle (its inverse is the smallest)
 */
public record Augment(boolean flip, int maxShift, double erase, double eraseMinArea,
    double eraseMaxArea, double eraseMaxAspect) implements Serializable {
  public static final Augment NONE = new Augment(false, 0);

  /** torchvision's RandomErasing tries this many rectangles before it leaves an image whole. */
  static final int ERASE_ATTEMPTS = 10;

  public Augment {
    if (maxShift < 0) {
      throw new IllegalArgumentException("maxShift " + maxShift + " < 0");
    }
    if (!(erase >= 0 && erase <= 1)) {
      throw new IllegalArgumentException("erase probability " + erase + " not in [0, 1]");
    }
    if (!(eraseMinArea > 0 && eraseMinArea <= eraseMaxArea && eraseMaxArea <= 1)) {
      throw new IllegalArgumentException("erase areas " + eraseMinArea + ".." + eraseMaxArea
          + " not 0 < min <= max <= 1");
    }
    if (!(eraseMaxAspect >= 1 && Double.isFinite(eraseMaxAspect))) {
      throw new IllegalArgumentException("erase aspect " + eraseMaxAspect + " not >= 1");
    }
  }

  /** Flips and translations only, no erasing. */
  public Augment(boolean flip, int maxShift) {
    this(flip, maxShift, 0, 0.02, 0.33, 3.3);
  }

  public boolean active() {
    return flip || maxShift > 0 || erase > 0;
  }

  /**
   * Copies one C x H x W sample from {@code src} to {@code dst}, flipped, shifted and erased as
   * drawn from {@code rng}. Zero is the padding and erasing value. Without erasing, the draws are
   * those of the flip and shift alone, so runs made before erasing existed are unchanged.
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
    if (erase > 0 && rng.nextDouble() < erase) {
      eraseRectangle(dst, dstOff, c, h, w, rng);
    }
  }

  /** torchvision's RandomErasing.get_params: up to ten draws, the first rectangle that fits. */
  private void eraseRectangle(float[] dst, int dstOff, int c, int h, int w,
      SplittableRandom rng) {
    double logAspect = Math.log(eraseMaxAspect);
    for (int attempt = 0; attempt < ERASE_ATTEMPTS; attempt++) {
      double area = h * w * (eraseMinArea + (eraseMaxArea - eraseMinArea) * rng.nextDouble());
      double aspect = Math.exp(-logAspect + 2 * logAspect * rng.nextDouble());
      int eh = (int) Math.round(Math.sqrt(area * aspect));
      int ew = (int) Math.round(Math.sqrt(area / aspect));
      if (eh < 1 || ew < 1 || eh >= h || ew >= w) {
        continue;
      }
      int y0 = rng.nextInt(h - eh + 1);
      int x0 = rng.nextInt(w - ew + 1);
      for (int ch = 0; ch < c; ch++) {
        for (int y = y0; y < y0 + eh; y++) {
          int row = dstOff + ch * h * w + y * w;
          java.util.Arrays.fill(dst, row + x0, row + x0 + ew, 0f);
        }
      }
      return;
    }
  }
}
