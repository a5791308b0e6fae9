package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.driver.train.Trainer;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A run's {@code --out} directory while {@code train} writes it.
 *
 * <ul>
 *   <li>Locked: {@code OUT/.lock} is held (an OS file lock) from the first check to the end, so
 *       two runs never write the same directory; the second one exits 2.
 *   <li>Checked: a non-empty directory needs {@code --resume} or {@code --overwrite}.
 *   <li>Replaced late: with {@code --overwrite} the old run stays untouched through every check;
 *       when the new run starts it is moved into {@code OUT/.replaced-<time>/}, deleted once the
 *       new run has written a checkpoint (or finished), and moved back if the new run fails
 *       before that, at any point from the first file moved on. A kill in between leaves it
 *       there, and no later run deletes it: only the run that set a directory aside does, so
 *       nothing is lost.
 * </ul>
 */
final class RunDirectory implements AutoCloseable {
  static final String LOCK = DirLock.NAME;
  static final String REPLACED = ".replaced-";
  private final Path out;
  private final DirLock lock;
  private final boolean replacing;
  private final boolean resuming;
  private final boolean mayReplace;
  /** Where this run set the old run aside, until it is deleted or moved back. */
  private Path aside;
  /** The names the old run had in {@code out} when it was set aside. */
  private Set<String> oldNames = Set.of();

  private RunDirectory(Path out, DirLock lock, boolean replacing, boolean resuming,
      boolean mayReplace) {
    this.out = out;
    this.lock = lock;
    this.replacing = replacing;
    this.resuming = resuming;
    this.mayReplace = mayReplace;
  }

  /**
   * What {@code train} was asked to do with the run in {@code --out}.
   *
   * @param auto {@code --auto-resume}: resume where the checkpoint directory holds a usable
   *     checkpoint, else start a new run (replacing, as {@code --overwrite}, a run in {@code
   *     --out} that wrote none)
   * @param checkpointsOutside the checkpoint directory is not under {@code --out} (a {@code
   *     --checkpoint-dir} elsewhere, e.g. on HDFS): a run may resume from it into a new {@code
   *     --out}, as a driver restarted on another node does
   * @param checkpointsEntry the entry of {@code --out} that holds a {@code --checkpoint-dir}
   *     inside it under another name than {@code checkpoints}: a run's own file, which {@code
   *     --overwrite} replaces with the rest
   */
  record Intent(boolean resume, boolean overwrite, boolean auto, boolean checkpointsOutside,
      Optional<String> checkpointsEntry) {
    static Intent of(boolean resume, boolean overwrite) {
      return new Intent(resume, overwrite, false, false, Optional.empty());
    }
  }

  /** Whether the checkpoint directory holds a checkpoint a run can resume from. */
  interface CheckpointProbe {
    boolean usable() throws IOException;
  }

  /** {@link #open(Path, Intent, CheckpointProbe)} without {@code --auto-resume}. */
  static RunDirectory open(Path out, boolean resume, boolean overwrite) throws IOException {
    return open(out, Intent.of(resume, overwrite), () -> false);
  }

  /**
   * Creates (if needed) and locks {@code out}, then checks it against what was asked; {@code
   * --auto-resume} decides here, under the lock, so that no run can change what it decided on.
   */
  static RunDirectory open(Path out, Intent want, CheckpointProbe probe) throws IOException {
    if (Files.exists(out) && !Files.isDirectory(out)) {
      throw new BadInputException("--out " + out + ": exists and is not a directory");
    }
    boolean created = !Files.exists(out);
    try {
      Files.createDirectories(out);
    } catch (FileSystemException e) {
      throw new BadInputException("--out " + out + ": cannot create the directory ("
          + DirLock.reason(e) + ")");
    }
    DirLock l = DirLock.acquire(out, "--out", created);
    RunDirectory d = null;
    try {
      boolean nonEmpty = !content(out).isEmpty();
      boolean resume = want.resume();
      boolean overwrite = want.overwrite();
      String replace = "--overwrite";
      if (want.auto()) {
        resume = (nonEmpty || want.checkpointsOutside()) && probe.usable();
        if (!resume && Files.exists(out.resolve(Trainer.SUMMARY_FILE))) {
          // written only at a run's end, after its last checkpoint: its results stay
          throw new BadInputException("--auto-resume " + out + ": holds the "
              + Trainer.SUMMARY_FILE + " of a run that ended, and its checkpoint directory no "
              + "checkpoint to continue from; a run that wrote checkpoints is not replaced: "
              + "give --overwrite to replace it, or another --out");
        }
        overwrite = !resume;
        replace = "--auto-resume (no usable checkpoint: a new run)";
      }
      if (nonEmpty && !resume && !overwrite) {
        throw new BadInputException("--out " + out + ": exists and is not empty; pass "
            + "--overwrite to replace it or --resume to continue its run");
      }
      if (resume && !nonEmpty && !want.checkpointsOutside()) {
        throw new BadInputException("--resume: " + out + " holds no earlier run");
      }
      if (overwrite && !resume && nonEmpty) {
        Optional<String> foreign = foreign(out, want.checkpointsEntry());
        if (foreign.isPresent()) {
          throw new BadInputException(replace + " " + out + ": replaces only a convspark "
              + "run's files, and this directory holds " + foreign.get() + ", which no run "
              + "writes; move it away or choose another --out");
        }
      }
      d = new RunDirectory(out, l, nonEmpty && !resume, resume, overwrite);
      return d;
    } finally {
      if (d == null) {
        l.closeAndForget(); // refused: the directory is left as it was found
      }
    }
  }

  /**
   * What a run writes in its {@code --out}: {@link #replacing() --overwrite} sets aside only a
   * directory that holds nothing else (besides the lock, runs set aside earlier and the hidden
   * temporary files of an atomic write, {@code .<name>.<pid>.tmp}).
   */
  static final Set<String> RUN_FILES = Set.of(RunIdentity.OUT_FILE, Trainer.CHECKPOINTS_DIR,
      Trainer.METRICS_FILE, Trainer.SUMMARY_FILE, Trainer.PLOT_FILE);

  /** The first entry of {@code out} that no run writes, if any. */
  private static Optional<String> foreign(Path out, Optional<String> checkpoints)
      throws IOException {
    return content(out).stream().map(p -> p.getFileName().toString())
        .filter(n -> !RUN_FILES.contains(n) && !(n.startsWith(".") && n.endsWith(".tmp"))
            && !checkpoints.filter(n::equals).isPresent())
        .sorted().findFirst();
  }

  /** {@link DirLock#writableByAll} of {@code --out}. */
  java.util.Optional<String> writableByAll() {
    return lock.writableByAll();
  }

  /** What the directory holds, apart from the lock and runs set aside earlier. */
  private static List<Path> content(Path out) throws IOException {
    try (Stream<Path> s = Files.list(out)) {
      return s.filter(p -> {
        String n = p.getFileName().toString();
        return !n.equals(LOCK) && !n.startsWith(REPLACED);
      }).toList();
    }
  }

  Path path() {
    return out;
  }

  /** True when the run continues from a checkpoint (--resume, or as --auto-resume decided). */
  boolean resuming() {
    return resuming;
  }

  /**
   * True when the run may replace an earlier run (--overwrite, or a new run --auto-resume
   * decided on): its checkpoint directory's too.
   */
  boolean mayReplace() {
    return mayReplace;
  }

  /** True when an old run is to be replaced (--overwrite of a non-empty directory). */
  boolean replacing() {
    return replacing;
  }

  /**
   * Moves the old run aside (call once everything that can be checked has been). When this
   * fails partway, {@link #rollBack} moves back what was moved.
   */
  void setAside() throws IOException {
    if (!replacing || aside != null) {
      return;
    }
    List<Path> old = content(out);
    Path a = out.resolve(REPLACED + System.currentTimeMillis());
    Files.createDirectory(a);
    aside = a;
    oldNames = old.stream().map(p -> p.getFileName().toString()).collect(Collectors.toSet());
    for (Path p : old) {
      Files.move(p, a.resolve(p.getFileName()));
    }
  }

  /** Where the old run is while it is set aside, if it is. */
  Optional<Path> aside() {
    return Optional.ofNullable(aside);
  }

  /**
   * The new run produced something to keep (a checkpoint, or it finished): the old run it set
   * aside is deleted (never a directory set aside by another run, e.g. one that was killed).
   */
  void commit() throws IOException {
    if (aside != null) {
      deleteTree(aside);
    }
    aside = null;
  }

  /**
   * The new run failed before writing a checkpoint: its files go, the old run comes back. A file
   * of the old run that was never moved (setAside failed partway) stays where it is. Not for
   * {@code --resume}, whose directory holds an earlier run.
   */
  void rollBack() throws IOException {
    if (aside == null) {
      if (!replacing) {
        // the directory was empty (or new): everything in it is this run's (run-id, the
        // checkpoint directory's identity, metrics of epochs before the first checkpoint), so
        // the same command can run again without --overwrite
        for (Path p : content(out)) {
          deleteTree(p);
        }
      }
      return;
    }
    for (Path p : content(out)) {
      String n = p.getFileName().toString();
      if (!oldNames.contains(n) || Files.exists(aside.resolve(n), LinkOption.NOFOLLOW_LINKS)) {
        deleteTree(p);
      }
    }
    try (Stream<Path> s = Files.list(aside)) {
      for (Path p : s.toList()) {
        Files.move(p, out.resolve(p.getFileName()));
      }
    }
    Files.delete(aside);
    aside = null;
  }

  static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  @Override
  public void close() throws IOException {
    lock.close(); // a directory this run created and left empty goes again
  }
}
