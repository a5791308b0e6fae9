package convspark.driver.train;

import convspark.common.io.Checkpoint;
import convspark.common.io.CheckpointFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.StreamCapabilities;

/**
 * Checkpoints of one run in a directory on any Hadoop FileSystem ({@code file://}, {@code
 * hdfs://}, ...): {@code ckpt-<step>.bin}, written atomically (to a hidden temp file, then
 * renamed), the newest {@code keepLast} kept. Reading the latest skips (and reports) a torn or
 * corrupted file and falls back to the previous good one.
 *
 * <p>On the local file system the files are written and read without Hadoop's {@code .crc} side
 * files: a checkpoint carries its own CRC and length, and a second file renamed after the first
 * would leave, after a kill between the two renames, a good checkpoint that fails its checksum.
 *
 * <p>A directory belongs to one run: {@link #RUN_FILE} holds the run's id ({@link #claim}), and
 * every checkpoint written is stamped with it (metadata {@link #RUN_META}), so that a run never
 * mixes its checkpoints with another's.
 */
public final class CheckpointStore {
  private static final Pattern NAME = Pattern.compile("ckpt-(\\d+)\\.bin");
  /** The file in a checkpoint directory that names the run owning it. */
  public static final String RUN_FILE = "run-id";
  /** The checkpoint metadata key of the run id. */
  public static final String RUN_META = "run.id";
  private final Path dir;
  private final FileSystem fs;
  private final int keepLast;
  private String runId;

  /** A check run before every write to the directory; it throws to stop the write. */
  public interface Guard {
    void check() throws IOException;
  }

  private Guard guard = () -> { };

  /** Runs {@code g} before every write, rename and delete in the directory. */
  public void guard(Guard g) {
    this.guard = g;
  }

  public CheckpointStore(String dir, int keepLast, Configuration conf) throws IOException {
    this.dir = new Path(dir);
    this.fs = raw(this.dir.getFileSystem(conf));
    this.keepLast = keepLast;
  }

  /** The local file system without its checksum layer; other file systems as they are. */
  public static FileSystem raw(FileSystem fs) {
    return fs instanceof LocalFileSystem l ? l.getRawFileSystem() : fs;
  }

  /**
   * Reads a checkpoint file named on the command line (no {@code .crc} check on the local file
   * system: the checkpoint's own CRC and length check it).
   */
  public static Checkpoint readFile(Path p, Configuration conf) throws IOException {
    FileSystem fs = raw(p.getFileSystem(conf));
    Checkpoint.checkLength(fs.getFileStatus(p).getLen(), p.toString());
    try (InputStream in = fs.open(p)) {
      return Checkpoint.read(in, p.toString());
    } catch (java.io.FileNotFoundException e) {
      // there (its status was read): a file this user may not read
      throw convspark.driver.data.DataFiles.missing(p.toString(), p, e);
    }
  }

  /** The id of the run this directory belongs to, if one claimed it. */
  public Optional<String> runId() throws IOException {
    Path f = new Path(dir, RUN_FILE);
    if (!fs.exists(f)) {
      return Optional.empty();
    }
    try (InputStream in = fs.open(f)) {
      String id = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
      return id.isEmpty() ? Optional.empty() : Optional.of(id);
    }
  }

  /** Marks this directory as run {@code id}'s (creating it); later writes are stamped. */
  public void claim(String id) throws IOException {
    fs.mkdirs(dir);
    Path tmp = new Path(dir, "." + RUN_FILE + ".tmp");
    try (FSDataOutputStream out = fs.create(tmp, true)) {
      out.write((id + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      sync(out, tmp);
    }
    rename(tmp, new Path(dir, RUN_FILE));
    syncDir();
    runId = id;
  }

  /** True when the directory holds any checkpoint (or a run's id). */
  public boolean holdsARun() throws IOException {
    return holdsCheckpoints() || fs.exists(new Path(dir, RUN_FILE));
  }

  /** True when the directory holds any checkpoint file (usable or not), best or final. */
  public boolean holdsCheckpoints() throws IOException {
    return !list().isEmpty() || fs.exists(new Path(dir, "best.bin"))
        || fs.exists(new Path(dir, "final.bin"));
  }

  /** The run id stamped into {@code c}, if any. */
  public static Optional<String> runOf(Checkpoint c) {
    return Optional.ofNullable(c.meta().get(RUN_META));
  }

  /** The file system the checkpoints live on (without the local checksum layer). */
  public FileSystem fileSystem() {
    return fs;
  }

  public Path dir() {
    return dir;
  }

  /**
   * The id of the run writing through this store, which claimed the directory before: each
   * checkpoint is stamped with it, and {@link #writeNamed} checks the directory still names it.
   */
  public void expectRun(String id) {
    runId = id;
  }

  /**
   * Writes {@code c} as {@code name} atomically: temp file, then rename over. The checkpoint is
   * stamped with the run's id (the one {@link #claim}ed or {@link #expectRun expected}, else the
   * directory's at the first write).
   *
   * @throws IOException also when another run has claimed the directory since: this run stops
   *     rather than mix its checkpoints with that run's
   */
  public Path writeNamed(Checkpoint c, String name) throws IOException {
    guard.check();
    Optional<String> onDisk = runId();
    if (runId == null) {
      runId = onDisk.orElse(null);
    } else if (onDisk.isPresent() && !onDisk.get().equals(runId)) {
      throw new IOException("the checkpoint directory " + dir + " was claimed by another run ("
          + onDisk.get() + ", in " + RUN_FILE + ") after this run (" + runId + "): two runs "
          + "are writing it; this one stops rather than mix its checkpoints with the other's");
    }
    if (runId != null) {
      c = c.withMeta(RUN_META, runId);
    }
    fs.mkdirs(dir);
    Path tmp = new Path(dir, "." + name + ".tmp");
    Path target = new Path(dir, name);
    try (FSDataOutputStream out = fs.create(tmp, true)) {
      c.write(out);
      sync(out, tmp);
    } catch (IOException | RuntimeException | Error e) {
      // a partial temp file (a full disk) would hold the space a retry needs
      try {
        fs.delete(tmp, false);
      } catch (IOException | RuntimeException cleanup) {
        e.addSuppressed(cleanup);
      }
      throw e;
    }
    // a .crc side file left by an older version would no longer match the new file
    fs.delete(new Path(dir, "." + name + ".crc"), false);
    rename(tmp, target);
    syncDir();
    return target;
  }

  /**
   * Makes the written bytes durable before the rename makes them the checkpoint, so that a power
   * loss cannot leave a renamed but torn file after {@link #write} pruned the older ones: hsync
   * where the stream offers it (HDFS), fsync for the local file system (whose buffered stream
   * hides its own hsync).
   */
  private void sync(FSDataOutputStream out, Path tmp) throws IOException {
    out.flush();
    if (fs instanceof RawLocalFileSystem local) {
      try (FileChannel ch = FileChannel.open(local.pathToFile(tmp).toPath(),
          StandardOpenOption.WRITE)) {
        ch.force(true);
      }
    } else if (out.hasCapability(StreamCapabilities.HSYNC)) {
      out.hsync();
    }
  }

  /** Makes a rename in the local checkpoint directory durable (fsync of the directory). */
  private void syncDir() {
    if (fs instanceof RawLocalFileSystem local) {
      try (FileChannel ch = FileChannel.open(local.pathToFile(dir).toPath(),
          StandardOpenOption.READ)) {
        ch.force(true);
      } catch (IOException e) {
        // some file systems refuse to open or sync a directory: the rename itself is done
      }
    }
  }

  /**
   * One atomic rename that replaces the old file: a crash leaves the old or the new, never
   * neither (FileSystem.rename would need a delete first, except on the local file system,
   * where rename(2) replaces atomically).
   */
  private void rename(Path tmp, Path target) throws IOException {
    if (fs instanceof RawLocalFileSystem local) {
      java.nio.file.Files.move(local.pathToFile(tmp).toPath(), local.pathToFile(target).toPath(),
          java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } else {
      FileContext.getFileContext(fs.getUri(), fs.getConf())
          .rename(tmp, target, Options.Rename.OVERWRITE);
    }
  }

  /**
   * Renames named file {@code from} to {@code to} in one atomic step (replacing {@code to}); false
   * when there is no {@code from}.
   */
  public boolean renameNamed(String from, String to) throws IOException {
    guard.check();
    Path f = new Path(dir, from);
    if (!fs.exists(f)) {
      return false;
    }
    rename(f, new Path(dir, to));
    syncDir();
    return true;
  }

  /** Deletes named file {@code name}, if there is one. */
  public void deleteNamed(String name) throws IOException {
    guard.check();
    fs.delete(new Path(dir, name), false);
  }

  /** Writes the checkpoint of step {@code c.step()} and prunes all but the newest keepLast. */
  public Path write(Checkpoint c) throws IOException {
    Path p = writeNamed(c, fileOf(c.step()));
    List<Path> all = list();
    for (int i = 0; i + keepLast < all.size(); i++) {
      fs.delete(all.get(i), false);
    }
    return p;
  }

  private static String fileOf(long step) {
    return String.format("ckpt-%012d.bin", step);
  }

  /** The checkpoint written at {@code step}, if kept and readable ({@link #readNamed}). */
  public Optional<Checkpoint> readStep(long step) throws IOException {
    return step < 0 ? Optional.empty() : readNamed(fileOf(step));
  }

  /** Checkpoint files, oldest first. */
  public List<Path> list() throws IOException {
    List<Path> out = new ArrayList<>();
    if (!fs.exists(dir)) {
      return out;
    }
    for (FileStatus s : fs.listStatus(dir)) {
      if (NAME.matcher(s.getPath().getName()).matches()) {
        out.add(s.getPath());
      }
    }
    out.sort(Comparator.comparingLong(CheckpointStore::stepOf));
    return out;
  }

  private static long stepOf(Path p) {
    Matcher m = NAME.matcher(p.getName());
    return m.matches() ? Long.parseLong(m.group(1)) : -1;
  }

  public Checkpoint read(Path p) throws IOException {
    Checkpoint.checkLength(fs.getFileStatus(p).getLen(), p.toString());
    try (InputStream in = fs.open(p)) {
      return Checkpoint.read(in, p.toString());
    }
  }

  /**
   * Reads a named file in this directory, if present and readable: a torn or corrupted one is
   * reported on stdout and skipped (kept on disk), as {@link #latest} does.
   */
  public Optional<Checkpoint> readNamed(String name) throws IOException {
    Path p = new Path(dir, name);
    return fs.exists(p) ? readOrSkip(p) : Optional.empty();
  }

  /**
   * The newest readable checkpoint, the file it was read from, and what was said of the newer
   * files skipped (torn or corrupted: never deleted, they may be evidence). A check made before
   * the trainer reads it once and hands it on ({@code --resume} on S3 read a large checkpoint
   * three or four times), and whoever uses it says what was skipped ({@link #report}).
   */
  public record Found(Path path, Checkpoint checkpoint, List<String> skipped) {
    /** Prints what was skipped, as {@link #latest()} does. */
    public void report() {
      skipped.forEach(System.out::println);
    }
  }

  /**
   * The newest readable checkpoint; torn or corrupted newer files are reported on stdout and
   * skipped (never deleted: they may be evidence).
   */
  public Optional<Checkpoint> latest() throws IOException {
    return newest(true).map(Found::checkpoint);
  }

  /**
   * The newest readable checkpoint with its file; with {@code report} the skipped files are
   * reported on stdout at once, else only listed in {@link Found#skipped}.
   */
  public Optional<Found> newest(boolean report) throws IOException {
    List<Path> all = list();
    List<String> skipped = new ArrayList<>();
    for (int i = all.size() - 1; i >= 0; i--) {
      Path p = all.get(i);
      try {
        return Optional.of(new Found(p, read(p), List.copyOf(skipped)));
      } catch (CheckpointFormatException | org.apache.hadoop.fs.ChecksumException e) {
        String line = skipping(p, e);
        if (report) {
          System.out.println(line);
        }
        skipped.add(line);
      }
    }
    return Optional.empty();
  }

  private Optional<Checkpoint> readOrSkip(Path p) throws IOException {
    try {
      return Optional.of(read(p));
    } catch (CheckpointFormatException | org.apache.hadoop.fs.ChecksumException e) {
      System.out.println(skipping(p, e));
      return Optional.empty();
    }
  }

  /**
   * The line for a checkpoint file skipped: our own length/CRC check (or a .crc side file of an
   * older version) caught a torn or corrupted file.
   */
  private static String skipping(Path p, IOException e) {
    return "convspark: WARNING: skipping unusable checkpoint " + p + ": " + e.getMessage();
  }

  /** The newest readable checkpoint file, skipping (and reporting) torn or corrupted ones. */
  public Optional<Path> latestPath() throws IOException {
    return newest(true).map(Found::path);
  }
}
