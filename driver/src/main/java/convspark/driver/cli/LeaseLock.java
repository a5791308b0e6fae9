package convspark.driver.cli;

import static convspark.driver.cli.RunIdentity.oneLine;

import convspark.common.BadInputException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A lease on {@code DIR/.lease} in a checkpoint directory on a file system other than the local
 * one (HDFS, S3A, ...), where no OS lock reaches: a second run on the same directory (a
 * scheduler's retry while the first still runs, two {@code --resume}s) exits 2 instead of writing
 * checkpoints beside the first's. {@link DirLock} is its local counterpart.
 *
 * <p>The lock file is created only if absent ({@code create} without overwrite, atomic on HDFS)
 * and names its holder (host, pid, a random token). The holder rewrites it every {@link #RENEW}
 * (a daemon thread), so its modification time, set by the file system's own clock, says the
 * holder is alive. A process that dies leaves the file; another run takes it over once it is
 * {@link #STALE} old by the file system's clock (a probe file written just before gives "now" in
 * that clock, so the hosts' clocks do not matter), or at once when it names a pid of this host
 * that no longer runs. Taking over moves the old file aside first (one rename: of two runs
 * taking over together, one wins) and checks that the moved file is the stale one.
 *
 * <p>A holder that finds the file no longer its own (taken over after it could not renew for
 * {@link #STALE}, e.g. a driver paused that long) or that could not renew for that long, has lost
 * the lock: {@link #check} then fails, and the run stops at its next checkpoint write rather than
 * write beside another run. On object stores without an atomic create-if-absent (S3 before
 * conditional writes) two runs starting within the same instant could both create the file: the
 * lease then narrows the window to that instant, and the checkpoint directory's run id
 * ({@code CheckpointStore#writeNamed}) still stops a run whose directory another claimed.
 */
final class LeaseLock implements AutoCloseable {
  /**
   * The lease's file; not {@link DirLock#NAME}, whose file a local run leaves in its directories
   * and which a file system reached under another scheme would show.
   */
  static final String NAME = ".lease";
  /** How often the holder rewrites the lock file. */
  static final long RENEW = 30_000;
  /** The age (by the file system's clock) after which a lock whose holder is gone is taken over. */
  static final long STALE = 120_000;
  private static final String UNKNOWN_HOST = "unknown-host";
  private static final String UNKNOWN_NAMESPACE = "unknown";
  private static final String RELEASED = "released";
  private static final Pattern LINE = Pattern.compile(
      "convspark-lock host=(\\S+) pid=(\\d+)(?: ns=(\\S+))? token=(\\S+)");

  private final FileSystem fs;
  private final Path dir;
  private final Path file;
  private final String option;
  private final String line;
  private final long renewMillis;
  private final long staleMillis;
  private final boolean madeDir;
  private final String tookOver;
  private final ScheduledExecutorService timer;
  /** Why the lock was lost (null while held). */
  private volatile String lost;
  private volatile long lastRenewNanos;
  private volatile String lastError;

  private LeaseLock(FileSystem fs, Path dir, String option, String line, long renewMillis,
      long staleMillis, boolean madeDir, String tookOver) {
    this.fs = fs;
    this.dir = dir;
    this.file = new Path(dir, NAME);
    this.option = option;
    this.line = line;
    this.renewMillis = renewMillis;
    this.staleMillis = staleMillis;
    this.madeDir = madeDir;
    this.tookOver = tookOver;
    this.lastRenewNanos = System.nanoTime();
    this.timer = renewMillis > 0 ? Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "convspark-checkpoint-lock");
      t.setDaemon(true);
      return t;
    }) : null;
    if (timer != null) {
      timer.scheduleWithFixedDelay(this::renew, renewMillis, renewMillis,
          TimeUnit.MILLISECONDS);
    }
  }

  /** Locks {@code dir} (created if needed) with {@link #RENEW} and {@link #STALE}. */
  static LeaseLock acquire(FileSystem fs, Path dir, String option) throws IOException {
    return acquire(fs, dir, option, RENEW, STALE, host());
  }

  /**
   * Locks {@code dir}; {@code option} names it in messages; {@code renewMillis} 0 renews only
   * when a test calls {@link #renew}; {@code host} is this host's name as lock files give it.
   *
   * @throws BadInputException when another live run holds the lock, or the directory cannot be
   *     written
   */
  static LeaseLock acquire(FileSystem fs, Path dir, String option, long renewMillis,
      long staleMillis, String host) throws IOException {
    boolean existed;
    try {
      existed = fs.exists(dir);
      if (!fs.mkdirs(dir)) {
        throw new IOException("cannot create the directory");
      }
    } catch (IOException e) {
      throw new BadInputException(option + " " + dir + ": not writable (" + oneLine(e) + ")", e);
    }
    Path file = new Path(dir, NAME);
    String line = "convspark-lock host=" + host + " pid=" + ProcessHandle.current().pid()
        + " ns=" + PID_NAMESPACE + " token=" + UUID.randomUUID() + "\n";
    String tookOver = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      // looked at first, although the create below refuses an existing file where the file
      // system can: S3A with fs.s3a.create.performance skips that check and would overwrite a
      // live lease (its holder, not this run, would then stop)
      if (exists(fs, file)) {
        Optional<String> why = takeOver(fs, dir, file, option, staleMillis, host);
        if (why.isPresent()) {
          tookOver = why.get();
        }
        if (exists(fs, file)) {
          continue; // it went and came back meanwhile: look again
        }
      }
      try (FSDataOutputStream out = fs.create(file, false)) {
        out.write(line.getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        // HDFS and S3A say FileAlreadyExistsException; a file system that words it otherwise
        // still shows the file
        if (!(e instanceof FileAlreadyExistsException) && !exists(fs, file)) {
          throw new BadInputException(option + " " + dir + ": not writable (" + oneLine(e)
              + ")", e);
        }
        Optional<String> why = takeOver(fs, dir, file, option, staleMillis, host);
        if (why.isPresent()) {
          tookOver = why.get();
        }
        continue;
      }
      String back;
      try {
        back = read(fs, file);
      } catch (FileNotFoundException e) {
        continue; // another run taking over at the same moment moved it aside: try again
      }
      if (!line.equals(back)) {
        // a file system whose create-if-absent is not atomic let another run replace ours
        throw held(option, dir, file, describe(back), -1, staleMillis);
      }
      return new LeaseLock(fs, dir, option, line, renewMillis, staleMillis, !existed, tookOver);
    }
    throw new BadInputException(option + " " + dir + ": another convspark run is writing it "
        + "(its " + file + " was replaced 3 times while this run took it); wait for it to end "
        + "or choose another " + option);
  }

  /**
   * Moves a stale lock aside, and says whose it was; refuses one that is held.
   *
   * @return the warning to give, or empty when the file went meanwhile (try again)
   */
  private static Optional<String> takeOver(FileSystem fs, Path dir, Path file, String option,
      long staleMillis, String host) throws IOException {
    String content;
    FileStatus st;
    try {
      content = read(fs, file);
      st = fs.getFileStatus(file);
    } catch (FileNotFoundException e) {
      return Optional.empty(); // its holder ended meanwhile
    }
    long age = now(fs, dir) - st.getModificationTime();
    Matcher m = LINE.matcher(content.strip());
    // a pid says something only in its own pid namespace: containers that share a host name
    // (docker --net=host) do not share their pids
    boolean goneHere = m.matches() && m.group(1).equals(host) && !host.equals(UNKNOWN_HOST)
        && PID_NAMESPACE.equals(m.group(3)) && !PID_NAMESPACE.equals(UNKNOWN_NAMESPACE)
        && !ProcessHandle.of(Long.parseLong(m.group(2))).map(ProcessHandle::isAlive)
            .orElse(false);
    if (age < staleMillis && !goneHere) {
      throw held(option, dir, file, describe(content), age, staleMillis);
    }
    Path aside = new Path(dir, NAME + ".stale-" + UUID.randomUUID());
    if (!fs.rename(file, aside)) {
      return Optional.empty(); // another run moved it first
    }
    // by its content (the holder's token), not its time: an object store's rename (S3A, GCS)
    // copies, and the copy has a time of its own. A renewal between our look and our move
    // writes the same bytes: its holder then finds the file not its own and stops
    String moved = read(fs, aside);
    if (!moved.equals(content)) {
      // between our look and our move another run took it over: its lock goes back
      fs.rename(aside, file);
      throw held(option, dir, file, describe(moved), 0, staleMillis);
    }
    fs.delete(aside, false);
    return Optional.of(option + " " + dir + ": took over the lock of a run that is gone ("
        + describe(content) + ", " + (goneHere ? "a process this host no longer runs"
        : "not renewed for " + seconds(age)) + ")");
  }

  private static BadInputException held(String option, Path dir, Path file, String holder,
      long age, long staleMillis) {
    return new BadInputException(option + " " + dir + ": another convspark run is writing it ("
        + file + " names " + holder + (age >= 0 ? ", renewed " + seconds(age) + " ago" : "")
        + "); wait for it to end, or, if that run is gone, for its lock to be "
        + seconds(staleMillis) + " old, or delete " + file);
  }

  /**
   * How long after its last renewal a holder counts its lease as lost: the stale age less one
   * renewal period, a margin for the checkpoint write that follows a check, and for the file
   * system's time (set when a renewal began, in whole seconds on S3) running ahead of ours.
   */
  private long deadlineMillis() {
    return staleMillis - renewMillis;
  }

  /**
   * Whether the lease is still this run's, reading {@code cur} (the file's content now); records
   * a loss. An empty file within the deadline is this run's own renewal torn by a failed write
   * (no other run takes over a lease that young), which the next renewal writes again.
   */
  private boolean stillOurs(String cur) {
    if (cur.equals(line) || (cur.isEmpty() && !pastDeadline())) {
      return true;
    }
    lost = "its " + file + " now names " + describe(cur) + ", which took it over";
    return false;
  }

  /** Whether the last renewal is older than the deadline; records a loss if so. */
  private boolean pastDeadline() {
    long since = (System.nanoTime() - lastRenewNanos) / 1_000_000;
    if (timer == null || since <= deadlineMillis()) {
      return false;
    }
    if (lost == null) {
      lost = "it could not be renewed for " + seconds(since) + (lastError != null ? " ("
          + lastError + ")" : "") + ", and another run may have taken it over";
    }
    return true;
  }

  /** Rewrites the lock file if it is still this run's; records a loss. */
  synchronized void renew() {
    if (lost != null || pastDeadline()) {
      return; // a lease this late may be another's now: never written over
    }
    try {
      if (!stillOurs(read(fs, file))) {
        return;
      }
      try (FSDataOutputStream out = fs.create(file, true)) {
        out.write(line.getBytes(StandardCharsets.UTF_8));
      }
      lastRenewNanos = System.nanoTime();
      lastError = null;
    } catch (FileNotFoundException e) {
      lost = "its " + file + " was deleted";
    } catch (IOException | RuntimeException e) {
      lastError = oneLine(e); // tried again at the next renewal; check() fails if it lasts
    }
  }

  /**
   * Fails when the lock was lost (its file, read now, is no longer this run's), or could not be
   * renewed for {@link #STALE} (another run may have taken it over): the run stops rather than
   * write beside another. One small read: the run calls it before each checkpoint write.
   */
  synchronized void check() throws IOException {
    if (lost == null && !pastDeadline()) {
      try {
        stillOurs(read(fs, file));
      } catch (FileNotFoundException e) {
        lost = "its " + file + " was deleted";
      } catch (IOException e) {
        lastError = oneLine(e); // the time since the last renewal decides
      }
    }
    if (lost != null) {
      throw new IOException(option + " " + dir + ": this run lost its lock (" + lost
          + "); it stops rather than write checkpoints beside another run");
    }
  }

  /** The warning of a lock taken over from a run that is gone. */
  Optional<String> tookOver() {
    return Optional.ofNullable(tookOver);
  }

  /**
   * Stops renewing and deletes the lock file if it is still this run's; a directory the run made
   * that holds nothing else goes again.
   */
  @Override
  public void close() throws IOException {
    if (timer != null) {
      // a renewal in flight may finish (interrupted, HDFS's write, which replaced the file when
      // it was created, leaves it empty: a lease naming no holder, for the next run to wait
      // out); only one that hangs is interrupted
      timer.shutdown();
      try {
        if (!timer.awaitTermination(10, TimeUnit.SECONDS)) {
          timer.shutdownNow();
        }
      } catch (InterruptedException e) {
        timer.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    synchronized (this) {
      if (lost != null) {
        return;
      }
      lost = RELEASED;
      try {
        String cur = read(fs, file);
        if (line.equals(cur) || cur.isEmpty()) {
          fs.delete(file, false);
        }
        if (madeDir && fs.exists(dir) && fs.listStatus(dir).length == 0) {
          fs.delete(dir, false);
        }
      } catch (FileNotFoundException e) {
        // nothing to delete
      } catch (IOException e) {
        // the run itself is done and its files kept: a lease left behind only delays the next
        // run until it is stale, which this says
        System.err.println("convspark: warning: " + option + " " + dir + ": could not remove "
            + "this run's lease " + file + " (" + oneLine(e) + "); the next run takes it over "
            + "once it is " + seconds(staleMillis) + " old");
      }
    }
  }

  /** The file system's clock: the modification time of a file written now. */
  private static long now(FileSystem fs, Path dir) throws IOException {
    Path p = new Path(dir, "." + NAME + ".clock-" + UUID.randomUUID());
    try {
      fs.create(p, false).close();
      return fs.getFileStatus(p).getModificationTime();
    } finally {
      fs.delete(p, false);
    }
  }

  private static String read(FileSystem fs, Path p) throws IOException {
    try (InputStream in = fs.open(p)) {
      return new String(in.readNBytes(4096), StandardCharsets.UTF_8);
    }
  }

  private static boolean exists(FileSystem fs, Path p) {
    try {
      return fs.exists(p);
    } catch (IOException e) {
      return false;
    }
  }

  private static String describe(String content) {
    Matcher m = LINE.matcher(content.strip());
    return m.matches() ? "host " + m.group(1) + ", pid " + m.group(2)
        : "a holder it does not name in a form this version reads";
  }

  private static String seconds(long millis) {
    return String.format(Locale.ROOT, "%d s", Math.max(0, millis) / 1000);
  }

  /** This process's pid namespace (Linux), as lock files give it. */
  private static final String PID_NAMESPACE = pidNamespace();

  private static String pidNamespace() {
    try {
      return java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid"))
          .toString().replaceAll("\\s", "_");
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return UNKNOWN_NAMESPACE;
    }
  }

  /** The pid namespace lock files of this process carry (tests write such lines). */
  static String pidNamespaceForTests() {
    return PID_NAMESPACE;
  }

  /** This host's name, as lock files give it. */
  static String host() {
    try {
      return InetAddress.getLocalHost().getHostName().replaceAll("\\s", "_");
    } catch (IOException e) {
      return UNKNOWN_HOST;
    }
  }
}
