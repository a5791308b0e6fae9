package convspark.worker.ring;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Hands every task of a ring the listening addresses of all its peers, through one small
 * authenticated server that the Spark driver runs for the whole job: the address exchange that
 * comes before {@link RingListener#join}.
 *
 * <p>Why not {@code BarrierTaskContext.allGather}: in Spark 3.5 a barrier call waits for the
 * coordinator's answer by polling it with {@code Thread.sleep(1000)}, so every call costs at
 * least a second (measured in {@code local[2]}: 1,001-1,032 ms per round), 7% of an epoch-long
 * round of the default network. Through this server the exchange takes milliseconds. It carries
 * addresses only, never data.
 *
 * <p>Protocol, after the {@link Handshake} (client: the task's rank, server: rank {@link #RANK},
 * the round's ring id; so only holders of the job secret get in, and only for the ring the driver
 * expects now):
 *
 * <pre>
 * task   -> driver  int ranks | int port | short n | n bytes: host (UTF-8) | long kept
 * driver -> task    once ranks 0 .. ranks-1 have all registered:
 *                   byte OK | int ranks | per rank: short n | n bytes: host | int port | long kept
 *                   or, if the registration is refused: byte REFUSED | short n | n bytes: why
 * </pre>
 *
 * {@code kept} is the id of the ring whose links the task holds open from an earlier round for
 * its rank ({@link KeptRings}), or -1: when every rank names the same ring, the tasks use those
 * links instead of the addresses ({@link Peers#keptRing}).
 *
 * <p>Then the driver closes the connection. {@link Server#expect} names the ring of the next round:
 * connections for any other ring id fail the handshake, so a task of an earlier, failed attempt
 * never joins a later one.
 */
public final class RingRendezvous {
  /** The server's rank in the handshake. */
  public static final int RANK = -1;
  static final byte OK = 0x4F;
  static final byte REFUSED = 0x52;
  private static final int MAX_HOST_BYTES = 255;
  /** A client must finish its handshake and registration within this time. */
  private static final int HANDSHAKE_MILLIS = 10_000;
  /**
   * At most this many connections that have not proved the secret are handled at once; a new
   * one beyond that closes the oldest.
   */
  static final int MAX_PENDING = 64;
  /** How long the rendezvous waits before accepting again after an accept failed. */
  static final long ACCEPT_RETRY_MILLIS = 100;

  private RingRendezvous() {}

  /**
   * The task side: registers {@code mine} as rank {@code rank} of a ring of {@code ranks} and
   * returns every rank's address, in rank order (the same list on every rank).
   *
   * <p>A connection that the server closes or leaves unanswered before the handshake completes
   * (it sheds the oldest when too many are pending, or the ring is not expected yet) is retried
   * until {@code timeoutMillis}; see {@link Handshake#connect}.
   *
   * @throws RingException if the server is unreachable, refuses, answers the handshake wrongly,
   *     does not complete it, or not every rank registers within {@code timeoutMillis}; the
   *     message says which
   */
  public static List<InetSocketAddress> exchange(InetSocketAddress server, byte[] secret,
      long ringId, int rank, int ranks, InetSocketAddress mine, int timeoutMillis)
      throws RingException {
    return exchange(server, secret, ringId, rank, ranks, mine, -1, timeoutMillis).addresses();
  }

  /**
   * What the rendezvous answered: every rank's address, and the ring whose links each rank
   * holds open from an earlier round (-1: none).
   */
  public record Peers(List<InetSocketAddress> addresses, long[] kept) {
    /**
     * The ring whose kept links every rank holds, or -1 when one holds none or they name
     * different rings. Every rank computes the same answer from the same lists, so either all
     * use the kept links or all form new ones.
     */
    public long keptRing() {
      long k = kept[0];
      for (long x : kept) {
        if (x != k) {
          return -1;
        }
      }
      return k < 0 ? -1 : k;
    }
  }

  /**
   * {@link #exchange(InetSocketAddress, byte[], long, int, int, InetSocketAddress, int)}, also
   * telling the peers which ring's links this task holds open ({@code kept}, -1: none).
   */
  public static Peers exchange(InetSocketAddress server, byte[] secret, long ringId, int rank,
      int ranks, InetSocketAddress mine, long kept, int timeoutMillis) throws RingException {
    String where = "the driver's ring rendezvous (" + server + ")";
    String who = "ring rank " + rank + ": " + where;
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    Socket s = Handshake.connect(server, "ring rank " + rank, where, secret, ringId, rank, RANK,
        deadline, timeoutMillis, null, false).socket();
    try (s) {
      s.setTcpNoDelay(true);
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      byte[] host = mine.getAddress().getHostAddress().getBytes(StandardCharsets.UTF_8);
      out.writeInt(ranks);
      out.writeInt(mine.getPort());
      out.writeShort(host.length);
      out.write(host);
      out.writeLong(kept);
      out.flush();
      s.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
      DataInputStream in = new DataInputStream(s.getInputStream());
      int status = in.read();
      if (status == REFUSED) {
        throw new RingException(who + " refused this task: " + readString(in, 1024));
      }
      if (status < 0) {
        // the driver dropped the ring: another attempt of the round began, or training ended
        throw new RingException(who + " closed the connection before it sent the addresses");
      }
      if (status != OK) {
        throw new RingException(who + " answered " + status + " instead of the addresses");
      }
      int n = in.readInt();
      if (n != ranks) {
        throw new RingException(who + " sent " + n + " addresses for a ring of " + ranks);
      }
      List<InetSocketAddress> peers = new ArrayList<>(n);
      long[] held = new long[n];
      for (int r = 0; r < n; r++) {
        String h = readString(in, MAX_HOST_BYTES);
        int port = in.readInt();
        peers.add(new InetSocketAddress(h, port));
        held[r] = in.readLong();
      }
      return new Peers(peers, held);
    } catch (RingException e) {
      throw e; // already says what the server did
    } catch (SocketTimeoutException e) {
      throw new RingException(who + " sent no addresses within " + timeoutMillis
          + " ms: not every task of the round registered (train.ring.timeout-seconds)", e);
    } catch (EOFException e) {
      throw new RingException(who + " closed the connection before sending the addresses", e);
    } catch (IOException e) {
      throw new RingException(who + " failed after the handshake: " + RingListener.describe(e),
          e);
    }
  }

  private static String readString(DataInputStream in, int max) throws IOException {
    int n = in.readUnsignedShort();
    if (n > max) {
      throw new IOException("a string of " + n + " bytes (at most " + max + " expected)");
    }
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  private static void writeString(DataOutputStream out, String s) throws IOException {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    out.writeShort(b.length);
    out.write(b);
  }

  /** The driver side: one listening socket for the job, bound to the driver's own address. */
  public static final class Server implements AutoCloseable {
    private final ServerSocket socket;
    private final byte[] secret;
    private final Thread acceptor;
    private final PendingConnections pending =
        new PendingConnections(MAX_PENDING, "ring rendezvous");
    private final AtomicInteger rejected = new AtomicInteger();
    private Ring current; // guarded by this

    /** The ring being formed: who registered so far. */
    private static final class Ring {
      final long id;
      final int ranks;
      final Socket[] sockets;
      final String[] hosts;
      final int[] ports;
      final long[] kept;
      int registered;

      Ring(long id, int ranks) {
        this.id = id;
        this.ranks = ranks;
        this.sockets = new Socket[ranks];
        this.hosts = new String[ranks];
        this.ports = new int[ranks];
        this.kept = new long[ranks];
      }
    }

    private Server(ServerSocket socket, byte[] secret) {
      this.socket = socket;
      this.secret = secret.clone();
      this.acceptor = new Thread(this::acceptLoop, "ring-rendezvous");
      acceptor.setDaemon(true);
    }

    /**
     * Binds to {@code host} (never the wildcard address) on a free port and starts accepting.
     *
     * @throws IllegalArgumentException if {@code host} is the wildcard address
     */
    public static Server start(InetAddress host, byte[] secret) throws IOException {
      RingSecret.check(secret);
      return start(host, secret, new ServerSocket());
    }

    /** {@link #start(InetAddress, byte[])} on the unbound socket {@code s} (tests inject one). */
    static Server start(InetAddress host, byte[] secret, ServerSocket s) throws IOException {
      if (host.isAnyLocalAddress()) {
        s.close();
        throw new IllegalArgumentException("the ring rendezvous must bind to the driver's own "
            + "address, not to " + host.getHostAddress() + " (all interfaces)");
      }
      try {
        s.bind(new InetSocketAddress(host, 0), 64);
      } catch (IOException e) {
        s.close();
        throw new RingException("cannot bind the ring rendezvous to " + host.getHostAddress()
            + ": " + e.getMessage(), e);
      }
      Server server = new Server(s, secret);
      server.acceptor.start();
      return server;
    }

    /** Where tasks reach the server (its bound address). */
    public InetSocketAddress address() {
      return new InetSocketAddress(socket.getInetAddress(), socket.getLocalPort());
    }

    /**
     * Connections closed without registering: failed the handshake, sent a bad registration, or
     * cut off (evicted by newer ones, or still pending when their ring formed or was dropped).
     */
    public int rejectedConnections() {
      return rejected.get();
    }

    /**
     * Names the next ring to form: {@code ranks} tasks with ring id {@code ringId}. Connections
     * still waiting for an earlier ring, registered or in their handshake, are closed.
     */
    public synchronized void expect(long ringId, int ranks) {
      if (ranks < 1) {
        throw new IllegalArgumentException("a ring needs at least one rank, got " + ranks);
      }
      dropCurrent();
      current = new Ring(ringId, ranks);
    }

    /**
     * Closes the current ring's connections: the registered ones, and those still in their
     * handshake (checked against this ring, they can only fail now; a task of the next ring
     * retries).
     */
    private void dropCurrent() {
      if (current != null) {
        for (Socket s : current.sockets) {
          RingListener.closeQuietly(s);
        }
        current = null;
      }
      pending.closeAll();
    }

    private synchronized Ring current() {
      return current;
    }

    /** How many tasks registered for the ring being formed (tests wait on it). */
    synchronized int registered() {
      return current == null ? 0 : current.registered;
    }

    private void acceptLoop() {
      while (!socket.isClosed()) {
        Socket s;
        try {
          s = socket.accept();
        } catch (IOException e) {
          if (socket.isClosed()) {
            return;
          }
          // out of file descriptors, say: the socket still listens, so tasks would connect
          // and wait for a challenge that never comes if this thread ended; warn, accept again
          pending.acceptFailed(e);
          try {
            Thread.sleep(ACCEPT_RETRY_MILLIS);
          } catch (InterruptedException stop) {
            return;
          }
          continue;
        }
        if (!pending.add(s)) {
          return; // closed
        }
        Thread t = new Thread(() -> handle(s), "ring-rendezvous-client");
        t.setDaemon(true);
        t.start();
      }
    }

    private void handle(Socket s) {
      boolean keep = false;
      boolean[] taken = {false};
      try {
        s.setSoTimeout(HANDSHAKE_MILLIS);
        s.setTcpNoDelay(true);
        Ring ring = current();
        if (ring == null) {
          throw new Handshake.Rejected("no ring is being formed");
        }
        // once proved, the connection leaves the pending set before it is accepted: a task
        // that proved the secret is never closed by an eviction
        int rank = Handshake.server(s, secret, ring.id, RANK, -1, ring.ranks,
            () -> taken[0] = pending.remove(s), null).fromRank();
        DataInputStream in = new DataInputStream(s.getInputStream());
        int ranks = in.readInt();
        int port = in.readInt();
        String host = readString(in, MAX_HOST_BYTES);
        long kept = in.readLong();
        String why = ranks != ring.ranks
            ? "ring " + ring.id + " has " + ring.ranks + " ranks, the task says " + ranks
            : port < 1 || port > 65535 ? "port " + port + " is not a TCP port"
            : host.isEmpty() ? "an empty host" : null;
        if (why == null) {
          why = register(ring, rank, s, host, port, kept);
        }
        if (why != null) {
          rejected.incrementAndGet();
          RingListener.LOG.log(Level.WARNING, "ring rendezvous: refused rank {0} from {1}: {2}",
              rank, s.getRemoteSocketAddress(), why);
          DataOutputStream out = new DataOutputStream(s.getOutputStream());
          out.writeByte(REFUSED);
          writeString(out, why);
          out.flush();
          return;
        }
        keep = true; // answered (and closed) by register once every rank is in
      } catch (IOException e) {
        rejected.incrementAndGet();
        pending.failed(s, taken[0], e);
      } finally {
        if (!keep) {
          RingListener.closeQuietly(s);
        }
      }
    }

    /** Records a registration; answers every rank once all are in. Returns why not, or null. */
    private synchronized String register(Ring ring, int rank, Socket s, String host, int port,
        long kept) {
      if (current != ring) {
        return "ring " + ring.id + " is no longer being formed";
      }
      if (ring.sockets[rank] != null) {
        return "rank " + rank + " of ring " + ring.id + " has already registered";
      }
      ring.sockets[rank] = s;
      ring.hosts[rank] = host;
      ring.ports[rank] = port;
      ring.kept[rank] = kept;
      if (++ring.registered < ring.ranks) {
        return null;
      }
      for (int r = 0; r < ring.ranks; r++) {
        Socket peer = ring.sockets[r];
        try {
          DataOutputStream out = new DataOutputStream(peer.getOutputStream());
          out.writeByte(OK);
          out.writeInt(ring.ranks);
          for (int q = 0; q < ring.ranks; q++) {
            writeString(out, ring.hosts[q]);
            out.writeInt(ring.ports[q]);
            out.writeLong(ring.kept[q]);
          }
          out.flush();
        } catch (IOException e) {
          RingListener.LOG.log(Level.WARNING, "ring rendezvous: cannot answer rank {0} ({1}): "
              + "{2}", r, peer.getRemoteSocketAddress(), e.getMessage());
        }
      }
      dropCurrent();
      return null;
    }

    @Override
    public void close() {
      RingListener.closeQuietly(socket);
      pending.shut();
      synchronized (this) {
        dropCurrent();
      }
    }
  }
}
