package convspark.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * When a benchmark's warm-up is over: once this JVM's JIT compilers have been quiet. The
 * kernel's vector code runs many times slower until C2 has compiled it; in a JVM with two
 * compute threads on two cores, the compilers work for the first 5-10 s (one such run: no
 * image at all in its first 3 s, 700 and 1,800 images/s in seconds 4 and 5, 2,700-3,000 from
 * second 6), and P JVMs compiling at once on P cores take longer still. A fixed warm-up of a few
 * seconds measures part of that compilation.
 *
 * <p>{@link #quiet} reads the total compilation time and says quiet once, over a window of
 * {@link #WINDOW_NANOS} or more, it grew by at most {@link #QUIET_SHARE} of the wall time.
 * Never quiet where the JVM does not report compilation time; callers stop waiting at
 * {@link #CAP_SECONDS}.
 */
public final class JitQuiet {
  /** The JIT counts as quiet when it compiled for at most this share of the last window. */
  public static final double QUIET_SHARE = 0.02;
  public static final long WINDOW_NANOS = 1_000_000_000L;
  /** The longest warm-up: measure then even if the compilers still work. */
  public static final double CAP_SECONDS = 60;

  private final CompilationMXBean bean = ManagementFactory.getCompilationMXBean();
  private long windowStart = -1;
  private long windowMillis;
  private boolean quiet;

  /**
   * Whether the compilers were quiet over the last whole window before {@code now} (nanoTime):
   * the windows follow each other from the first call on, so a quiet spell is seen at most one
   * window late. No allocation: {@code ScaleBench} calls it every step.
   */
  public boolean quiet(long now) {
    if (bean == null || !bean.isCompilationTimeMonitoringSupported()) {
      return false;
    }
    long millis = bean.getTotalCompilationTime();
    if (windowStart < 0) {
      windowStart = now;
      windowMillis = millis;
    } else if (now - windowStart >= WINDOW_NANOS) {
      quiet = (millis - windowMillis) * 1e6 <= QUIET_SHARE * (now - windowStart);
      windowStart = now;
      windowMillis = millis;
    }
    return quiet;
  }

  /** The latest end of a warm-up from {@code start} that lasts at least {@code minSeconds}. */
  public static long cap(long start, double minSeconds) {
    return start + (long) (Math.max(minSeconds, CAP_SECONDS) * 1e9);
  }

  /**
   * Sleeps (polling every 100 ms) until at least {@code minSeconds} after {@code start} and the
   * compilers are quiet, or {@link #CAP_SECONDS} after {@code start}; returns whether they were
   * quiet.
   */
  public static boolean await(long start, double minSeconds) throws InterruptedException {
    JitQuiet jit = new JitQuiet();
    long min = start + (long) (minSeconds * 1e9);
    long cap = cap(start, minSeconds);
    while (true) {
      long now = System.nanoTime();
      boolean quiet = jit.quiet(now);
      if (now >= min && (quiet || now >= cap)) {
        return quiet;
      }
      Thread.sleep(100);
    }
  }
}
