package convspark.worker.ring;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A formed ring of P peers: this peer sends to rank + 1 and receives from rank - 1 (mod P) over
 * two authenticated TCP connections. {@link #allreduce} sums, in place and on every peer, a float
 * vector together with a few doubles (loss sum, counts: exact up to 2^53).
 *
 * <p>The algorithm (Patarasuk and Yuan's bandwidth-optimal ring, as in Horovod and NCCL): the
 * logical vector (floats, then doubles) is cut into P contiguous segments of sizes differing by at
 * most one. In step j = 0 .. 2P-3 this peer sends segment (rank - j) mod P and receives segment
 * (rank - j - 1) mod P; during the first P - 1 steps (reduce-scatter) it adds what it receives to
 * its own values, during the last P - 1 (all-gather) it copies. Each segment travels in chunks of
 * {@link RingOptions#chunkBytes()}, and a chunk received in step j is forwarded in step j + 1 as
 * soon as it is reduced, by a sender thread, while the next chunk is being received: chunks
 * pipeline around the ring. Each peer sends 2 (P - 1) / P of the vector's bytes.
 *
 * <p>Determinism: element i of segment s is summed in the fixed order x_s + x_(s+1) + ... +
 * x_(s+P-1) (ranks mod P), whatever the timing, so every peer ends with bit-identical values and
 * a rerun with the same inputs and P gives the same bits. After the reduce-scatter this peer
 * holds the full sums of segment (rank + 1) mod P: the segment it owns, which {@link
 * #allreduce(float[], double[], Owned)} lets the caller rewrite, chunk by chunk as each chunk is
 * summed, before the all-gather forwards it (so the rewrite keeps the pipeline going).
 *
 * <p>Wire: every chunk is a 16-byte header (operation number, step, chunk index, payload bytes;
 * little-endian ints, all checked on receipt) and the chunk's floats then doubles, little-endian.
 * The transport is the two connections' {@link SocketChannel}s with direct buffers: a chunk is
 * encoded with one bulk copy from the float array into a pooled direct buffer that the sender
 * thread writes as is (blocking), and received into one reused direct buffer that is decoded with
 * one bulk copy (into the vector when copying, into a scratch array followed by a plain add loop,
 * which the JIT vectorises, when reducing). No per-element conversion and no intermediate heap
 * byte array: one user-space copy per byte in each direction. The sender's pool of direct
 * buffers is reused across operations; it holds at most what this peer sends in one operation
 * (2 (P - 1) / P of the vector's bytes; chunks queue without bound so that no peer ever waits to
 * send while its neighbour waits for it), typically a segment's worth.
 *
 * <p>Sealed links ({@link RingOptions#encrypt()}): over TCP, each chunk's payload is encrypted
 * and its header authenticated with AES-GCM under the connection's own key ({@link
 * ChunkCipher}), by the sender thread just before it writes the chunk and by the receiving
 * thread just after it has read it; a chunk that fails its tag fails the operation, naming the
 * peer. Links through shared memory stay in the clear (one host, one user, a file nobody else
 * can open).
 *
 * <p>Faults: every receive waits at most {@link RingOptions#ioTimeoutMillis()} for the next byte
 * (the receiving channel is non-blocking and waits in a {@link Selector} with that deadline; the
 * sending side is bounded by the same timeout on its completion); a silent, closed or misbehaving
 * neighbour fails the operation with a {@link RingException} naming it, and the ring closes. Not
 * thread-safe: one operation at a time.
 */
public final class Ring implements Allreduce {
  /** Message header: operation number, step, chunk index, payload bytes. */
  static final int HEADER = 16;

  private final int rank;
  private final int size;
  private final Socket out;
  private final Socket in;
  private final InetSocketAddress nextAddress;
  private final InetSocketAddress prevAddress;
  private final RingOptions options;
  private final SocketChannel input;
  private final Selector readable;
  private final Sender sender;
  private final Thread senderThread;
  /** Shared memory from the previous peer (same host), or null: TCP. */
  private final SharedMemoryLink fromPrev;
  /** Shared memory to the next peer (same host), or null: TCP. */
  private final SharedMemoryLink toNext;
  /** How often a wait on shared memory checks the connection beside it for end-of-stream. */
  private static final long PROBE_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  private final SharedMemoryLink.Waiter receiveWaiter = this::receiveIdle;
  private final SharedMemoryLink.Waiter sendWaiter = this::sendIdle;
  private final ByteBuffer sendProbe = ByteBuffer.allocate(1);
  private long sendProbed;
  /** Whether this operation's chunks go straight into shared memory (see {@link #run}). */
  private boolean direct;
  /** An allreduce is running (on whichever thread called it). */
  private volatile boolean inOperation;
  /** The shared-memory links are unmapped. */
  private boolean released;
  private final ByteBuffer receiveProbe = ByteBuffer.allocate(1);
  private long receiveProbed;
  private int waitStep;
  private int waitSteps;
  private int operation;
  private volatile boolean closed;
  private ByteBuffer receiveBuffer = direct(0);
  /** Opens the sealed chunks from the previous peer, or null: they come in the clear. */
  private final ChunkCipher opener;
  /** Where an opened chunk goes (header and payload). */
  private ByteBuffer openedBuffer = direct(0);
  private float[] floatScratch = new float[0];
  private final Stats stats = new Stats();

  /** Cumulative traffic and time of this peer's allreduce operations. */
  public static final class Stats {
    /** Completed operations. */
    public long operations;
    /** Bytes sent to the next peer (payload and headers). */
    public long bytesSent;
    /** Bytes received from the previous peer. */
    public long bytesReceived;
    /** Wall-clock seconds inside {@link #allreduce}. */
    public double seconds;

    /** Effective rate: bytes sent per second inside allreduce. */
    public double sendGigabytesPerSecond() {
      return seconds > 0 ? bytesSent / seconds / 1e9 : 0;
    }
  }

  /**
   * Takes over two authenticated connections (sockets made by {@link SocketChannel#open()} or
   * accepted by a server socket channel, in blocking mode): {@code out} to the next peer, {@code
   * in} from the previous one.
   */
  Ring(int rank, int size, Socket out, Socket in, InetSocketAddress nextAddress,
      InetSocketAddress prevAddress, RingOptions options) throws RingException {
    this(rank, size, out, in, nextAddress, prevAddress, options, null, null, null, null);
  }

  /**
   * As {@link #Ring(int, int, Socket, Socket, InetSocketAddress, InetSocketAddress,
   * RingOptions)}, with the data of a direction carried by shared memory where its link is not
   * null ({@link SharedMemoryLink#negotiate}); its connection then only tells whether the peer
   * is still there. {@code sealKey} and {@code openKey}: the data keys of the connections to the
   * next and from the previous peer where the chunks on them are sealed ({@link ChunkCipher}),
   * else null (and always null for a direction through shared memory).
   */
  Ring(int rank, int size, Socket out, Socket in, InetSocketAddress nextAddress,
      InetSocketAddress prevAddress, RingOptions options, SharedMemoryLink toNext,
      SharedMemoryLink fromPrev, byte[] sealKey, byte[] openKey) throws RingException {
    if ((sealKey != null && toNext != null) || (openKey != null && fromPrev != null)) {
      throw new IllegalArgumentException("ring rank " + rank + ": a link through shared memory "
          + "is not sealed");
    }
    this.opener = openKey == null ? null : ChunkCipher.opening(openKey);
    this.rank = rank;
    this.toNext = toNext;
    this.fromPrev = fromPrev;
    this.size = size;
    this.out = out;
    this.in = in;
    this.nextAddress = nextAddress;
    this.prevAddress = prevAddress;
    this.options = options;
    if (size > 1) {
      SocketChannel o = out.getChannel();
      SocketChannel i = in.getChannel();
      if (o == null || i == null) {
        throw new IllegalArgumentException("ring rank " + rank + ": the connections must be "
            + "socket channels (SocketChannel.open(), ServerSocketChannel.accept())");
      }
      Selector sel = null;
      try {
        i.configureBlocking(false);
        if (toNext != null) {
          o.configureBlocking(false); // no data goes this way: it is read for end-of-stream
        }
        sel = Selector.open();
        i.register(sel, SelectionKey.OP_READ);
      } catch (IOException e) {
        RingListener.closeQuietly(sel);
        throw new RingException("ring rank " + rank + ": cannot set up the connection from rank "
            + prevRank() + " (" + prevAddress + "): " + e.getMessage(), e);
      }
      this.input = i;
      this.readable = sel;
      this.sender = new Sender(o, toNext, HEADER + options.chunkBytes(), this,
          sealKey == null ? null : ChunkCipher.sealing(sealKey));
      this.senderThread = new Thread(sender, "ring-send-" + rank);
      senderThread.setDaemon(true);
      senderThread.start();
    } else {
      this.input = null;
      this.readable = null;
      this.sender = null;
      this.senderThread = null;
    }
  }

  private static ByteBuffer direct(int n) {
    return ByteBuffer.allocateDirect(n).order(ByteOrder.LITTLE_ENDIAN);
  }

  @Override
  public int rank() {
    return rank;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public Stats stats() {
    return stats;
  }

  /** Sums {@code floats} across all peers, in place; see {@link #allreduce(float[], double[])}. */
  public void allreduce(float[] floats) throws RingException {
    allreduce(floats, new double[0]);
  }

  /**
   * Sums {@code floats} and {@code doubles} element-wise across all peers, in place: afterwards
   * every peer holds the same sums, bit for bit. Every peer must call this with arrays of the same
   * lengths, in the same sequence of operations.
   *
   * @throws RingException if a neighbour fails or stalls past the io timeout (the ring is then
   *     closed)
   */
  @Override
  public void allreduce(float[] floats, double[] doubles, Owned owned) throws RingException {
    inOperation = true;
    try {
      if (closed) {
        throw new RingException("ring rank " + rank + ": the ring is closed (an earlier "
            + "operation failed, or close() was called)");
      }
      long t0 = System.nanoTime();
      operation++;
      if (size == 1) {
        if (owned != null && floats.length > 0) {
          owned.summed(floats, 0, floats.length);
        }
      } else {
        try {
          run(floats, doubles, owned);
        } catch (RingException e) {
          close();
          throw e;
        } catch (RuntimeException | Error e) {
          close();
          throw e;
        }
      }
      stats.operations++;
      stats.seconds += (System.nanoTime() - t0) / 1e9;
    } finally {
      inOperation = false;
      if (closed) {
        releaseSharedMemory(); // a close() from another thread during the operation left it
      }
    }
  }

  private void run(float[] f, double[] d, Owned owned) throws RingException {
    final int nf = f.length;
    final long total = (long) nf + d.length;
    final int chunkElems = Math.max(1, options.chunkBytes() / 4);
    final int steps = 2 * (size - 1);
    // Through shared memory, the chunks go straight into the ring when everything this peer
    // sends in the operation fits in it at once (the consumer has drained it by the end of the
    // previous operation, so no write waits for room); larger vectors go through the sender
    // thread, which may wait for room while this thread goes on receiving.
    direct = toNext != null && sendBytes(nf, total, chunkElems) + 2L * (HEADER + 8L * chunkElems)
        <= toNext.capacity();
    int queued = 0;
    // Step 0: this peer's own segment, all chunks at once.
    int seg = rank;
    for (long a = segStart(seg, total), end = segStart(seg + 1, total); a < end;
        a += chunkElems) {
      if (send(f, d, 0, (int) ((a - segStart(seg, total)) / chunkElems), a,
          Math.min(end, a + chunkElems))) {
        queued++;
      }
    }
    for (int j = 0; j < steps; j++) {
      int rseg = Math.floorMod(rank - j - 1, size);
      long start = segStart(rseg, total);
      long end = segStart(rseg + 1, total);
      boolean add = j < size - 1;
      int chunk = 0;
      for (long a = start; a < end; a += chunkElems, chunk++) {
        long b = Math.min(end, a + chunkElems);
        receive(f, d, j, chunk, a, b, add, steps);
        if (owned != null && j == size - 2 && a < nf) {
          // the last reduce step: this chunk of the segment this peer owns is fully summed
          owned.summed(f, (int) a, (int) Math.min(b, nf));
        }
        if (j + 1 < steps) {
          if (send(f, d, j + 1, chunk, a, b)) {
            queued++;
          }
        }
      }
    }
    sender.awaitSent(queued, this);
  }

  /** First element of segment {@code s} (s may be P: the end). */
  private long segStart(int s, long total) {
    return total * s / size;
  }

  private static int bytesOf(int nf, long a, long b) {
    long floats = Math.max(0, Math.min(b, nf) - a);
    long doubles = (b - a) - floats;
    return (int) (floats * 4 + doubles * 8);
  }

  /** Bytes (headers included) this peer sends in one operation over {@code total} elements. */
  private long sendBytes(int nf, long total, int chunkElems) {
    long bytes = 0;
    for (int j = 0; j < 2 * (size - 1); j++) {
      // step 0 sends segment rank; step j + 1 forwards what step j received, (rank - j - 1)
      int seg = j == 0 ? rank : Math.floorMod(rank - j, size);
      long a = segStart(seg, total);
      long b = segStart(seg + 1, total);
      bytes += bytesOf(nf, a, b) + HEADER * ((b - a + chunkElems - 1) / chunkElems);
    }
    return bytes;
  }

  /** Sends one chunk; true if it was queued for the sender thread. */
  private boolean send(float[] f, double[] d, int step, int chunk, long a, long b)
      throws RingException {
    int nf = f.length;
    int payload = bytesOf(nf, a, b);
    int n = HEADER + payload;
    ByteBuffer bb;
    if (direct) {
      try {
        bb = toNext.claim(n, sendWaiter);
      } catch (RingException e) {
        throw e;
      } catch (IOException e) {
        throw new RingException("ring rank " + rank + ": sending to rank " + nextRank() + " ("
            + nextAddress + ") failed: " + (closed ? "the ring was closed" : e.getMessage()), e);
      }
    } else {
      bb = sender.buffer(n);
    }
    bb.putInt(operation).putInt(step).putInt(chunk).putInt(payload);
    int fFrom = (int) Math.min(a, nf);
    int fCount = (int) Math.min(b, nf) - fFrom;
    int dFrom = (int) (Math.max(a, nf) - nf);
    int dCount = (int) (b - nf) - dFrom;
    if (fCount > 0) {
      bb.asFloatBuffer().put(f, fFrom, fCount);
    }
    if (dCount > 0) {
      bb.position(HEADER + 4 * fCount);
      bb.asDoubleBuffer().put(d, dFrom, dCount);
    }
    stats.bytesSent += n + (sender != null && sender.sealer != null ? ChunkCipher.TAG : 0);
    if (direct) {
      toNext.publish();
      return false;
    }
    bb.position(0).limit(n);
    sender.enqueue(bb, this);
    return true;
  }

  private void receive(float[] f, double[] d, int step, int chunk, long a, long b, boolean add,
      int steps) throws RingException {
    int nf = f.length;
    int payload = bytesOf(nf, a, b);
    int n = HEADER + payload;
    ByteBuffer bb;
    if (fromPrev != null) {
      bb = nextShared(n, step, steps);
    } else {
      int wire = n + (opener != null ? ChunkCipher.TAG : 0);
      if (receiveBuffer.capacity() < wire) {
        receiveBuffer = direct(wire);
      }
      bb = receiveBuffer;
      bb.clear().limit(wire);
      readFully(bb, step, steps);
      if (opener != null) {
        bb = open(bb, n, step, steps);
      }
    }
    int op = bb.getInt(0);
    int st = bb.getInt(4);
    int ch = bb.getInt(8);
    int len = bb.getInt(12);
    if (op != operation || st != step || ch != chunk || len != payload) {
      throw new RingException("ring rank " + rank + ": rank " + prevRank() + " (" + prevAddress
          + ") sent operation " + op + " step " + st + " chunk " + ch + " of " + len
          + " bytes, expected operation " + operation + " step " + step + " chunk " + chunk
          + " of " + payload + " bytes (do all peers reduce vectors of the same length?)");
    }
    int fFrom = (int) Math.min(a, nf);
    int fCount = (int) Math.min(b, nf) - fFrom;
    int dFrom = (int) (Math.max(a, nf) - nf);
    int dCount = (int) (b - nf) - dFrom;
    bb.position(HEADER);
    if (add) {
      if (fCount > 0) {
        float[] tmp = floatScratch(fCount);
        bb.asFloatBuffer().get(tmp, 0, fCount);
        addInto(f, fFrom, tmp, fCount);
      }
      if (dCount > 0) {
        bb.position(HEADER + 4 * fCount);
        double[] tmp = new double[dCount];
        bb.asDoubleBuffer().get(tmp, 0, dCount);
        for (int i = 0; i < dCount; i++) {
          d[dFrom + i] = d[dFrom + i] + tmp[i];
        }
      }
    } else {
      if (fCount > 0) {
        bb.asFloatBuffer().get(f, fFrom, fCount);
      }
      if (dCount > 0) {
        bb.position(HEADER + 4 * fCount);
        bb.asDoubleBuffer().get(d, dFrom, dCount);
      }
    }
    stats.bytesReceived += n + (opener != null ? ChunkCipher.TAG : 0);
    if (fromPrev != null) {
      fromPrev.release();
    }
  }

  /** Opens a sealed chunk of {@code n} bytes (header and payload) read into {@code sealed}. */
  private ByteBuffer open(ByteBuffer sealed, int n, int step, int steps) throws RingException {
    if (openedBuffer.capacity() < n) {
      openedBuffer = direct(n);
    }
    try {
      opener.open(sealed, openedBuffer);
    } catch (javax.crypto.AEADBadTagException e) {
      throw new RingException("ring rank " + rank + ": a chunk from rank " + prevRank() + " ("
          + prevAddress + ") failed its authentication tag (allreduce operation " + operation
          + ", step " + (step + 1) + " of " + steps + "): altered in transit, or not sealed by "
          + "the peer with this connection's key", e);
    } catch (java.security.GeneralSecurityException | RuntimeException e) {
      throw new RingException("ring rank " + rank + ": cannot open a chunk from rank "
          + prevRank() + " (" + prevAddress + "): " + e, e);
    }
    return openedBuffer;
  }

  /** The next {@code n}-byte chunk from the previous peer through shared memory. */
  private ByteBuffer nextShared(int n, int step, int steps) throws RingException {
    waitStep = step;
    waitSteps = steps;
    try {
      return fromPrev.next(n, receiveWaiter);
    } catch (IOException e) {
      throw receiveFailure(e, step, steps);
    }
  }

  /** The ring's error for a failed receive: timeout as it is, else naming the previous peer. */
  private RingException receiveFailure(IOException e, int step, int steps) {
    if (e instanceof RingException re) {
      return re; // the timeout, as it is
    }
    if (e instanceof EOFException) {
      return new RingException("ring rank " + rank + ": rank " + prevRank() + " (" + prevAddress
          + ") closed the connection (allreduce operation " + operation + ", step " + (step + 1)
          + " of " + steps + ")", e);
    }
    return new RingException("ring rank " + rank + ": receiving from rank " + prevRank() + " ("
        + prevAddress + ") failed: " + (closed ? "the ring was closed"
        : RingListener.describe(e)), e);
  }

  private float[] floatScratch(int n) {
    if (floatScratch.length < n) {
      floatScratch = new float[n];
    }
    return floatScratch;
  }

  /** {@code f[from + i] += x[i]}: one add per element, a loop the JIT vectorises. */
  private static void addInto(float[] f, int from, float[] x, int n) {
    for (int i = 0; i < n; i++) {
      f[from + i] += x[i];
    }
  }

  /**
   * Fills {@code buf} to its limit from the previous peer. The channel is non-blocking: when it
   * has nothing to read, wait in the selector, at most the io timeout since the last byte came.
   */
  private void readFully(ByteBuffer buf, int step, int steps) throws RingException {
    long timeout = TimeUnit.MILLISECONDS.toNanos(options.ioTimeoutMillis());
    long deadline = System.nanoTime() + timeout;
    try {
      while (buf.hasRemaining()) {
        int r = input.read(buf);
        if (r > 0) {
          deadline = System.nanoTime() + timeout;
        } else if (r < 0) {
          throw new EOFException();
        } else {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw silent(step, steps);
          }
          if (closed) {
            throw new ClosedChannelException();
          }
          try {
            readable.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left + 999_999)));
          } catch (ClosedSelectorException e) {
            throw new ClosedChannelException(); // close() was called meanwhile
          }
          readable.selectedKeys().clear();
        }
      }
    } catch (IOException e) {
      throw receiveFailure(e, step, steps);
    }
  }

  private RingException silent(int step, int steps) {
    return new RingException("ring rank " + rank + ": rank " + prevRank() + " (" + prevAddress
        + ") sent nothing for " + options.ioTimeoutMillis() + " ms (allreduce operation "
        + operation + ", step " + (step + 1) + " of " + steps + "): " + (step == 0 || size == 2
        ? "it stalled or died"
        : "it, or a rank before it whose data it forwards, stalled or died"));
  }

  /** While waiting for shared memory from the previous peer: timeout, close, peer gone. */
  private void receiveIdle(long idleNanos) throws IOException {
    if (idleNanos > TimeUnit.MILLISECONDS.toNanos(options.ioTimeoutMillis())) {
      throw silent(waitStep, waitSteps);
    }
    if (closed) {
      throw new ClosedChannelException();
    }
    long now = System.nanoTime();
    if (now - receiveProbed > PROBE_NANOS) {
      receiveProbed = now;
      probe(input, receiveProbe);
    }
  }

  /**
   * While waiting for room in shared memory, on this thread or the sender's (one operation
   * uses one of them): timeout, close, peer gone.
   */
  private void sendIdle(long idleNanos) throws IOException {
    if (idleNanos > TimeUnit.MILLISECONDS.toNanos(options.ioTimeoutMillis())) {
      throw new RingException("ring rank " + rank + ": rank " + nextRank() + " (" + nextAddress
          + ") accepted no data for "
          + options.ioTimeoutMillis() + " ms (allreduce operation " + operation
          + "): it stalled or died");
    }
    if (closed) {
      throw new ClosedChannelException();
    }
    long now = System.nanoTime();
    if (now - sendProbed > PROBE_NANOS) {
      sendProbed = now;
      probe(out.getChannel(), sendProbe);
    }
  }

  /**
   * Checks a connection that carries no data (its direction runs through shared memory):
   * end-of-stream means the peer closed it or died.
   */
  private static void probe(SocketChannel c, ByteBuffer one) throws IOException {
    one.clear();
    int r = c.read(one);
    if (r < 0) {
      throw new EOFException();
    }
    if (r > 0) {
      throw new IOException("the peer sent TCP data on a link that runs through shared memory");
    }
  }

  /** Whether the data to the next peer and from the previous one run through shared memory. */
  boolean[] sharedMemory() {
    return new boolean[] {toNext != null, fromPrev != null};
  }

  /** What carries this peer's links, for the logs: "to rank 1 (host:port) through ...". */
  public String links() {
    if (size == 1) {
      return "no links (a ring of one)";
    }
    return "to rank " + nextRank() + " (" + nextAddress + ") through "
        + (toNext != null ? "shared memory" : "TCP") + ", from rank " + prevRank() + " ("
        + prevAddress + ") through " + (fromPrev != null ? "shared memory" : "TCP");
  }

  /**
   * Direct send buffers allocated so far: at most the number of chunks this peer sends in one
   * operation, since the sender thread returns every written buffer to the pool.
   */
  int sendBuffersAllocated() {
    return sender == null ? 0 : sender.allocated;
  }

  int prevRank() {
    return (rank + size - 1) % size;
  }

  int nextRank() {
    return (rank + 1) % size;
  }

  /**
   * Writes queued chunks to the next peer, so that receiving (and reducing) the next chunk
   * overlaps with sending the previous one. Chunk buffers (direct) are pooled.
   */
  private static final class Sender implements Runnable {
    private static final ByteBuffer STOP = ByteBuffer.allocate(0);
    private final SocketChannel out;
    /** Where the data goes instead of {@code out}, or null. */
    private final SharedMemoryLink shm;
    private final Ring ring;
    private final LinkedBlockingQueue<ByteBuffer> queue = new LinkedBlockingQueue<>();
    private final ConcurrentLinkedQueue<ByteBuffer> pool = new ConcurrentLinkedQueue<>();
    private final Semaphore sent = new Semaphore(0);
    private final int minCapacity;
    /** Seals every chunk before it is written, or null: they go in the clear. */
    final ChunkCipher sealer;
    /** Where a sealed chunk is written from (sender thread only). */
    private ByteBuffer sealed;
    /** Buffers allocated so far (read by the owning thread only). */
    private int allocated;
    private volatile IOException failure;

    Sender(SocketChannel out, SharedMemoryLink shm, int minCapacity, Ring ring,
        ChunkCipher sealer) {
      this.sealer = sealer;
      this.sealed = sealer == null ? null : direct(minCapacity + ChunkCipher.TAG);
      this.out = out;
      this.shm = shm;
      this.minCapacity = minCapacity;
      this.ring = ring;
    }

    /**
     * A cleared buffer of at least {@code n} bytes. New buffers hold at least a full chunk of
     * floats, so the pool stops allocating after the first operation (a chunk that carries
     * doubles may need one larger buffer once).
     */
    ByteBuffer buffer(int n) {
      ByteBuffer b = pool.poll();
      if (b != null && b.capacity() >= n) {
        return b.clear();
      }
      allocated++;
      return direct(Math.max(n, minCapacity));
    }

    void enqueue(ByteBuffer buf, Ring ring) throws RingException {
      ring.checkSender();
      queue.add(buf);
    }

    void awaitSent(int count, Ring ring) throws RingException {
      try {
        long deadline = System.nanoTime()
            + TimeUnit.MILLISECONDS.toNanos(ring.options.ioTimeoutMillis());
        // Poll in slices so a write failure surfaces at once rather than at the deadline.
        while (!sent.tryAcquire(count, 50, TimeUnit.MILLISECONDS)) {
          ring.checkSender();
          if (System.nanoTime() > deadline) {
            throw new RingException("ring rank " + ring.rank + ": rank " + ring.nextRank() + " ("
                + ring.nextAddress + ") accepted no data for " + ring.options.ioTimeoutMillis()
                + " ms (allreduce operation " + ring.operation + "): it stalled or died");
          }
        }
        ring.checkSender();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RingException("ring rank " + ring.rank + ": interrupted during allreduce");
      }
    }

    void stop() {
      queue.add(STOP);
    }

    @Override
    public void run() {
      try {
        while (true) {
          ByteBuffer c = queue.take();
          if (c == STOP) {
            return;
          }
          if (shm != null) {
            // the ring's own wait: this thread and the ring's never wait for room at once
            // (an operation sends either straight in or through this thread)
            shm.write(c, ring.sendWaiter);
          }
          ByteBuffer w = c;
          if (sealer != null) {
            if (sealed.capacity() < c.limit() + ChunkCipher.TAG) {
              sealed = direct(c.limit() + ChunkCipher.TAG);
            }
            try {
              sealer.seal(c, sealed);
            } catch (java.security.GeneralSecurityException e) {
              throw new IOException("cannot seal a chunk: " + e, e);
            }
            w = sealed;
          }
          while (w.hasRemaining()) {
            out.write(w); // blocking channel: returns once everything is in the socket buffer
          }
          pool.offer(c);
          sent.release();
        }
      } catch (IOException e) {
        failure = e;
      } catch (RuntimeException e) {
        // not the peer's doing (a cipher provider's error, say): reported as it is, at once
        failure = new IOException(e.toString(), e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void checkSender() throws RingException {
    IOException e = sender.failure;
    if (e != null) {
      throw new RingException("ring rank " + rank + ": sending to rank " + nextRank() + " ("
          + nextAddress + ") failed: " + RingListener.describe(e), e);
    }
  }

  /** True once the ring is closed: by {@link #close}, or by an operation that failed. */
  public boolean isClosed() {
    return closed;
  }

  /**
   * Closes both connections and stops the sender; idempotent, and safe to call from any thread
   * at any time (the driver's watchdog calls it while an operation may be running or ending).
   * Synchronized with {@link #releaseSharedMemory}, so that closing a link never overlaps with
   * its unmapping by the operation's thread.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (sender != null) {
      sender.stop();
    }
    if (toNext != null) {
      toNext.close();
    }
    if (fromPrev != null) {
      fromPrev.close();
    }
    RingListener.closeQuietly(out);
    RingListener.closeQuietly(in);
    if (readable != null) {
      readable.wakeup();
      RingListener.closeQuietly(readable);
    }
    if (senderThread != null) {
      senderThread.interrupt();
    }
    if (!inOperation) {
      releaseSharedMemory();
    }
  }

  /**
   * Unmaps the shared-memory links once no thread can touch them: no operation in progress (an
   * operation that a close() from another thread interrupts calls this itself when it ends) and
   * the sender thread ended. Where the sender thread does not end within a second, the garbage
   * collector unmaps them later.
   */
  private synchronized void releaseSharedMemory() {
    if (released || (toNext == null && fromPrev == null)) {
      return;
    }
    try {
      if (senderThread != null) {
        senderThread.join(1000);
        if (senderThread.isAlive()) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    released = true;
    if (toNext != null) {
      toNext.dispose();
    }
    if (fromPrev != null) {
      fromPrev.dispose();
    }
  }

  @Override
  public String toString() {
    return "ring rank " + rank + " of " + size + (size > 1 ? " (next " + nextAddress + ", prev "
        + prevAddress + ")" : "");
  }
}
