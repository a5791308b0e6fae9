package convspark.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * When a benchmark's warm-up is over: once this JVM's JIT compilers have been quiet. The
 * kernel's vector code runs many times slower until C2 has compiled it; in a JVM with two
 * compute threads on two cores, the compilers work for the first 5-10 s (one such run: no
 * image at all in its first 3 s, 700 and 1,800 images/s in seconds 4 and 5, 2,700-3,000 from
 * second 6), and P JVMs compiling at once on P cores take longer still. A fixed warm-up of a few
 * seconds measures part of that compilation.
 *
 * <p>{@link #quiet} samples the total compilation time at each call and says quiet once, over
 * the last {@link #WINDOW_NANOS} or more, it grew by at most {@link #QUIET_SHARE} of the wall
 * time. Never quiet where the JVM does not report compilation time; callers stop waiting at
 * {@link #CAP_SECONDS}.
 */
public final class JitQuiet {
  /** The JIT counts as quiet when it compiled for at most this share of the last window. */
  public static final double QUIET_SHARE = 0.02;
  public static final long WINDOW_NANOS = 1_000_000_000L;
  /** The longest warm-up: measure then even if the compilers still work. */
  public static final double CAP_SECONDS = 60;

  private final CompilationMXBean bean = ManagementFactory.getCompilationMXBean();
  private final ArrayDeque<long[]> samples = new ArrayDeque<>();

  /** Whether the compilers were quiet over the last window, at time {@code now} (nanoTime). */
  public boolean quiet(long now) {
    if (bean == null || !bean.isCompilationTimeMonitoringSupported()) {
      return false;
    }
    long millis = bean.getTotalCompilationTime();
    samples.addLast(new long[] {now, millis});
    // the oldest sample kept is the newest one at least a window old
    while (samples.size() > 2) {
      Iterator<long[]> it = samples.iterator();
      it.next();
      if (now - it.next()[0] < WINDOW_NANOS) {
        break;
      }
      samples.removeFirst();
    }
    long[] base = samples.peekFirst();
    long span = now - base[0];
    return span >= WINDOW_NANOS && (millis - base[1]) * 1e6 <= QUIET_SHARE * span;
  }

  /**
   * Sleeps (polling every 100 ms) until at least {@code minSeconds} after {@code start} and the
   * compilers are quiet, or {@link #CAP_SECONDS} after {@code start}; returns whether they were
   * quiet.
   */
  public static boolean await(long start, double minSeconds) throws InterruptedException {
    JitQuiet jit = new JitQuiet();
    long min = start + (long) (minSeconds * 1e9);
    long cap = start + (long) (Math.max(minSeconds, CAP_SECONDS) * 1e9);
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
