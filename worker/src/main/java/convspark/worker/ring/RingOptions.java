package convspark.worker.ring;

import java.io.Serializable;

/**
 * How a ring behaves on the wire.
 *
 * @param connectTimeoutMillis how long joining may take: connecting to the next peer (retried
 *     while it is not yet listening) and waiting for the previous peer to connect and prove the
 *     secret
 * @param ioTimeoutMillis how long a peer may stay silent during an allreduce (no byte received,
 *     or no byte accepted by the next peer) before the operation fails naming it
 * @param chunkBytes payload bytes per message: a segment travels in chunks of this size, each
 *     forwarded as soon as it has been reduced (pipelining). 32 KiB measured best on loopback
 *     (a chunk's buffers stay in cache between encoding, the kernel's copies and decoding: the
 *     CPU per allreduce of 1.7 MB at P = 2 and 4 was a sixth to a quarter below that of 256 KiB;
 *     docs/BENCHMARKS.md); 16 KiB to 1 MiB all work over TCP
 * @param sharedMemory whether a link between two peers of the same host carries its data
 *     through shared memory ({@link SharedMemoryLink}) rather than loopback TCP; the connection
 *     and its handshake stay either way
 * @param encrypt whether the chunks on TCP links are sealed (AES-GCM: encrypted and
 *     authenticated, {@link ChunkCipher}); links through shared memory stay in the clear. Every
 *     peer of a ring must agree: the handshake refuses a neighbour that does not
 * @param spinNanos how long a peer waiting on a link through shared memory busy-waits (spins)
 *     before it sleeps ({@link #spinNanosFor})
 */
public record RingOptions(int connectTimeoutMillis, int ioTimeoutMillis, int chunkBytes,
    boolean sharedMemory, boolean encrypt, long spinNanos) implements Serializable {
  /** The spin of {@link #DEFAULTS}: a chunk through shared memory is usually that close. */
  public static final long DEFAULT_SPIN_NANOS = 50_000;

  /**
   * Defaults: 60 s to form the ring, 60 s of silence, 32 KiB chunks, shared memory on a host,
   * TCP in the clear, 50 us of spinning.
   */
  public static final RingOptions DEFAULTS =
      new RingOptions(60_000, 60_000, 32 * 1024, true, false, DEFAULT_SPIN_NANOS);

  /** TCP on every link, same host or not, in the clear. */
  public RingOptions(int connectTimeoutMillis, int ioTimeoutMillis, int chunkBytes) {
    this(connectTimeoutMillis, ioTimeoutMillis, chunkBytes, false, false, DEFAULT_SPIN_NANOS);
  }

  /** TCP links in the clear. */
  public RingOptions(int connectTimeoutMillis, int ioTimeoutMillis, int chunkBytes,
      boolean sharedMemory) {
    this(connectTimeoutMillis, ioTimeoutMillis, chunkBytes, sharedMemory, false,
        DEFAULT_SPIN_NANOS);
  }

  /**
   * How long a waiting peer should spin: {@code requested}, or 0 where the threads that compute
   * on this host ({@code busyThreads}: its ring tasks times their threads) outnumber its {@code
   * cpus}, since a peer spinning there takes a core that a peer still computing needs (as MPI
   * implementations stop busy-polling when oversubscribed). Spinning while the peers are not
   * oversubscribed costs nothing they need, and a peer that spins reacts at once when its
   * neighbour arrives, where one that sleeps waits for the kernel to wake it (on a 2-core
   * virtual machine the in-JVM allreduce's own time per step fell from 0.27-0.33 to 0.15-0.22
   * ms with a 2 ms spin; docs/BENCHMARKS.md).
   */
  public static long spinNanosFor(long requested, int busyThreads, int cpus) {
    return busyThreads > cpus ? 0 : Math.max(0, requested);
  }

  public RingOptions {
    if (connectTimeoutMillis <= 0) {
      throw new IllegalArgumentException(
          "ring connect timeout must be > 0 ms, got " + connectTimeoutMillis);
    }
    if (ioTimeoutMillis <= 0) {
      throw new IllegalArgumentException("ring io timeout must be > 0 ms, got " + ioTimeoutMillis);
    }
    if (chunkBytes < 64 || chunkBytes > (64 << 20)) {
      throw new IllegalArgumentException(
          "ring chunk size must be in [64 B, 64 MiB], got " + chunkBytes + " bytes");
    }
    if (spinNanos < 0) {
      throw new IllegalArgumentException("ring spin must be >= 0 ns, got " + spinNanos);
    }
  }

  public RingOptions withTimeouts(int connectMillis, int ioMillis) {
    return new RingOptions(connectMillis, ioMillis, chunkBytes, sharedMemory, encrypt, spinNanos);
  }

  public RingOptions withChunkBytes(int bytes) {
    return new RingOptions(connectTimeoutMillis, ioTimeoutMillis, bytes, sharedMemory, encrypt,
        spinNanos);
  }

  public RingOptions withSharedMemory(boolean on) {
    return new RingOptions(connectTimeoutMillis, ioTimeoutMillis, chunkBytes, on, encrypt,
        spinNanos);
  }

  public RingOptions withEncryption(boolean on) {
    return new RingOptions(connectTimeoutMillis, ioTimeoutMillis, chunkBytes, sharedMemory, on,
        spinNanos);
  }

  public RingOptions withSpinNanos(long nanos) {
    return new RingOptions(connectTimeoutMillis, ioTimeoutMillis, chunkBytes, sharedMemory,
        encrypt, nanos);
  }
}
