package convspark.worker.ring;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One peer's listening socket, bound to its own host address (the wildcard address is refused),
 * on a free port. Bind first, let the caller distribute every peer's {@link #address()}, then
 * {@link #join} the ring; the listener closes when the ring has formed (or joining fails), so a
 * formed ring listens nowhere.
 */
public final class RingListener implements AutoCloseable {
  static final System.Logger LOG = System.getLogger("convspark.worker.ring");
  /**
   * At most this many unauthenticated connections are handshaken at once; a new one beyond that
   * closes the oldest.
   */
  private static final int MAX_PENDING_HANDSHAKES = 8;
  /** A connecting client must finish the handshake within this time (or the connect timeout). */
  private static final int HANDSHAKE_MILLIS = 10_000;

  private final ServerSocket server;
  private final RingOptions options;
  private final AtomicInteger rejected = new AtomicInteger();

  private RingListener(ServerSocket server, RingOptions options) {
    this.server = server;
    this.options = options;
  }

  /**
   * Binds a listener to {@code host} on a free port.
   *
   * @throws IllegalArgumentException if {@code host} is the wildcard address
   */
  public static RingListener bind(InetAddress host, RingOptions options) throws IOException {
    if (host.isAnyLocalAddress()) {
      throw new IllegalArgumentException("a ring peer must bind to its own host address, not to "
          + host.getHostAddress() + " (all interfaces)");
    }
    ServerSocket s = ServerSocketChannel.open().socket(); // channels: Ring reads and writes them
    try {
      s.setReuseAddress(false);
      s.bind(new InetSocketAddress(host, 0), 16);
    } catch (IOException e) {
      s.close();
      throw new RingException("cannot bind a ring listener to " + host.getHostAddress() + ": "
          + e.getMessage(), e);
    }
    return new RingListener(s, options);
  }

  /** Where the other peers reach this one. */
  public InetSocketAddress address() {
    return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
  }

  /**
   * Connections closed without completing the handshake: failed it (wrong or no secret, garbage,
   * replays), or cut off (evicted by newer ones, or joining ended first).
   */
  public int rejectedConnections() {
    return rejected.get();
  }

  /**
   * Forms the ring: connects to rank {@code rank + 1} and accepts rank {@code rank - 1} (mod P),
   * both authenticated with {@code secret}; closes this listener.
   *
   * @param peers every peer's {@link #address()}, in rank order (the same list on every peer)
   * @param rank this peer's position in {@code peers}
   * @param secret the job secret (at least {@link RingSecret#MIN_BYTES} bytes)
   * @param ringId identifies this ring (job, round, attempt): a connection meant for another
   *     ring is refused
   * @throws RingException if a neighbour does not connect, answer or prove the secret within the
   *     connect timeout; the message names it. Every connection, thread and shared-memory
   *     mapping of the attempt is released first.
   */
  public Ring join(List<InetSocketAddress> peers, int rank, byte[] secret, long ringId)
      throws RingException {
    RingSecret.check(secret);
    int size = peers.size();
    if (rank < 0 || rank >= size) {
      throw new IllegalArgumentException("rank " + rank + " outside the ring of " + size);
    }
    if (peers.get(rank).getPort() != server.getLocalPort()) {
      throw new IllegalArgumentException("peers[" + rank + "] = " + peers.get(rank)
          + " is not this listener (" + address() + ")");
    }
    if (size == 1) {
      close();
      return new Ring(rank, 1, null, null, null, null, options);
    }
    int next = (rank + 1) % size;
    int prev = (rank + size - 1) % size;
    String nextName = "rank " + next + " (" + peers.get(next) + ")";
    String prevName = "rank " + prev + " (" + peers.get(prev) + ")";
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.connectTimeoutMillis());
    CompletableFuture<Handshake.Authenticated> inbound = new CompletableFuture<>();
    PendingConnections pending =
        new PendingConnections(MAX_PENDING_HANDSHAKES, "ring rank " + rank);
    Thread acceptor = new Thread(
        () -> acceptLoop(inbound, pending, secret, ringId, rank, prev, deadline),
        "ring-accept-" + rank);
    acceptor.setDaemon(true);
    acceptor.start();
    Socket out = null;
    Socket in = null;
    SharedMemoryLink[] shm = null;
    Ring ring = null;
    try {
      Handshake.Authenticated toNext = connect(peers.get(next), secret, ringId, rank, next,
          deadline);
      out = toNext.socket();
      long left = Math.max(1, deadline - System.nanoTime());
      Handshake.Authenticated fromPrev;
      try {
        fromPrev = inbound.get(left, TimeUnit.NANOSECONDS);
        in = fromPrev.socket();
      } catch (TimeoutException e) {
        throw new RingException("ring rank " + rank + ": " + prevName
            + " did not connect and prove the ring secret within "
            + options.connectTimeoutMillis() + " ms");
      } catch (ExecutionException e) {
        throw new RingException("ring rank " + rank + ": accepting " + prevName + " failed: "
            + describe(e.getCause()), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RingException("ring rank " + rank + ": interrupted while forming the ring");
      }
      try {
        shm = SharedMemoryLink.negotiate(out, in, options.sharedMemory(), options.chunkBytes(),
            options.spinNanos(), rank, nextName, prevName);
      } catch (IOException e) {
        throw new RingException("ring rank " + rank + ": setting up the links with " + prevName
            + " and " + nextName + " failed: " + describe(e), e);
      }
      boolean seal = options.encrypt();
      ring = new Ring(rank, size, out, in, peers.get(next), peers.get(prev), options,
          shm[0], shm[1], seal && shm[0] == null ? toNext.dataKey() : null,
          seal && shm[1] == null ? fromPrev.dataKey() : null);
      return ring;
    } finally {
      close();
      acceptor.interrupt();
      pending.shut(); // connections still in their handshake: nobody will take them now
      if (ring == null) {
        // A previous peer that proved the secret but was not taken (this peer failed to reach
        // its next one, say) is closed too: it then fails at once instead of waiting in the
        // shared-memory negotiation for its whole io timeout. A handshake that completes after
        // the cancel closes its own socket (complete() returns false).
        inbound.cancel(true);
        if (inbound.isDone() && !inbound.isCompletedExceptionally()) {
          Handshake.Authenticated a = inbound.getNow(null);
          closeQuietly(a == null ? null : a.socket());
        }
        closeQuietly(out);
        closeQuietly(in);
        if (shm != null) {
          for (SharedMemoryLink l : shm) {
            if (l != null) {
              l.dispose(); // the Ring that would have owned them was not made
            }
          }
        }
      }
    }
  }

  /**
   * Connects to the next peer and completes the handshake, retrying until {@code deadline}
   * while the peer sheds the connection ({@link Handshake#connect}). A refused connection fails
   * at once: the peer bound this listener before its address was handed round, and closes it
   * only once its ring has formed (after the connection from this peer) or its join has failed,
   * so a refusal means that the peer is gone for this round.
   */
  private Handshake.Authenticated connect(InetSocketAddress to, byte[] secret, long ringId,
      int rank, int next, long deadline) throws RingException {
    Handshake.Authenticated a = Handshake.connect(to, "ring rank " + rank, "rank " + next + " ("
        + to + ")", secret, ringId, rank, next, deadline, options.connectTimeoutMillis(),
        "it listens no more: its task failed or ended, or its process died", options.encrypt());
    Socket s = a.socket();
    try {
      configure(s, options);
    } catch (SocketException e) {
      closeQuietly(s);
      throw new RingException("ring rank " + rank + ": cannot configure the connection to rank "
          + next + " (" + to + "): " + describe(e), e);
    }
    return a;
  }

  private void acceptLoop(CompletableFuture<Handshake.Authenticated> inbound,
      PendingConnections pending, byte[] secret,
      long ringId, int rank, int prev, long deadline) {
    try {
      server.setSoTimeout(200);
      while (!inbound.isDone() && System.nanoTime() < deadline) {
        Socket s;
        try {
          s = server.accept();
        } catch (SocketTimeoutException e) {
          continue;
        }
        if (!pending.add(s)) {
          return; // joining ended
        }
        Thread t = new Thread(() -> {
          boolean[] taken = {false};
          try {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            s.setSoTimeout((int) Math.max(1, Math.min(HANDSHAKE_MILLIS, left)));
            // once proved, the connection leaves the pending set before it is accepted: an
            // accepted connection is never closed by an eviction
            Handshake.Peer peer = Handshake.server(s, secret, ringId, rank, prev,
                Integer.MAX_VALUE, () -> taken[0] = pending.remove(s), options.encrypt());
            configure(s, options);
            if (!inbound.complete(new Handshake.Authenticated(s, peer.dataKey(), peer.sealed()))) {
              closeQuietly(s); // a second authenticated connection, or joining ended
            }
          } catch (IOException e) {
            rejected.incrementAndGet();
            pending.failed(s, taken[0], e);
            closeQuietly(s);
          }
        }, "ring-handshake-" + rank);
        t.setDaemon(true);
        t.start();
      }
    } catch (IOException e) {
      if (!server.isClosed()) { // closed: the ring formed, or joining failed
        inbound.completeExceptionally(e); // the join fails at once, with the reason
      }
    }
  }

  /**
   * An exception's message for a one-line error: an end-of-stream says that the peer closed the
   * connection (an {@link EOFException} usually has no message), and no message gives the
   * exception's name rather than "null".
   */
  static String describe(Throwable e) {
    String m = e.getMessage();
    if (m != null && !m.isBlank()) {
      return m;
    }
    if (e instanceof EOFException) {
      return "the peer closed the connection";
    }
    return e.getClass().getSimpleName();
  }

  static void configure(Socket s, RingOptions o) throws SocketException {
    s.setTcpNoDelay(true);
    s.setSoTimeout(o.ioTimeoutMillis());
    s.setKeepAlive(true);
  }

  /**
   * Closes {@code c}, ignoring failures. A connected socket first shuts its output down, as
   * {@code java.net.Socket}'s own implementation does (ring sockets are channel sockets, whose
   * close does not): the peer reads end-of-stream (a FIN) before any reset that unread input
   * causes.
   */
  static void closeQuietly(AutoCloseable c) {
    if (c instanceof Socket s && s.isConnected() && !s.isClosed() && !s.isOutputShutdown()) {
      try {
        s.shutdownOutput();
      } catch (IOException ignored) {
        // the connection is already broken: closing is all that is left
      }
    }
    if (c != null) {
      try {
        c.close();
      } catch (Exception ignored) {
        // closing after a failure: nothing more to report
      }
    }
  }

  @Override
  public void close() {
    closeQuietly(server);
  }
}
