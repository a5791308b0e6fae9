package convspark.worker.ring;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
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
  /** At most this many unauthenticated connections are handshaken at once; more are closed. */
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

  /** Connections closed for failing the handshake (wrong or no secret, garbage, replays). */
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
   *     connect timeout; the message names it
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
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.connectTimeoutMillis());
    CompletableFuture<Socket> inbound = new CompletableFuture<>();
    Thread acceptor = new Thread(() -> acceptLoop(inbound, secret, ringId, rank, prev, deadline),
        "ring-accept-" + rank);
    acceptor.setDaemon(true);
    acceptor.start();
    Socket out = null;
    Socket in = null;
    try {
      out = connect(peers.get(next), secret, ringId, rank, next, deadline);
      long left = Math.max(1, deadline - System.nanoTime());
      try {
        in = inbound.get(left, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        throw new RingException("ring rank " + rank + ": rank " + prev + " (" + peers.get(prev)
            + ") did not connect and prove the ring secret within "
            + options.connectTimeoutMillis() + " ms");
      } catch (ExecutionException e) {
        throw new RingException("ring rank " + rank + ": accepting rank " + prev + " ("
            + peers.get(prev) + ") failed: " + e.getCause().getMessage(), e.getCause());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RingException("ring rank " + rank + ": interrupted while forming the ring");
      }
      SharedMemoryLink[] shm;
      try {
        shm = SharedMemoryLink.negotiate(out, in, options.sharedMemory(),
            SharedMemoryLink.DEFAULT_CAPACITY, rank);
      } catch (IOException e) {
        throw new RingException("ring rank " + rank + ": setting up the links with rank " + prev
            + " (" + peers.get(prev) + ") and rank " + next + " (" + peers.get(next)
            + ") failed: " + e.getMessage(), e);
      }
      Ring ring = new Ring(rank, size, out, in, peers.get(next), peers.get(prev), options,
          shm[0], shm[1]);
      out = null;
      in = null;
      return ring;
    } finally {
      close();
      inbound.cancel(true);
      closeQuietly(out);
      closeQuietly(in);
      acceptor.interrupt();
    }
  }

  private Socket connect(InetSocketAddress to, byte[] secret, long ringId, int rank, int next,
      long deadline) throws RingException {
    IOException last = null;
    while (true) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) {
        throw new RingException("ring rank " + rank + ": cannot connect to rank " + next + " ("
            + to + ") within " + options.connectTimeoutMillis() + " ms"
            + (last == null ? "" : ": " + last.getMessage()), last);
      }
      Socket s;
      try {
        s = SocketChannel.open().socket(); // a channel: Ring reads and writes it
      } catch (IOException e) {
        throw new RingException("ring rank " + rank + ": cannot open a socket: " + e.getMessage(),
            e);
      }
      try {
        s.connect(to, (int) Math.min(Integer.MAX_VALUE, left));
        s.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left)));
        Handshake.client(s, secret, ringId, rank, next);
        configure(s, options);
        return s;
      } catch (Handshake.Rejected e) {
        closeQuietly(s);
        if (deadline - System.nanoTime() < TimeUnit.MILLISECONDS.toNanos(100)) {
          throw new RingException("ring rank " + rank + ": rank " + next + " (" + to
              + ") did not complete the handshake within " + options.connectTimeoutMillis()
              + " ms (" + e.getMessage() + ")", e);
        }
        throw new RingException("ring rank " + rank + ": handshake with rank " + next + " (" + to
            + ") failed: " + e.getMessage(), e);
      } catch (ConnectException | SocketTimeoutException e) {
        closeQuietly(s); // not listening yet, or slow: retry until the deadline
        last = e;
        sleep(50);
      } catch (IOException e) {
        closeQuietly(s);
        throw new RingException("ring rank " + rank + ": connecting to rank " + next + " (" + to
            + ") failed: " + e.getMessage(), e);
      }
    }
  }

  private void acceptLoop(CompletableFuture<Socket> inbound, byte[] secret, long ringId, int rank,
      int prev, long deadline) {
    Semaphore slots = new Semaphore(MAX_PENDING_HANDSHAKES);
    try {
      server.setSoTimeout(200);
      while (!inbound.isDone() && System.nanoTime() < deadline) {
        Socket s;
        try {
          s = server.accept();
        } catch (SocketTimeoutException e) {
          continue;
        }
        if (!slots.tryAcquire()) {
          rejected.incrementAndGet();
          LOG.log(Level.WARNING, "ring rank {0}: closed a connection from {1}: too many pending "
              + "handshakes", rank, s.getRemoteSocketAddress());
          closeQuietly(s);
          continue;
        }
        Thread t = new Thread(() -> {
          try {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            s.setSoTimeout((int) Math.max(1, Math.min(HANDSHAKE_MILLIS, left)));
            Handshake.server(s, secret, ringId, rank, prev);
            configure(s, options);
            if (!inbound.complete(s)) {
              closeQuietly(s); // a second authenticated connection: keep the first
            }
          } catch (IOException e) {
            rejected.incrementAndGet();
            LOG.log(Level.WARNING, "ring rank {0}: rejected a connection from {1}: {2}", rank,
                s.getRemoteSocketAddress(), e.getMessage());
            closeQuietly(s);
          } finally {
            slots.release();
          }
        }, "ring-handshake-" + rank);
        t.setDaemon(true);
        t.start();
      }
    } catch (SocketException e) {
      // the listener was closed: the ring formed, or joining failed
    } catch (IOException e) {
      inbound.completeExceptionally(e);
    }
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

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    closeQuietly(server);
  }
}
