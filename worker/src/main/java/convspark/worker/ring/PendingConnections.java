package convspark.worker.ring;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.Socket;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Accepted connections that have not proved the secret yet, oldest first, at most {@code
 * capacity}: a new connection beyond that closes the oldest, so idle connections cannot hold
 * every slot while a real client is turned away (the client retries, see {@link
 * Handshake#connect}). A connection leaves the set as soon as it has proved the secret (pass
 * {@link #remove} as the handshake's {@code mayAccept}), so an authenticated connection is never
 * evicted.
 */
final class PendingConnections {
  private final int capacity;
  private final String owner; // names the server in logs: "ring rank 3", "ring rendezvous"
  private final ArrayDeque<Socket> sockets = new ArrayDeque<>();
  private boolean shut;
  private final WarningBudget warnings = new WarningBudget(5, 60_000_000_000L);

  PendingConnections(int capacity, String owner) {
    this.capacity = capacity;
    this.owner = owner;
  }

  /**
   * Takes {@code s} in, closing the oldest pending connection if every slot is taken; false (and
   * {@code s} closed) once {@link #shut}.
   */
  boolean add(Socket s) {
    Socket evicted = null;
    synchronized (this) {
      if (shut) {
        RingListener.closeQuietly(s);
        return false;
      }
      if (sockets.size() >= capacity) {
        evicted = sockets.pollFirst();
      }
      sockets.addLast(s);
    }
    if (evicted != null) {
      warn("{0}: closed the oldest pending connection, from {1}: too many pending handshakes",
          evicted.getRemoteSocketAddress(), null);
      RingListener.closeQuietly(evicted);
    }
    return true;
  }

  /** Takes {@code s} out; false if it was closed meanwhile (evicted, or no longer awaited). */
  synchronized boolean remove(Socket s) {
    return sockets.remove(s);
  }

  /** Closes every pending connection; later ones are taken in as usual. */
  void closeAll() {
    close(false);
  }

  /** Closes every pending connection; later ones are closed as they come. */
  void shut() {
    close(true);
  }

  private void close(boolean forGood) {
    List<Socket> left;
    synchronized (this) {
      shut |= forGood;
      left = new ArrayList<>(sockets);
      sockets.clear();
    }
    for (Socket s : left) {
      RingListener.closeQuietly(s);
    }
  }

  /**
   * Logs why the handshake (or what follows it) on {@code s} failed, and takes {@code s} out:
   * a warning if it failed on its own ({@code taken}: it had already left the set, having proved
   * the secret; or it is still in the set), a debug line if this set closed it (evicted, or no
   * longer awaited). The caller closes {@code s}.
   */
  void failed(Socket s, boolean taken, IOException e) {
    if (taken || remove(s)) {
      warn("{0}: rejected a connection from {1}: {2}", s.getRemoteSocketAddress(),
          RingListener.describe(e));
    } else {
      RingListener.LOG.log(Level.DEBUG, "{0}: closed a connection from {1} during its handshake "
          + "(evicted, or no longer awaited)", owner, s.getRemoteSocketAddress());
    }
  }

  /**
   * An accept that failed on a socket still open (out of file descriptors, say), warned within
   * the same budget: the caller accepts again.
   */
  void acceptFailed(IOException e) {
    warn("{0}: accepting a connection failed{1}: {2}; accepting again", "",
        RingListener.describe(e));
  }

  /**
   * A warning about a connection, within {@link #warnings}' budget: whoever can reach the port
   * can open connections without end, and must not flood the log with a line for each. Beyond
   * the budget the lines are counted, and the next line let through says how many were not.
   */
  private void warn(String format, Object from, Object why) {
    long skipped = warnings.take(System.nanoTime());
    if (skipped < 0) {
      RingListener.LOG.log(Level.DEBUG, format, owner, from, why);
      return;
    }
    RingListener.LOG.log(Level.WARNING, format + (skipped > 0 ? " ({3} more such warnings "
        + "since the last one logged were not logged)" : ""), owner, from, why, skipped);
  }

  /** At most {@code perWindow} warnings in each window of {@code windowNanos}. */
  static final class WarningBudget {
    private final int perWindow;
    private final long windowNanos;
    private long windowStart;
    private int used;
    private long skipped;
    private boolean started;

    WarningBudget(int perWindow, long windowNanos) {
      this.perWindow = perWindow;
      this.windowNanos = windowNanos;
    }

    /**
     * Takes one warning at time {@code now}: -1 when it is over the budget (counted), otherwise
     * how many were held back since the last one let through.
     */
    synchronized long take(long now) {
      if (!started || now - windowStart >= windowNanos) {
        started = true;
        windowStart = now;
        used = 0;
      }
      if (used >= perWindow) {
        skipped++;
        return -1;
      }
      used++;
      long s = skipped;
      skipped = 0;
      return s;
    }
  }
}
