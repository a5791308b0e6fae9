package convspark.worker.ring;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Mutual authentication of two ring peers with the job secret (HMAC-SHA256 challenge-response,
 * fresh random nonces from both sides, constant-time comparison), run on every connection before
 * any data byte is read from it.
 *
 * <pre>
 * client -> server  HELLO  = "RING" | version | ringId | fromRank | toRank | nonceC (32 B)
 *                   (version 1: the data that follows travels in the clear; 2: sealed)
 * server -> client  nonceS (32 B) | HMAC(secret, "server" | HELLO fields | nonceS)
 * client -> server  HMAC(secret, "client" | HELLO fields | nonceS)
 * server -> client  ACCEPT (1 byte)
 * </pre>
 *
 * The server proves the secret first (so a client never sends its proof to an impostor), the two
 * proofs carry different labels (no reflection), and both cover both nonces, the ring id and the
 * two ranks (no replay across connections, rings or positions). A peer that fails any check gets
 * no answer: the connection is closed.
 *
 * <p>Both ends also derive the connection's data key, HMAC(secret, "data" label | HELLO fields |
 * nonceS), of which a sealed link ({@link ChunkCipher}) uses the first 16 bytes: fresh for every
 * connection (both nonces), known only to holders of the secret, and never sent. Whether the
 * data is sealed is the hello's version, under both proofs: a server that seals refuses a client
 * that does not, and the other way round, so the two ends can never read each other's data
 * differently (train.ring.encryption is the same on every task of a job anyway).
 */
final class Handshake {
  static final int MAGIC = 0x52494E47; // "RING"
  /** Hello version: the data after the handshake travels in the clear. */
  static final byte VERSION = 1;
  /** Hello version: the data after the handshake is sealed ({@link ChunkCipher}). */
  static final byte VERSION_SEALED = 2;
  static final byte ACCEPT = 0x5A;
  static final int HELLO_BYTES = 4 + 1 + 8 + 4 + 4 + RingSecret.BYTES;
  private static final byte[] SERVER_LABEL = "convspark-ring server".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] CLIENT_LABEL = "convspark-ring client".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DATA_LABEL = "convspark-ring data".getBytes(StandardCharsets.US_ASCII);

  private Handshake() {}

  /** Why a handshake failed: the message says what was wrong, never a secret. */
  static class Rejected extends IOException {
    private static final long serialVersionUID = 1L;

    Rejected(String message) {
      super(message);
    }
  }

  /**
   * The server answered, wrongly: it failed to prove the secret or sent something other than
   * {@link #ACCEPT}. Connecting again cannot help. (A server that closed the connection or said
   * nothing may have shed it under load: a plain {@link Rejected}, which a client may retry.)
   */
  static final class WrongAnswer extends Rejected {
    private static final long serialVersionUID = 1L;

    WrongAnswer(String message) {
      super(message);
    }
  }

  /** Client side of a link whose data travels in the clear; see {@link #client(Socket, byte[],
   * long, int, int, boolean)}. */
  static void client(Socket s, byte[] secret, long ringId, int fromRank, int toRank)
      throws IOException {
    client(s, secret, ringId, fromRank, toRank, false);
  }

  /**
   * Client side: proves the secret to the server at the other end of {@code s} and checks its
   * proof. Reads time out after the socket's SO_TIMEOUT.
   *
   * @param sealed whether the data this connection carries will be sealed (the hello says so)
   * @return the connection's data key
   */
  static byte[] client(Socket s, byte[] secret, long ringId, int fromRank, int toRank,
      boolean sealed) throws IOException {
    RingSecret.check(secret);
    byte[] hello = hello(sealed ? VERSION_SEALED : VERSION, ringId, fromRank, toRank,
        RingSecret.random(RingSecret.BYTES));
    OutputStream out = s.getOutputStream();
    out.write(hello);
    out.flush();
    DataInputStream in = new DataInputStream(s.getInputStream());
    byte[] reply = new byte[2 * RingSecret.BYTES];
    readFully(in, reply, "the server's challenge");
    byte[] nonceS = java.util.Arrays.copyOfRange(reply, 0, RingSecret.BYTES);
    byte[] macS = java.util.Arrays.copyOfRange(reply, RingSecret.BYTES, reply.length);
    if (!MessageDigest.isEqual(macS, RingSecret.hmac(secret, SERVER_LABEL, hello, nonceS))) {
      throw new WrongAnswer("the server failed to prove the ring secret");
    }
    out.write(RingSecret.hmac(secret, CLIENT_LABEL, hello, nonceS));
    out.flush();
    int ack = in.read();
    if (ack < 0) {
      throw new Rejected("the server closed the connection instead of accepting");
    }
    if (ack != ACCEPT) {
      throw new WrongAnswer("the server answered " + ack + " instead of accepting");
    }
    return RingSecret.hmac(secret, DATA_LABEL, hello, nonceS);
  }

  /**
   * Client side over a new connection: connects to {@code to} and completes {@link #client},
   * retrying until {@code deadline} while the server closes or ignores the connection without
   * answering (a server busy with other connections may shed this one). Retries after a
   * handshake back off from 50 ms up to a second. A server that answers wrongly ({@link
   * WrongAnswer}: it fails to prove the secret) fails at once, and so does a connection that is
   * refused: every caller learns the server's address only once it listens (a
   * ring peer binds its listener before its address is handed round; the rendezvous listens
   * before any task starts), so a refusal means that it has stopped listening for good (its task
   * ended, its process died), and waiting for the deadline would only hold up the round's rerun.
   *
   * @param me names the caller in errors ("ring rank 2")
   * @param who names the server in errors ("rank 3 (host:port)")
   * @param timeoutMillis what {@code deadline} was set from, for the error after it
   * @param refusedMeans what a refused connection says about the server, appended to the error
   *     in parentheses, or null
   * @param sealed whether the data this connection carries will be sealed
   * @return the socket (a channel's), SO_TIMEOUT still at what was left of the deadline, and
   *     its data key
   * @throws RingException naming both, and after the deadline what happened last
   */
  static Authenticated connect(InetSocketAddress to, String me, String who, byte[] secret,
      long ringId, int fromRank, int toRank, long deadline, long timeoutMillis,
      String refusedMeans, boolean sealed) throws RingException {
    IOException last = null;
    long pause = 50; // after failed handshakes, doubling up to a second: no flood of retries
    while (true) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) {
        throw new RingException(me + ": cannot connect to " + who
            + " and complete the handshake within " + timeoutMillis + " ms"
            + (last == null ? "" : ": " + RingListener.describe(last)), last);
      }
      if (Thread.currentThread().isInterrupted()) {
        throw new RingException(me + ": interrupted while connecting to " + who);
      }
      Socket s;
      try {
        s = SocketChannel.open().socket(); // a channel: Ring reads and writes it
      } catch (IOException e) {
        throw new RingException(me + ": cannot open a socket: " + RingListener.describe(e), e);
      }
      try {
        s.connect(to, (int) Math.min(Integer.MAX_VALUE, left));
        s.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left)));
        byte[] key = client(s, secret, ringId, fromRank, toRank, sealed);
        return new Authenticated(s, key, sealed);
      } catch (WrongAnswer e) {
        RingListener.closeQuietly(s);
        throw new RingException(me + ": handshake with " + who + " failed: " + e.getMessage(), e);
      } catch (UnknownHostException e) {
        RingListener.closeQuietly(s);
        throw new RingException(me + ": cannot connect to " + who + ": unknown host", e);
      } catch (IOException e) {
        // slow, or it shed this connection (closed, reset): retry
        boolean connected = s.isConnected();
        RingListener.closeQuietly(s);
        if (e instanceof ClosedByInterruptException || Thread.currentThread().isInterrupted()) {
          throw new RingException(me + ": interrupted while connecting to " + who, e);
        }
        if (!connected && e instanceof ConnectException) {
          // refused: fail now (an unreachable network may come back: retried)
          throw new RingException(me + ": cannot connect to " + who + ": "
              + RingListener.describe(e)
              + (refusedMeans != null && e instanceof ConnectException
                  ? " (" + refusedMeans + ")" : ""), e);
        }
        RingListener.LOG.log(Level.DEBUG, "{0}: connecting to {1} failed, retrying: {2}", me,
            who, RingListener.describe(e));
        last = e;
        if (connected) {
          sleep(Math.max(1, Math.min(pause,
              TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
          pause = Math.min(1000, 2 * pause);
        } else {
          sleep(50);
        }
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

  /**
   * A connection both ends have authenticated: the socket, its data key, and whether its data
   * is sealed with it.
   */
  record Authenticated(Socket socket, byte[] dataKey, boolean sealed) {}

  /** What the server learnt from a client that proved the secret, and the data key. */
  record Peer(int fromRank, byte[] dataKey, boolean sealed) {}

  /**
   * Server side: checks the client's hello (magic, version, ring id, addressed to {@code
   * myRank}, from {@code expectedFrom}), proves the secret, checks the client's proof, accepts.
   */
  static Peer server(Socket s, byte[] secret, long ringId, int myRank, int expectedFrom)
      throws IOException {
    return server(s, secret, ringId, myRank, expectedFrom, Integer.MAX_VALUE, () -> true, false);
  }

  /**
   * Server side, as {@link #server(Socket, byte[], long, int, int)}; {@code expectedFrom < 0}
   * accepts any client rank below {@code ranks} (the rendezvous, which every rank calls);
   * {@code mayAccept} is asked once the client has proved the secret, just before {@link
   * #ACCEPT} is sent: false (the caller has closed or given up the connection meanwhile) fails
   * the handshake instead.
   *
   * @param sealed whether the client must seal its data (true), send it in the clear (false),
   *     or either (null: the rendezvous, whose own answers are addresses)
   */
  static Peer server(Socket s, byte[] secret, long ringId, int myRank, int expectedFrom,
      int ranks, BooleanSupplier mayAccept, Boolean sealed) throws IOException {
    RingSecret.check(secret);
    DataInputStream in = new DataInputStream(s.getInputStream());
    byte[] hello = new byte[HELLO_BYTES];
    readFully(in, hello, "the client's hello");
    ByteBuffer h = ByteBuffer.wrap(hello);
    int magic = h.getInt();
    byte version = h.get();
    long id = h.getLong();
    int from = h.getInt();
    int to = h.getInt();
    if (magic != MAGIC || (version != VERSION && version != VERSION_SEALED)) {
      throw new Rejected("not a ring hello (bad magic or version)");
    }
    boolean theySeal = version == VERSION_SEALED;
    if (sealed != null && sealed != theySeal) {
      throw new Rejected("the peer " + (theySeal ? "seals" : "does not seal") + " its data and "
          + "this end " + (sealed ? "does" : "does not") + " (train.ring.encryption differs)");
    }
    if (id != ringId) {
      throw new Rejected("hello for another ring (ring id " + id + ", expected " + ringId + ")");
    }
    boolean fromOk = expectedFrom >= 0 ? from == expectedFrom : from >= 0 && from < ranks;
    if (to != myRank || !fromOk) {
      throw new Rejected("hello from rank " + from + " to rank " + to + ", expected from rank "
          + (expectedFrom >= 0 ? String.valueOf(expectedFrom) : "0.." + (ranks - 1))
          + " to rank " + myRank);
    }
    byte[] nonceS = RingSecret.random(RingSecret.BYTES);
    OutputStream out = s.getOutputStream();
    out.write(nonceS);
    out.write(RingSecret.hmac(secret, SERVER_LABEL, hello, nonceS));
    out.flush();
    byte[] macC = new byte[RingSecret.BYTES];
    readFully(in, macC, "the client's proof");
    if (!MessageDigest.isEqual(macC, RingSecret.hmac(secret, CLIENT_LABEL, hello, nonceS))) {
      throw new Rejected("the client failed to prove the ring secret");
    }
    if (!mayAccept.getAsBoolean()) {
      throw new Rejected("the connection was closed during the handshake");
    }
    out.write(ACCEPT);
    out.flush();
    return new Peer(from, RingSecret.hmac(secret, DATA_LABEL, hello, nonceS), theySeal);
  }

  static byte[] hello(long ringId, int fromRank, int toRank, byte[] nonce) {
    return hello(VERSION, ringId, fromRank, toRank, nonce);
  }

  static byte[] hello(byte version, long ringId, int fromRank, int toRank, byte[] nonce) {
    return ByteBuffer.allocate(HELLO_BYTES).putInt(MAGIC).put(version).putLong(ringId)
        .putInt(fromRank).putInt(toRank).put(nonce).array();
  }

  private static void readFully(InputStream in, byte[] b, String what) throws IOException {
    int n = 0;
    try {
      while (n < b.length) {
        int r = in.read(b, n, b.length - n);
        if (r < 0) {
          throw new EOFException();
        }
        n += r;
      }
    } catch (EOFException e) {
      throw new Rejected("connection closed after " + n + " of " + b.length + " bytes of " + what);
    } catch (SocketTimeoutException e) {
      throw new Rejected("timed out after " + n + " of " + b.length + " bytes of " + what);
    }
  }
}
