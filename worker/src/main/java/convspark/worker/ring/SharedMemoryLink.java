package convspark.worker.ring;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One direction of a ring link between two peers on the same host, through shared memory instead
 * of loopback TCP: a single-producer single-consumer byte ring in a file of {@code /dev/shm}
 * that both processes map. The ring's chunks (header and payload) go through it unchanged, so
 * {@link Ring}'s algorithm, order of summation, checks and wire format stay as over TCP; what
 * goes away is the kernel's loopback path (two copies, protocol work and a wake-up per chunk).
 * The TCP connection stays open beside it: it carried the handshake, it carries the offer below,
 * and its end-of-stream is how a peer that dies is noticed while the other waits.
 *
 * <p>Setting up (after {@link Handshake}, on the two authenticated connections; see {@link
 * #negotiate}): the receiving end creates the file with owner-only permissions under a random
 * name, writes a random 32-byte token into it, and offers name, size and token over the
 * connection; the sending end maps the file, checks the token, and answers yes or no; the
 * receiving end then deletes the name, so that no other process can open the file from then on.
 * (A process killed before that leaves the file behind; the next ring formed on the host removes
 * it: {@link #sweepStale}.)
 * A peer on another host, a missing or full {@code /dev/shm}, or any failure leaves the link on
 * TCP (logged); nothing fails because of it.
 *
 * <p>Memory order: the producer copies a chunk in and then publishes its position with a release
 * store; the consumer reads the position with an acquire load before copying out, and publishes
 * its own position the same way. Either side spins briefly and then parks while it waits (for
 * data, or for room); the caller's {@link Waiter} bounds the wait and checks the peer.
 */
final class SharedMemoryLink implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(SharedMemoryLink.class.getName());
  private static final VarHandle LONG =
      MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
  private static final VarHandle INT =
      MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());
  /** Consumer position (bytes read so far), on its own cache line. */
  private static final int HEAD = 64;
  /** Producer position (bytes written so far). */
  private static final int TAIL = 128;
  /** Set to 1 by either side when it closes. */
  private static final int CLOSED = 192;
  /** The token of the offer, checked by the side that opens the file. */
  private static final int TOKEN = 256;
  /** Where the data ring starts. */
  static final int DATA = 512;
  /**
   * Default data bytes per link: what a peer sends in one allreduce of up to about 2M floats
   * at P = 2 fits at once (4 bytes per element at P = 2, less at larger P; the default model's
   * 1.7 MB and the residual net's 2.8 MB with room to spare); larger vectors stream through it.
   * Chunks above 2 MiB get a larger ring ({@link #capacityFor}).
   */
  static final int DEFAULT_CAPACITY = 8 << 20;
  /** Where the files go: memory-backed on Linux. */
  static final Path DIR = Path.of("/dev/shm");
  /** Every ring file's name starts so: then the creating process's pid, "-", a random number. */
  static final String PREFIX = "convspark-ring-";
  private static final Pattern OWNED = Pattern.compile("convspark-ring-(\\d+)-\\d+\\.shm");
  /** The names of earlier versions, without the pid: only their age tells. */
  private static final Pattern UNOWNED = Pattern.compile("convspark-ring-\\d+\\.shm");
  /** {@link #sweepStale} leaves a dead process's file alone until it is this old. */
  static final long STALE_MILLIS = 10 * 60_000L;
  static final byte OFFER = 1;
  static final byte NO_OFFER = 0;
  private static final int MAX_PATH_BYTES = 4096;
  /** Park this long at a time once spinning gave up. */
  private static final long PARK_NANOS = 20_000;

  private final MappedByteBuffer map;
  private final int capacity;
  private final int mask;
  /** This side's own position (the producer's tail or the consumer's head). */
  private long position;
  /** The other side's position as last read. */
  private long seen;
  /** Bytes the claimed or read message takes, skipped bytes included. */
  private long pending;
  /** Guarded by this, as is setting {@link #closed}: no write to the mapping after unmapping. */
  private boolean unmapped;
  private volatile boolean closed;
  /** Spin this long before parking, when waiting ({@link RingOptions#spinNanos}). */
  private long spinNanos = RingOptions.DEFAULT_SPIN_NANOS;

  private SharedMemoryLink(MappedByteBuffer map, int capacity) {
    this.map = map;
    this.capacity = capacity;
    this.mask = capacity - 1;
  }

  /** What a side does while it waits: throws to give up (timeout, peer gone, ring closed). */
  interface Waiter {
    /**
     * Called repeatedly while no progress is possible.
     *
     * @param idleNanos how long this wait has lasted without progress
     */
    void idle(long idleNanos) throws IOException;
  }

  /** The data bytes the ring holds. */
  int capacity() {
    return capacity;
  }

  /**
   * The largest message a ring with chunks of {@code chunkBytes} sends: a header and a chunk's
   * elements, all of them doubles at worst ({@link Ring}: a chunk holds chunkBytes / 4 elements).
   */
  static long maxMessage(int chunkBytes) {
    return Ring.HEADER + 8L * Math.max(1, chunkBytes / 4);
  }

  /**
   * The data bytes of a link for chunks of {@code chunkBytes}: {@link #DEFAULT_CAPACITY}, or the
   * next power of two that holds twice the largest message. A message never wraps: one that
   * does not fit before the ring's end skips to its start, taking up to twice its size (skip
   * and message), and a ring smaller than that would stall both sides for good.
   */
  static int capacityFor(int chunkBytes) {
    long need = 2 * maxMessage(chunkBytes);
    long cap = DEFAULT_CAPACITY;
    while (cap < need) {
      cap <<= 1;
    }
    return (int) Math.min(cap, 1 << 30);
  }

  /**
   * Producer side: a view of the next {@code n} contiguous bytes of the ring, to fill and then
   * {@link #publish}, waiting for room. A message never wraps: where fewer than {@code n} bytes
   * are left before the ring's end, it starts at the beginning and the bytes before the end are
   * skipped, by the same rule on both sides ({@link #next}), so no marker is needed.
   */
  ByteBuffer claim(int n, Waiter waiter) throws IOException {
    return window(n, true, waiter);
  }

  /** Producer side: makes the last {@link #claim}ed message visible to the consumer. */
  void publish() {
    advance(TAIL);
  }

  /**
   * Consumer side: a view of the next {@code n}-byte message (the size both sides expect),
   * waiting for it; {@link #release} it once read.
   */
  ByteBuffer next(int n, Waiter waiter) throws IOException {
    return window(n, false, waiter);
  }

  /** Consumer side: hands the last {@link #next} message's bytes back to the producer. */
  void release() {
    advance(HEAD);
  }

  /** The next message's bytes, once the producer has room for them or the consumer has them. */
  private ByteBuffer window(int n, boolean producer, Waiter waiter) throws IOException {
    int at = (int) (position & mask);
    int skip = capacity - at < n ? capacity - at : 0;
    long need = skip + (long) n;
    if (need > capacity) {
      // never while both peers use the same chunk size (negotiate checks the capacity)
      throw new IOException("a " + n + "-byte message at offset " + at + " does not fit a "
          + capacity + "-byte shared ring");
    }
    long waitStart = 0;
    boolean peerGone = false;
    while (ready(producer) < need) {
      seen = (long) LONG.getAcquire(map, producer ? HEAD : TAIL);
      if (ready(producer) >= need) {
        break;
      }
      if (peerGone) {
        throw new EOFException();
      }
      try {
        waitStart = await(waitStart, waiter);
      } catch (EOFException e) {
        // The peer closed, or its connection ended. A peer publishes its last message before
        // it closes, so that message may have arrived after the read above: read the
        // position once more (acquire, after seeing the close) before giving up. At the end
        // of every round the first peer done closes while its neighbour still reads.
        peerGone = true;
      }
    }
    pending = need;
    return map.slice(DATA + (skip == 0 ? at : 0), n).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Room for the producer, or bytes for the consumer, as far as this side knows. */
  private long ready(boolean producer) {
    return producer ? capacity - (position - seen) : seen - position;
  }

  /** Moves this side past its last message and publishes its position at {@code at}. */
  private void advance(int at) {
    position += pending;
    pending = 0;
    LONG.setRelease(map, at, position);
  }

  /** Producer side: copies {@code src}'s remaining bytes in as one message. */
  void write(ByteBuffer src, Waiter waiter) throws IOException {
    ByteBuffer to = claim(src.remaining(), waiter);
    to.put(src);
    publish();
  }

  /** One wait step: spin while the wait is young, then park; the waiter may give up. */
  private long await(long waitStart, Waiter waiter) throws IOException {
    long now = System.nanoTime();
    if (waitStart == 0) {
      return now;
    }
    if (closed) {
      throw new IOException("the link was closed");
    }
    if ((int) INT.getAcquire(map, CLOSED) != 0) {
      throw new EOFException();
    }
    long idle = now - waitStart;
    if (idle < spinNanos) {
      Thread.onSpinWait();
      return waitStart;
    }
    waiter.idle(idle);
    java.util.concurrent.locks.LockSupport.parkNanos(PARK_NANOS);
    return waitStart;
  }

  /**
   * Marks the link closed for both sides (the peer's next wait ends at once). Idempotent, and
   * safe from any thread at any time, during or after {@link #dispose} (which it never follows
   * with a write into the unmapped file).
   */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      if (!unmapped) {
        INT.setRelease(map, CLOSED, 1);
      }
    }
  }

  /**
   * Closes the link and unmaps the file now rather than whenever the garbage collector gets to
   * it (the memory of /dev/shm stays taken until then, 2 x 8 MiB or more per ring, one ring per
   * round). Only for the owner, once no thread of this process touches the link any more: an
   * access after unmapping crashes the JVM. Where the JDK offers no way (no sun.misc.Unsafe),
   * the collector does it later.
   */
  synchronized void dispose() {
    close();
    if (unmapped) {
      return;
    }
    unmapped = true;
    try {
      Class<?> c = Class.forName("sun.misc.Unsafe");
      java.lang.reflect.Field f = c.getDeclaredField("theUnsafe");
      f.setAccessible(true);
      c.getMethod("invokeCleaner", ByteBuffer.class).invoke(f.get(null), map);
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.log(Level.FINE, "shared-memory link left to the garbage collector: {0}", e.toString());
    }
  }

  // --- setting up -------------------------------------------------------------------------

  /**
   * Offers, over the two authenticated connections of a peer, shared memory for each direction
   * whose other end runs on this host, and takes the neighbours' offers. Every peer calls this
   * once, right after the handshakes, in the same order of messages: offer on {@code in}, answer
   * the offer read from {@code out}, read the answer on {@code in}. Reads time out after the
   * sockets' SO_TIMEOUT. On failure nothing stays mapped.
   *
   * @param enabled false: offer nothing and refuse every offer (TCP only)
   * @param chunkBytes the ring's chunk size: sizes the ring offered ({@link #capacityFor}), and an
   *     offered ring must hold twice this side's largest message
   * @param spinNanos how long either link spins before it parks, when it waits
   * @param next names the next peer in messages ("rank 2 (host:port)")
   * @param prev names the previous peer
   * @return {to next, from previous}, each null where the direction stays on TCP
   * @throws IOException if a neighbour closes the connection, stays silent or sends garbage; the
   *     message names it
   */
  static SharedMemoryLink[] negotiate(Socket out, Socket in, boolean enabled, int chunkBytes,
      long spinNanos, int rank, String next, String prev) throws IOException {
    int capacity = capacityFor(chunkBytes);
    DataOutputStream toPrev =
        new DataOutputStream(new BufferedOutputStream(in.getOutputStream(), 8192));
    DataInputStream fromPrev = new DataInputStream(in.getInputStream());
    DataOutputStream toNext = new DataOutputStream(out.getOutputStream());
    DataInputStream fromNext = new DataInputStream(out.getInputStream());
    // 1. offer the previous peer a ring for what it sends us, if it runs on this host
    Path file = null;
    SharedMemoryLink mine = null;
    SharedMemoryLink theirs = null;
    boolean done = false;
    byte[] token = RingSecret.random(32);
    if (enabled && isLocal(in.getInetAddress())) {
      try {
        sweepStale(System.currentTimeMillis());
        file = Files.createTempFile(DIR, PREFIX + ProcessHandle.current().pid() + "-", ".shm",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        mine = map(file, capacity, true);
        mine.map.put(TOKEN, token);
      } catch (IOException | UnsupportedOperationException | IllegalStateException e) {
        LOG.log(Level.INFO, "ring rank {0}: no shared memory for the link from the previous "
            + "peer ({1}); it stays on TCP", new Object[] {rank, e.toString()});
        if (mine != null) {
          mine.dispose();
        }
        deleteQuietly(file);
        file = null;
        mine = null;
      }
    }
    try {
      if (mine != null) {
        byte[] name = file.toString().getBytes(StandardCharsets.UTF_8);
        toPrev.writeByte(OFFER);
        toPrev.write(token);
        toPrev.writeInt(capacity);
        toPrev.writeShort(name.length);
        toPrev.write(name);
      } else {
        toPrev.writeByte(NO_OFFER);
      }
      toPrev.flush(); // one write: a peer that is gone fails the read below, naming it
      // 2. answer the next peer's offer for what we send it
      try {
        byte kind = fromNext.readByte();
        if (kind == OFFER) {
          byte[] theirToken = new byte[32];
          fromNext.readFully(theirToken);
          int cap = fromNext.readInt();
          int len = fromNext.readUnsignedShort();
          if (len > MAX_PATH_BYTES) {
            throw new IOException(next + " offered shared memory with a " + len + "-byte path");
          }
          byte[] name = new byte[len];
          fromNext.readFully(name);
          if (enabled) {
            theirs = openOffered(Path.of(new String(name, StandardCharsets.UTF_8)), cap,
                theirToken, maxMessage(chunkBytes), rank);
          }
        } else if (kind != NO_OFFER) {
          throw new IOException(next + " sent byte " + kind + " instead of a shared-memory offer");
        }
      } catch (EOFException | SocketTimeoutException e) {
        throw silentOrClosed(e, out, next, "its shared-memory offer");
      }
      toNext.writeByte(theirs != null ? OFFER : NO_OFFER);
      toNext.flush();
      // 3. the previous peer's answer
      byte answer;
      try {
        answer = fromPrev.readByte();
      } catch (EOFException | SocketTimeoutException e) {
        throw silentOrClosed(e, in, prev, "its answer to our shared-memory offer");
      }
      if (answer != OFFER && answer != NO_OFFER) {
        throw new IOException(prev + " sent byte " + answer + " instead of a shared-memory answer");
      }
      if (answer != OFFER && mine != null) {
        mine.dispose(); // refused: the previous peer keeps sending over TCP
        mine = null;
      }
      done = true;
      for (SharedMemoryLink l : new SharedMemoryLink[] {theirs, mine}) {
        if (l != null) {
          l.spinNanos = spinNanos;
        }
      }
      return new SharedMemoryLink[] {theirs, mine};
    } finally {
      deleteQuietly(file); // both ends have it mapped (or will not): no one else may open it
      if (!done) {
        if (mine != null) {
          mine.dispose();
        }
        if (theirs != null) {
          theirs.dispose();
        }
      }
    }
  }

  /** A read that ended early, as an exception whose message names the peer and what was due. */
  private static IOException silentOrClosed(IOException e, Socket s, String peer, String what) {
    if (e instanceof SocketTimeoutException) {
      int ms;
      try {
        ms = s.getSoTimeout();
      } catch (IOException ignored) {
        ms = -1;
      }
      SocketTimeoutException t = new SocketTimeoutException(peer + " sent no " + what
          + (ms > 0 ? " within " + ms + " ms" : " in time"));
      t.initCause(e);
      return t;
    }
    EOFException eof = new EOFException(peer + " closed the connection before sending " + what);
    eof.initCause(e);
    return eof;
  }

  /** Maps an offered file, or null (logged, nothing left mapped) where it cannot be used. */
  private static SharedMemoryLink openOffered(Path file, int capacity, byte[] token,
      long maxMessage, int rank) {
    SharedMemoryLink l = null;
    try {
      if (!DIR.equals(file.getParent())
          || !file.getFileName().toString().startsWith(PREFIX)) {
        throw new IOException("not a ring file: " + file);
      }
      if (capacity < 2 * maxMessage) {
        throw new IOException("a " + capacity + "-byte ring is too small for messages of up to "
            + maxMessage + " bytes (do the peers use the same chunk size?)");
      }
      l = map(file, capacity, false);
      byte[] got = new byte[token.length];
      l.map.get(TOKEN, got);
      if (!MessageDigest.isEqual(got, token)) {
        throw new IOException("the file's token does not match the offer (another host?)");
      }
      return l;
    } catch (IOException | RuntimeException e) {
      if (l != null) {
        l.dispose();
      }
      LOG.log(Level.INFO, "ring rank {0}: cannot use the shared memory offered for the link to "
          + "the next peer ({1}); it stays on TCP", new Object[] {rank, e.toString()});
      return null;
    }
  }

  private static SharedMemoryLink map(Path file, int capacity, boolean create)
      throws IOException {
    if (capacity < 4096 || Integer.bitCount(capacity) != 1 || capacity > (1 << 30)) {
      throw new IOException("shared-memory capacity " + capacity + " is not a power of two in "
          + "[4 KiB, 1 GiB]");
    }
    long size = (long) DATA + capacity;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      if (create) {
        // Every page written now: a full /dev/shm fails here with an IOException (the link
        // stays on TCP), where a sparse file would kill the process with SIGBUS on first touch.
        ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
        for (long at = 0; at < size; at += zeros.capacity()) {
          zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
          while (zeros.hasRemaining()) {
            ch.write(zeros, at + zeros.position());
          }
        }
      } else if (ch.size() != size) {
        throw new IOException("the file holds " + ch.size() + " bytes, the offer says " + size);
      }
      MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
      m.order(ByteOrder.nativeOrder());
      return new SharedMemoryLink(m, capacity);
    }
  }

  /** True if {@code a} is an address of this host (loopback included). */
  static boolean isLocal(InetAddress a) {
    if (a == null) {
      return false;
    }
    if (a.isLoopbackAddress() || a.isAnyLocalAddress()) {
      return true;
    }
    try {
      return NetworkInterface.getByInetAddress(a) != null;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Deletes the ring files that processes which died while negotiating left in {@link #DIR}
   * (a file's name lives only from its creation to the end of {@link #negotiate}; a SIGKILL in
   * between leaves it, and its memory, until the host reboots): files named with the pid of a
   * process that is gone, unchanged for {@link #STALE_MILLIS} (and files of earlier versions,
   * named without a pid, that old). The age keeps a live file of a
   * process in another pid namespace that shares this {@code /dev/shm} (a container) from being
   * taken for a dead one; were it deleted anyway, its peer could not open it, and that link
   * would stay on TCP. Only this user's files can go ({@code /dev/shm} is sticky); failures are
   * ignored. Runs before this process creates a file of its own.
   *
   * @return the number of files deleted
   */
  static int sweepStale(long nowMillis) {
    int removed = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(DIR, PREFIX + "*.shm")) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        Matcher m = OWNED.matcher(name);
        if (m.matches()) {
          long pid;
          try {
            pid = Long.parseLong(m.group(1));
          } catch (NumberFormatException e) {
            continue;
          }
          if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            continue;
          }
        } else if (!UNOWNED.matcher(name).matches()) {
          continue;
        }
        try {
          if (nowMillis - Files.getLastModifiedTime(f).toMillis() >= STALE_MILLIS
              && Files.deleteIfExists(f)) {
            removed++;
          }
        } catch (IOException e) {
          // another user's file, or gone meanwhile
        }
      }
    } catch (IOException | DirectoryIteratorException e) {
      return removed; // no /dev/shm to sweep: the offer below fails and the link stays on TCP
    }
    if (removed > 0) {
      LOG.log(Level.INFO, "removed {0} ring file(s) of dead processes from {1}",
          new Object[] {removed, DIR});
    }
    return removed;
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException ignored) {
        // a stale file in /dev/shm at worst; nothing can open it by accident (random name)
      }
    }
  }
}
