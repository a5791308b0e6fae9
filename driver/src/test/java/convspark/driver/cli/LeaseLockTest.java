package convspark.driver.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lease on a checkpoint directory of a non-local file system, run here on the local one
 * through Hadoop's FileSystem API (as HDFS would be), renewals called by the test.
 */
class LeaseLockTest {
  private static final long STALE = 120_000;
  private static final String OPT = "--checkpoint-dir";
  @TempDir java.nio.file.Path tmp;
  private FileSystem fs;
  private Path dir;
  private java.nio.file.Path lockFile;

  @BeforeEach
  void setUp() throws IOException {
    fs = new RawLocalFileSystem();
    fs.initialize(URI.create("file:///"), new Configuration());
    dir = new Path(tmp.resolve("ckpt").toString());
    lockFile = tmp.resolve("ckpt").resolve(LeaseLock.NAME);
  }

  @AfterEach
  void tearDown() {
    FaultyFileSystem.reset();
  }

  private LeaseLock acquire(String host) throws IOException {
    return LeaseLock.acquire(fs, dir, OPT, 0, STALE, host);
  }

  @Test
  void aSecondRunIsRefusedWhileTheFirstHoldsTheLockAndMayTakeItAfterwards() throws Exception {
    LeaseLock a = acquire("host-a");
    BadInputException e = assertThrows(BadInputException.class, () -> acquire("host-b"));
    long pid = ProcessHandle.current().pid();
    assertTrue(e.getMessage().startsWith(OPT + " " + dir + ": another convspark run is writing"
        + " it"), e.getMessage());
    // a few seconds at most: a slow machine, or a file-system clock in whole seconds
    assertTrue(e.getMessage().matches(".*names host host-a, pid " + pid + ", renewed [0-9] s "
        + "ago.*"), e.getMessage());
    assertTrue(e.getMessage().contains("delete " + new Path(dir, LeaseLock.NAME)),
        e.getMessage());
    a.check(); // the refused run did not disturb the holder
    a.close();
    assertFalse(Files.exists(lockFile), "the lock file goes with its holder");
    try (LeaseLock b = acquire("host-b")) {
      assertTrue(b.tookOver().isEmpty());
      assertTrue(Files.readString(lockFile).contains("host=host-b"));
    }
  }

  @Test
  void aStaleLockIsTakenOverAndItsOldHolderStopsAtItsNextCheck() throws Exception {
    LeaseLock a = acquire("host-a");
    // 5 s over 600: a file system's clock may step in whole seconds, or lag the JVM's by a tick
    makeOld(605_000);
    try (LeaseLock b = acquire("host-b")) {
      String w = b.tookOver().orElseThrow();
      assertTrue(w.contains("took over the lock of a run that is gone (host host-a, pid "
          + ProcessHandle.current().pid() + ", not renewed for 60"), w);
      a.renew(); // the old holder wakes up: the file is no longer its own
      IOException lost = assertThrows(IOException.class, a::check);
      assertTrue(lost.getMessage().contains("this run lost its lock")
          && lost.getMessage().contains("now names host host-b"), lost.getMessage());
      a.close(); // leaves the new holder's file alone
      assertTrue(Files.readString(lockFile).contains("host=host-b"));
      b.check();
    }
    assertFalse(Files.exists(lockFile));
    try (var s = Files.list(tmp.resolve("ckpt"))) {
      assertEquals(0, s.count(), "no clock probe or moved-aside lock is left behind");
    }
  }

  @Test
  void renewingKeepsALockFromGoingStale() throws Exception {
    try (LeaseLock a = acquire("host-a")) {
      makeOld(600_000);
      a.renew();
      BadInputException e = assertThrows(BadInputException.class, () -> acquire("host-b"));
      assertTrue(e.getMessage().matches(".*renewed [0-9] s ago.*"), e.getMessage());
      a.check();
    }
  }

  @Test
  void aLockOfAProcessThisHostNoLongerRunsIsTakenOverAtOnce() throws Exception {
    Process p = new ProcessBuilder("true").start();
    assertEquals(0, p.waitFor());
    Files.createDirectories(lockFile.getParent());
    String ns = LeaseLock.pidNamespaceForTests();
    // a container with this host's name but its own pids cannot tell either
    Files.writeString(lockFile, "convspark-lock host=host-a pid=" + p.pid() + " ns=other"
        + " token=t\n");
    assertThrows(BadInputException.class, () -> acquire("host-a"));
    Files.writeString(lockFile, "convspark-lock host=host-a pid=" + p.pid() + " ns=" + ns
        + " token=t\n");
    // another host cannot tell whether that pid runs there: a fresh lock of it is refused
    BadInputException e = assertThrows(BadInputException.class, () -> acquire("host-c"));
    assertTrue(e.getMessage().contains("names host host-a, pid " + p.pid()), e.getMessage());
    try (LeaseLock a = acquire("host-a")) {
      assertTrue(a.tookOver().orElseThrow().contains("a process this host no longer runs"),
          a.tookOver().get());
    }
  }

  @Test
  void aFreshLockThisVersionCannotReadIsRefused() throws Exception {
    Files.createDirectories(lockFile.getParent());
    Files.writeString(lockFile, "");
    BadInputException e = assertThrows(BadInputException.class, () -> acquire("host-a"));
    assertTrue(e.getMessage().contains("names a holder it does not name in a form"),
        e.getMessage());
    assertEquals("", Files.readString(lockFile), "left as it was");
  }

  @Test
  void aFileSystemWhoseCreateOverwritesStillRefusesASecondRun() throws Exception {
    // S3A with fs.s3a.create.performance: create(path, false) writes over what is there
    FileSystem faulty = new FaultyFileSystem();
    faulty.initialize(URI.create("faulty:///"), new Configuration());
    try (LeaseLock a = acquire("host-a")) {
      FaultyFileSystem.createOverwrites = true;
      assertThrows(BadInputException.class,
          () -> LeaseLock.acquire(faulty, dir, OPT, 0, STALE, "host-b"));
      a.check(); // the holder keeps its lease
    }
  }

  @Test
  void aRenewalTornByAFailedWriteIsWrittenAgainNotTakenForALoss() throws Exception {
    // HDFS replaces the file when the rewrite is created: a write that then fails leaves it empty
    try (LeaseLock a = acquire("host-a")) {
      String mine = Files.readString(lockFile);
      Files.writeString(lockFile, "");
      a.check();
      a.renew();
      assertEquals(mine, Files.readString(lockFile));
      a.check();
    }
  }

  @Test
  void aDeletedLockFileStopsItsHolder() throws Exception {
    try (LeaseLock a = acquire("host-a")) {
      Files.delete(lockFile);
      a.renew();
      IOException e = assertThrows(IOException.class, a::check);
      assertTrue(e.getMessage().contains("was deleted"), e.getMessage());
    }
  }

  @Test
  void aDirectoryTheLockMadeGoesAgainAndOneThatExistedStays() throws Exception {
    acquire("host-a").close();
    assertFalse(Files.exists(tmp.resolve("ckpt")));
    Files.createDirectories(tmp.resolve("ckpt"));
    acquire("host-a").close();
    assertTrue(Files.isDirectory(tmp.resolve("ckpt")));
  }

  @Test
  void aHolderThatCannotRenewForTheStaleTimeStops() throws Exception {
    FileSystem faulty = new FaultyFileSystem();
    faulty.initialize(URI.create("faulty:///"), new Configuration());
    try (LeaseLock a = LeaseLock.acquire(faulty, dir, OPT, 20, 200, "host-a")) {
      FaultyFileSystem.failCreate = LeaseLock.NAME;
      long deadline = System.nanoTime() + 30_000_000_000L;
      IOException e = null;
      while (e == null && System.nanoTime() < deadline) {
        try {
          a.check();
          Thread.sleep(20);
        } catch (IOException thrown) {
          e = thrown;
        }
      }
      assertTrue(e != null, "check() never failed");
      assertTrue(e.getMessage().contains("this run lost its lock (it could not be renewed for")
          && e.getMessage().contains("injected fault"), e.getMessage());
      // and it stays lost: the lease is never written over again, even once writes work
      FaultyFileSystem.reset();
      a.renew();
      assertThrows(IOException.class, a::check);
      FaultyFileSystem.reset();
    }
  }

  @Test
  void aStaleLockIsTakenOverOnAnObjectStoreWhoseRenameCopies() throws Exception {
    // S3A (and GCS) rename a file by copying it: the copy's modification time is the copy's,
    // not the stale lease's, so the moved file's time says nothing about a renewal
    FileSystem s3 = new CopyingRenameFileSystem();
    s3.initialize(URI.create("file:///"), new Configuration());
    Files.createDirectories(lockFile.getParent());
    Files.writeString(lockFile, "convspark-lock host=elsewhere pid=1 token=t\n");
    makeOld(600_000);
    try (LeaseLock b = LeaseLock.acquire(s3, dir, OPT, 0, STALE, "host-b")) {
      assertTrue(b.tookOver().orElseThrow().contains("host elsewhere, pid 1"),
          b.tookOver().get());
      assertTrue(Files.readString(lockFile).contains("host=host-b"));
    }
  }

  @Test
  void aRenewalInFlightWhenTheRunEndsFinishesAndTheLockGoes() throws Exception {
    SlowCloseFileSystem slow = new SlowCloseFileSystem();
    slow.initialize(URI.create("file:///"), new Configuration());
    LeaseLock a = LeaseLock.acquire(slow, dir, OPT, 20, STALE, "host-a");
    slow.slow = true; // the next lease write is slow to close, as HDFS's waits for its acks
    assertTrue(slow.closing.await(30, java.util.concurrent.TimeUnit.SECONDS), "no renewal");
    a.close();
    assertFalse(Files.exists(lockFile), () -> "the lock file goes with its holder, not left "
        + "holding '" + readOrGone(lockFile) + "' for the next run to wait out");
  }

  private static String readOrGone(java.nio.file.Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      return "(gone)";
    }
  }

  /**
   * The local file system whose next lease write, once {@code slow} is set, takes a while to
   * close; interrupted meanwhile, it gives up as HDFS's stream does: the file, replaced when it
   * was created, stays empty.
   */
  static final class SlowCloseFileSystem extends RawLocalFileSystem {
    volatile boolean slow;
    final java.util.concurrent.CountDownLatch closing = new java.util.concurrent.CountDownLatch(1);

    @Override
    public org.apache.hadoop.fs.FSDataOutputStream create(Path f, boolean overwrite,
        int bufferSize, short replication, long blockSize,
        org.apache.hadoop.util.Progressable progress) throws IOException {
      org.apache.hadoop.fs.FSDataOutputStream out = super.create(f, overwrite, bufferSize,
          replication, blockSize, progress);
      if (!slow || !f.getName().equals(LeaseLock.NAME)) {
        return out;
      }
      slow = false;
      return new org.apache.hadoop.fs.FSDataOutputStream(out, null) {
        @Override
        public void close() throws IOException {
          closing.countDown();
          try {
            Thread.sleep(500);
          } catch (InterruptedException e) {
            throw new java.io.InterruptedIOException("interrupted while closing " + f);
          }
          super.close();
        }
      };
    }
  }

  /** The local file system with a rename that copies, as S3A's does: the target is new. */
  static final class CopyingRenameFileSystem extends RawLocalFileSystem {
    @Override
    public boolean rename(Path src, Path dst) throws IOException {
      boolean moved = super.rename(src, dst);
      if (moved) {
        setTimes(dst, System.currentTimeMillis(), -1);
      }
      return moved;
    }
  }

  /** Sets the lock file's modification time back by {@code millis}. */
  private void makeOld(long millis) throws IOException {
    Path f = new Path(dir, LeaseLock.NAME);
    fs.setTimes(f, System.currentTimeMillis() - millis, -1);
    assertTrue(new String(Files.readAllBytes(lockFile), StandardCharsets.UTF_8)
        .startsWith("convspark-lock "));
  }
}
