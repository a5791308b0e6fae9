package convspark.common;

/**
 * Derives independent seeds from one run seed and coordinates (epoch, step, partition, ...), so
 * every random choice of a run flows from its configured seed and does not depend on which
 * executor or thread made it.
 */
public final class Seeds {
  private Seeds() {}

  /** SplitMix64's finaliser: a bijective, well-mixing function of 64 bits. */
  public static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** A seed for {@code (seed, parts...)}; different tuples give unrelated seeds. */
  public static long derive(long seed, long... parts) {
    long h = mix64(seed + 0x9E3779B97F4A7C15L);
    for (long p : parts) {
      h = mix64(h ^ (p + 0x9E3779B97F4A7C15L));
    }
    return h;
  }
}
