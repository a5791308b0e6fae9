package convspark.driver.train;

import convspark.common.io.Checkpoint;
import convspark.common.io.CheckpointFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;

/**
 * Checkpoints of one run in a directory on any Hadoop FileSystem ({@code file://}, {@code
 * hdfs://}, ...): {@code ckpt-<step>.bin}, written atomically (to a hidden temp file, then
 * renamed), the newest {@code keepLast} kept. Reading the latest skips (and reports) a torn or
 * corrupted file and falls back to the previous good one.
 */
public final class CheckpointStore {
  private static final Pattern NAME = Pattern.compile("ckpt-(\\d+)\\.bin");
  private final Path dir;
  private final FileSystem fs;
  private final int keepLast;

  public CheckpointStore(String dir, int keepLast, Configuration conf) throws IOException {
    this.dir = new Path(dir);
    this.fs = this.dir.getFileSystem(conf);
    this.keepLast = keepLast;
  }

  public Path dir() {
    return dir;
  }

  /** Writes {@code c} as {@code name} atomically: temp file, then rename over. */
  public Path writeNamed(Checkpoint c, String name) throws IOException {
    fs.mkdirs(dir);
    Path tmp = new Path(dir, "." + name + ".tmp");
    Path target = new Path(dir, name);
    try (OutputStream out = fs.create(tmp, true)) {
      c.write(out);
    }
    // one atomic rename that replaces the old file: a crash leaves the old or the new, never
    // neither (FileSystem.rename would need a delete first)
    FileContext.getFileContext(fs.getUri(), fs.getConf())
        .rename(tmp, target, Options.Rename.OVERWRITE);
    return target;
  }

  /** Writes the checkpoint of step {@code c.step()} and prunes all but the newest keepLast. */
  public Path write(Checkpoint c) throws IOException {
    Path p = writeNamed(c, String.format("ckpt-%012d.bin", c.step()));
    List<Path> all = list();
    for (int i = 0; i + keepLast < all.size(); i++) {
      fs.delete(all.get(i), false);
    }
    return p;
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
    try (InputStream in = fs.open(p)) {
      return Checkpoint.read(in, p.toString());
    }
  }

  /** Reads a named file in this directory, if present. */
  public Optional<Checkpoint> readNamed(String name) throws IOException {
    Path p = new Path(dir, name);
    return fs.exists(p) ? Optional.of(read(p)) : Optional.empty();
  }

  /**
   * The newest readable checkpoint; torn or corrupted newer files are reported on stderr and
   * skipped (never deleted: they may be evidence).
   */
  public Optional<Checkpoint> latest() throws IOException {
    List<Path> all = list();
    for (int i = all.size() - 1; i >= 0; i--) {
      try {
        return Optional.of(read(all.get(i)));
      } catch (CheckpointFormatException | org.apache.hadoop.fs.ChecksumException e) {
        // our own length/CRC check, or the local FileSystem's .crc side file, caught a torn file
        System.err.println("convspark: skipping unusable checkpoint " + all.get(i) + ": "
            + e.getMessage());
      }
    }
    return Optional.empty();
  }
}
