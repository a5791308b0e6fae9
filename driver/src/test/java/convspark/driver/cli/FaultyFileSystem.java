package convspark.driver.cli;

import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

/**
 * The local file system under the scheme {@code faulty:}, for a {@code --checkpoint-dir} that
 * fails where a test says: creating a file of a given name, or moving the n-th file into a
 * {@code .replaced-*} directory; or that runs a test's action before each file it creates; it
 * counts the files it opens for reading. A run selects it with config key {@code
 * spark.conf."spark.hadoop.fs.faulty.impl"} (convspark passes spark.hadoop.* to its Hadoop
 * configuration). Tests set the faults and reset them with {@link #reset}.
 */
public class FaultyFileSystem extends RawLocalFileSystem {
  private static final URI URI_ = URI.create("faulty:///");
  /** Creating a file of this name fails (null: none). */
  static volatile String failCreate;
  /** Moves into a .replaced-* directory that succeed before one fails (-1: none fails). */
  static volatile int renamesBeforeFailure = -1;

  /** Runs before every create (null: nothing). */
  static volatile java.util.function.Consumer<Path> beforeCreate;

  /** Create overwrites an existing file even when told not to (S3A's fs.s3a.create.performance). */
  static volatile boolean createOverwrites;

  /** Opens for reading, by file name, since the last {@link #reset}. */
  static final java.util.concurrent.ConcurrentHashMap<String, Integer> opens =
      new java.util.concurrent.ConcurrentHashMap<>();

  static void reset() {
    opens.clear();
    createOverwrites = false;
    beforeCreate = null;
    failCreate = null;
    renamesBeforeFailure = -1;
  }

  @Override
  public URI getUri() {
    return URI_;
  }

  @Override
  public FSDataOutputStream create(Path f, boolean overwrite, int bufferSize, short replication,
      long blockSize, Progressable progress) throws IOException {
    check(f);
    return super.create(f, overwrite || createOverwrites, bufferSize, replication, blockSize,
        progress);
  }

  @Override
  public FSDataOutputStream create(Path f, FsPermission permission, boolean overwrite,
      int bufferSize, short replication, long blockSize, Progressable progress)
      throws IOException {
    check(f);
    return super.create(f, permission, overwrite || createOverwrites, bufferSize, replication,
        blockSize, progress);
  }

  private static void check(Path f) throws IOException {
    java.util.function.Consumer<Path> hook = beforeCreate;
    if (hook != null) {
      hook.accept(f);
    }
    if (f.getName().equals(failCreate)) {
      throw new IOException("injected fault: cannot create " + f);
    }
  }

  @Override
  public org.apache.hadoop.fs.FSDataInputStream open(Path f, int bufferSize) throws IOException {
    opens.merge(f.getName(), 1, Integer::sum);
    return super.open(f, bufferSize);
  }

  @Override
  public boolean rename(Path src, Path dst) throws IOException {
    Path parent = dst.getParent();
    if (parent != null && parent.getName().startsWith(RunDirectory.REPLACED)
        && renamesBeforeFailure >= 0 && renamesBeforeFailure-- == 0) {
      throw new IOException("injected fault: cannot move " + src + " to " + dst);
    }
    return super.rename(src, dst);
  }
}
