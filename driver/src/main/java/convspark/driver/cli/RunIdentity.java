package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.io.AtomicFiles;
import convspark.common.io.Checkpoint;
import convspark.driver.config.RunConfig;
import convspark.driver.train.CheckpointStore;
import convspark.driver.train.Trainer;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Ties a run's checkpoints to the run. A run has an id (a UUID, in {@code OUT/run-id}); its
 * checkpoint directory names the same id ({@link CheckpointStore#RUN_FILE}) and every checkpoint
 * carries it. Before anything is written this checks that:
 *
 * <ul>
 *   <li>a new run's checkpoint directory holds no other run's checkpoints (with {@code
 *       --overwrite}, those of the run being replaced are set aside with it);
 *   <li>{@code --resume} continues a checkpoint of the run in {@code --out}, not another's;
 *   <li>the checkpoint directory can be written (a probe file), so that this fails now and not
 *       after the first epoch;
 *   <li>no other run writes it: a local checkpoint directory outside {@code --out} is locked
 *       ({@link DirLock}) until {@link #close}; under {@code --out}, {@code OUT/.lock} covers it.
 *       On other file systems (HDFS, S3A, ...) a lease ({@link LeaseLock}) does the same, and
 *       the run stops at its next checkpoint write if it loses it ({@link #checkLock}); a run
 *       whose directory another run claimed stops there too ({@link
 *       CheckpointStore#writeNamed}).
 * </ul>
 */
final class RunIdentity implements AutoCloseable {
  static final String OUT_FILE = "run-id";
  private final RunDirectory out;
  private final CheckpointStore store;
  private final FileSystem fs;
  private final Path dir;
  private final boolean inside;
  private final boolean setAsideCheckpoints;
  private final String id;
  /** Where this run set the replaced run's checkpoints aside, until deleted or moved back. */
  private Path aside;
  /** The names the replaced run's files had in the checkpoint directory. */
  private Set<String> oldNames = Set.of();
  /** {@link #start} was called: what of ours is in the checkpoint directory may be this run's. */
  private boolean began;
  /** The directory is this run's ({@link CheckpointStore#claim}): its checkpoints are ours. */
  private boolean claimed;
  /**
   * The checkpoint a resume continues from, read here under the directory's lock, until the
   * trainer takes it ({@link #takeResumePoint}): read once, not again by the trainer.
   */
  private CheckpointStore.Found resumePoint;
  /** The lock on a local checkpoint directory outside --out, or null. */
  private final DirLock locked;
  private final LeaseLock lease;

  private RunIdentity(RunDirectory out, CheckpointStore store, boolean inside,
      boolean setAsideCheckpoints, String id, DirLock locked, LeaseLock lease) {
    this.locked = locked;
    this.lease = lease;
    this.out = out;
    this.store = store;
    this.fs = store.fileSystem();
    this.dir = store.dir();
    this.inside = inside;
    this.setAsideCheckpoints = setAsideCheckpoints;
    this.id = id;
  }

  /** The Hadoop configuration of a run: defaults plus the config's spark.hadoop.* keys. */
  static Configuration hadoopConf(RunConfig cfg) {
    Configuration conf = new Configuration();
    for (Map.Entry<String, String> e : cfg.spark().conf().entrySet()) {
      if (e.getKey().startsWith("spark.hadoop.")) {
        conf.set(e.getKey().substring("spark.hadoop.".length()), e.getValue());
      }
    }
    return conf;
  }

  /** {@link DirLock#writableByAll} of a local checkpoint directory outside {@code --out}. */
  java.util.Optional<String> writableByAll() {
    return locked == null ? java.util.Optional.empty() : locked.writableByAll();
  }

  /**
   * Whether checkpoint directory {@code uri} lies outside {@code out} (on another file system,
   * or a local directory not under it); true for a URI whose file system cannot be made, so that
   * the check of the directory names its problem ({@link #check}).
   */
  static boolean outside(String uri, java.nio.file.Path out, Configuration conf) {
    try {
      java.nio.file.Path local = local(CheckpointStore.raw(new Path(uri).getFileSystem(conf)),
          new Path(uri));
      return local == null || !under(local, out);
    } catch (IOException | RuntimeException e) {
      return true;
    }
  }

  /**
   * The entry of {@code out} that holds checkpoint directory {@code uri} when it lies inside it
   * ({@code checkpoints} by default, another name when {@code --checkpoint-dir} gives one).
   */
  static Optional<String> entryUnder(String uri, java.nio.file.Path out, Configuration conf) {
    try {
      java.nio.file.Path local = local(CheckpointStore.raw(new Path(uri).getFileSystem(conf)),
          new Path(uri));
      java.nio.file.Path o = out.toAbsolutePath().normalize();
      if (local == null || !under(local, out) || local.normalize().equals(o)) {
        return Optional.empty();
      }
      return Optional.of(o.relativize(local.normalize()).getName(0).toString());
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /** {@code dir} as a local path, or null on a file system other than the local one. */
  private static java.nio.file.Path local(FileSystem fs, Path dir) {
    return "file".equals(fs.getUri().getScheme())
        ? java.nio.file.Path.of(fs.makeQualified(dir).toUri()) : null;
  }

  private static boolean under(java.nio.file.Path local, java.nio.file.Path out) {
    return local.normalize().startsWith(out.toAbsolutePath().normalize());
  }

  /**
   * Whether checkpoint directory {@code uri} holds a checkpoint {@code --resume} can continue
   * from, for {@code --auto-resume}'s choice.
   *
   * @throws BadInputException when it holds checkpoints but none usable (torn or corrupt, or
   *     only {@code best.bin} or {@code final.bin}): their run wrote checkpoints, so it is not one to replace
   */
  static boolean usableCheckpoint(String uri, Configuration conf) throws IOException {
    CheckpointStore store;
    try {
      store = new CheckpointStore(uri, 1, conf);
    } catch (IOException | IllegalArgumentException e) {
      throw new BadInputException("--checkpoint-dir " + uri + ": " + oneLine(e));
    }
    if (!store.fileSystem().exists(store.dir())) {
      return false;
    }
    if (store.newest(false).isPresent()) {
      return true;
    }
    if (store.holdsCheckpoints()) {
      store.newest(true); // names each unusable file
      throw new BadInputException("--auto-resume: " + store.dir() + " holds checkpoints of a "
          + "run but none it can continue from (torn or corrupt files are kept as evidence); "
          + "a run that wrote checkpoints is not replaced: give --overwrite to replace it");
    }
    return false;
  }

  /** Checks the checkpoint directory {@code uri} for the run in {@code out}. */
  static RunIdentity check(RunDirectory out, String uri, boolean resume, boolean overwrite,
      Configuration conf) throws IOException {
    CheckpointStore store;
    try {
      store = new CheckpointStore(uri, 1, conf);
    } catch (IOException | IllegalArgumentException e) {
      throw new BadInputException("--checkpoint-dir " + uri + ": " + oneLine(e));
    }
    java.nio.file.Path local = local(store.fileSystem(), store.dir());
    boolean inside = local != null && under(local, out.path());
    DirLock locked = local == null || inside ? null : lock(local, uri);
    LeaseLock lease = null;
    try {
      if (local == null) {
        lease = LeaseLock.acquire(store.fileSystem(), store.dir(), "--checkpoint-dir");
      }
      probe(store, uri);
      return check(out, store, uri, resume, overwrite, inside, locked, lease);
    } catch (IOException | RuntimeException e) {
      if (locked != null) {
        locked.closeAndForget(); // refused: the directory is left as it was found
      }
      if (lease != null) {
        try {
          lease.close();
        } catch (IOException | RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
      }
      throw e;
    }
  }

  private static RunIdentity check(RunDirectory out, CheckpointStore store, String uri,
      boolean resume, boolean overwrite, boolean inside, DirLock locked, LeaseLock lease)
      throws IOException {
    Optional<String> outId = readOutId(out.path());
    Optional<String> dirId = store.runId();
    if (resume) {
      // quietly: the trainer, handed what is read here, says what was skipped; when nothing is
      // usable the run stops here, and the skipped files are said now
      Optional<CheckpointStore.Found> newest = store.newest(false);
      if (newest.isEmpty()) {
        store.newest(true);
        Optional<String> elsewhere = summaryCheckpointDir(out.path())
            .filter(d -> !sameDir(d, store.dir()));
        if (elsewhere.isPresent()) {
          throw new BadInputException("--resume: no usable checkpoint in " + store.dir()
              + "; the run in " + out.path() + " wrote its checkpoints to " + elsewhere.get()
              + " (its summary.json's checkpoint_dir): give --checkpoint-dir "
              + elsewhere.get() + " again");
        }
        throw new BadInputException("--resume: no usable checkpoint in " + store.dir()
            + (outId.isPresent() && dirId.isEmpty() ? ", which holds no checkpoint of the run "
                + "in " + out.path() + ": a run that wrote its checkpoints elsewhere "
                + "continues with that --checkpoint-dir given again;" : ";")
            + " a run stopped before its first checkpoint has nothing to continue: start it "
            + "again with --overwrite");
      }
      Checkpoint c = newest.get().checkpoint();
      Optional<String> ckptId = CheckpointStore.runOf(c);
      for (Optional<String> other : java.util.List.of(ckptId, dirId)) {
        if (outId.isPresent() && other.isPresent() && !outId.get().equals(other.get())) {
          throw new BadInputException("--resume: " + newest.get().path() + " belongs to run "
              + other.get() + " but --out " + out.path() + " holds run " + outId.get()
              + "; give the --checkpoint-dir of that run");
        }
      }
      RunIdentity r = new RunIdentity(out, store, inside, false,
          outId.orElse(dirId.orElse(ckptId.orElse(UUID.randomUUID().toString()))), locked,
          lease);
      r.resumePoint = newest.get();
      return r;
    }
    boolean setAside = false;
    if (store.holdsARun() && !(inside && overwrite)) {
      // a run id and no checkpoint: an attempt that died before its first checkpoint (a
      // scheduler's retry into a new --out meets it), which --overwrite and --auto-resume replace
      boolean replaced = overwrite && (!store.holdsCheckpoints()
          || outId.isPresent() && outId.equals(dirId));
      if (!replaced) {
        throw new BadInputException("--checkpoint-dir " + uri + ": holds the checkpoints of "
            + "another run" + dirId.map(s -> " (run " + s + ")").orElse("") + "; give an "
            + "empty directory, or continue that run with --resume and its --out");
      }
      setAside = true;
    }
    return new RunIdentity(out, store, inside, setAside, UUID.randomUUID().toString(), locked,
        lease);
  }

  /** Creates (if needed) and locks a local checkpoint directory. */
  private static DirLock lock(java.nio.file.Path dir, String uri) throws IOException {
    boolean existed = Files.isDirectory(dir);
    try {
      Files.createDirectories(dir);
    } catch (java.nio.file.FileSystemException e) {
      throw new BadInputException("--checkpoint-dir " + uri + ": not writable ("
          + DirLock.reason(e) + ")");
    }
    try {
      return DirLock.acquire(dir, "--checkpoint-dir", !existed);
    } catch (IOException | RuntimeException e) {
      if (!existed) {
        try {
          Files.deleteIfExists(dir);
        } catch (IOException cleanup) {
          e.addSuppressed(cleanup);
        }
      }
      throw e;
    }
  }

  /**
   * The warning of a checkpoint directory whose lock this run took over from a run that is gone
   * (on file systems other than the local one, {@link LeaseLock}).
   */
  Optional<String> tookOverLock() {
    return lease == null ? Optional.empty() : lease.tookOver();
  }

  /**
   * Fails when this run lost the lease on its checkpoint directory (another run took it over):
   * checked before every checkpoint write.
   */
  void checkLock() throws IOException {
    if (lease != null) {
      lease.check();
    }
  }

  /** Releases the checkpoint directory's lock, if this run holds one. */
  @Override
  public void close() throws IOException {
    try {
      if (locked != null) {
        locked.close(); // a directory it made that holds nothing else goes again
      }
    } finally {
      if (lease != null) {
        lease.close();
      }
    }
  }

  /**
   * Creates the directory if needed and writes and deletes a file in it (which goes however the
   * write fails: a full local disk is Hadoop's FSError, an Error).
   */
  private static void probe(CheckpointStore store, String uri) {
    Path p = new Path(store.dir(), ".probe-" + UUID.randomUUID());
    FileSystem fs = store.fileSystem();
    boolean existed = true;
    try {
      existed = fs.exists(store.dir());
      if (!fs.mkdirs(store.dir())) {
        throw new IOException("cannot create the directory");
      }
      try (OutputStream o = fs.create(p, false)) {
        o.write(1);
      }
    } catch (IOException | RuntimeException | org.apache.hadoop.fs.FSError e) {
      throw new BadInputException("--checkpoint-dir " + uri + ": not writable (" + oneLine(e)
          + ")");
    } finally {
      try {
        fs.delete(p, false);
        if (!existed) {
          fs.delete(store.dir(), false);
        }
      } catch (IOException | RuntimeException e) {
        // the probe's name says what it was
      }
    }
  }

  static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  /** Whether URI {@code d} names {@code dir} (file:///x, file:/x and /x alike). */
  private static boolean sameDir(String d, Path dir) {
    java.net.URI a = new Path(d).toUri();
    java.net.URI b = dir.toUri();
    String sa = a.getScheme() == null ? "file" : a.getScheme();
    String sb = b.getScheme() == null ? "file" : b.getScheme();
    return sa.equals(sb) && java.util.Objects.equals(a.getHost(), b.getHost())
        && new Path(a.getPath()).equals(new Path(b.getPath()));
  }

  /** The checkpoint directory the run in {@code out} recorded in its summary.json, if any. */
  private static Optional<String> summaryCheckpointDir(java.nio.file.Path out) {
    try {
      com.fasterxml.jackson.databind.JsonNode d = convspark.driver.metrics.Json.MAPPER.readTree(
          out.resolve(convspark.driver.train.Trainer.SUMMARY_FILE).toFile()).get("checkpoint_dir");
      return d != null && d.isTextual() ? Optional.of(d.asText()) : Optional.empty();
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // no summary (yet), or a torn one: nothing to say
    }
  }

  private static Optional<String> readOutId(java.nio.file.Path out) throws IOException {
    java.nio.file.Path f = out.resolve(OUT_FILE);
    if (!Files.isRegularFile(f)) {
      return Optional.empty();
    }
    String s = Files.readString(f, StandardCharsets.UTF_8).strip();
    return s.isEmpty() ? Optional.empty() : Optional.of(s);
  }

  /**
   * The files a run writes into its checkpoint directory (which may hold other files: only these
   * are ever moved or deleted).
   */
  static boolean ours(String name) {
    return name.equals(CheckpointStore.RUN_FILE) || name.matches("ckpt-\\d+\\.bin")
        || name.equals(Trainer.BEST) || name.equals(Trainer.BEST_PREVIOUS)
        || name.equals("final.bin")
        || name.matches("\\..*\\.(tmp|crc)");
  }

  String id() {
    return id;
  }

  /**
   * The run starts: the replaced run's checkpoints (outside --out) are set aside, and the run's
   * id is written to --out and the checkpoint directory. When this fails partway, {@link
   * #rollBack} moves back what was moved.
   */
  void start() throws IOException {
    began = true;
    if (setAsideCheckpoints) {
      List<Path> old = new ArrayList<>();
      for (FileStatus s : fs.listStatus(dir)) {
        if (ours(s.getPath().getName())) {
          old.add(s.getPath());
        }
      }
      Path a = new Path(dir, RunDirectory.REPLACED + System.currentTimeMillis());
      if (!fs.mkdirs(a)) {
        throw new IOException("could not create " + a);
      }
      aside = a;
      oldNames = old.stream().map(Path::getName).collect(Collectors.toSet());
      for (Path p : old) {
        if (!fs.rename(p, new Path(a, p.getName()))) {
          throw new IOException("could not move " + p + " into " + a);
        }
      }
    }
    AtomicFiles.writeString(out.path().resolve(OUT_FILE), id + "\n");
    store.claim(id);
    claimed = true;
  }

  /** Where the replaced run's checkpoints are while this run has them set aside, if it does. */
  Optional<Path> aside() {
    return Optional.ofNullable(aside);
  }

  /**
   * The checkpoint a resume continues from, as read by the identity check (empty for a new run,
   * and after the first call: the caller holds it from then on).
   */
  Optional<CheckpointStore.Found> takeResumePoint() {
    Optional<CheckpointStore.Found> f = Optional.ofNullable(resumePoint);
    resumePoint = null;
    return f;
  }

  /**
   * The newest good checkpoint of the run, if it wrote one (none before the run claimed the
   * directory: what is there then is another run's).
   */
  Optional<Path> lastGood() {
    if (!claimed) {
      return Optional.empty();
    }
    try {
      // quietly: the run's own lines have said what it skipped
      return store.newest(false).map(CheckpointStore.Found::path);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  /**
   * The run wrote a checkpoint or finished: the replaced run's checkpoints that this run set
   * aside go (never those another run set aside, e.g. one that was killed).
   */
  void commit() throws IOException {
    if (aside != null) {
      fs.delete(aside, true);
    }
    aside = null;
  }

  /**
   * Whether this run still holds its lease, the lease file read now: another run may have
   * taken the directory over since the last renewal, up to {@link LeaseLock#RENEW} ago.
   */
  private boolean stillHeld() {
    try {
      lease.check();
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * A new run failed before its first checkpoint: its marks go, the replaced run returns. A file
   * of the replaced run that was never moved (start failed partway) stays where it is,
   * and nothing is touched once the lease is found lost.
   */
  void rollBack() throws IOException {
    if (inside || !began) {
      return; // under --out RunDirectory.rollBack does it all; before start nothing was done
    }
    if (lease != null && !stillHeld()) {
      return; // the directory may be another run's now: what is there may be its files
    }
    if (fs.exists(dir)) {
      for (FileStatus s : fs.listStatus(dir)) {
        String n = s.getPath().getName();
        if (ours(n) && (!oldNames.contains(n) || (aside != null
            && fs.exists(new Path(aside, n))))) {
          fs.delete(s.getPath(), false);
        }
      }
    }
    if (aside != null) {
      for (FileStatus s : fs.listStatus(aside)) {
        if (!fs.rename(s.getPath(), new Path(dir, s.getPath().getName()))) {
          throw new IOException("could not move " + s.getPath() + " back into " + dir);
        }
      }
      fs.delete(aside, true);
      aside = null;
    }
  }
}
