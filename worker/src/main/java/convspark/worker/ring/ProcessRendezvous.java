package convspark.worker.ring;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Rings of separate processes on one machine without Spark (tests, {@code scripts/bench-scale.sh},
 * the allreduce benchmark): a parent starts the peers and relays addresses over their stdin and
 * stdout, the role the driver's {@link RingRendezvous} plays inside Spark. The secret travels on
 * stdin, never on a command line.
 *
 * <p>Lines: parent to child {@code RING-SECRET <hex>}, child to parent {@code RING-ADDRESS
 * host:port}, parent to child {@code RING-PEERS host:port,host:port,...}; other lines are the
 * program's own. Every wait of the parent and of a child has a deadline; {@link #close} kills
 * what is left.
 */
public final class ProcessRendezvous implements AutoCloseable {
  public static final String SECRET = "RING-SECRET ";
  public static final String ADDRESS = "RING-ADDRESS ";
  public static final String PEERS = "RING-PEERS ";

  private final List<Process> processes = new ArrayList<>();
  private final List<Writer> stdins = new ArrayList<>();
  private final List<LinkedBlockingQueue<String>> lines = new ArrayList<>();
  private final long timeoutMillis;

  private ProcessRendezvous(long timeoutMillis) {
    this.timeoutMillis = timeoutMillis;
  }

  /**
   * Starts one process per command (stderr goes to this process's stderr) and sends each the
   * secret. Waits of {@link #expect} give up after {@code timeoutMillis}.
   */
  public static ProcessRendezvous start(List<List<String>> commands, byte[] secret,
      long timeoutMillis) throws IOException {
    ProcessRendezvous r = new ProcessRendezvous(timeoutMillis);
    try {
      for (List<String> cmd : commands) {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        r.processes.add(p);
        LinkedBlockingQueue<String> q = new LinkedBlockingQueue<>();
        r.lines.add(q);
        Thread t = new Thread(() -> {
          try (BufferedReader in = new BufferedReader(
              new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = in.readLine()) != null; ) {
              q.add(l);
            }
          } catch (IOException ignored) {
            // the process ended
          }
          q.add("\u0000EOF");
        }, "rendezvous-out-" + r.processes.size());
        t.setDaemon(true);
        t.start();
        Writer w = new java.io.OutputStreamWriter(p.getOutputStream(), StandardCharsets.UTF_8);
        r.stdins.add(w);
        w.write(SECRET + RingSecret.toHex(secret) + "\n");
        w.flush();
      }
      return r;
    } catch (IOException | RuntimeException e) {
      r.close();
      throw e;
    }
  }

  /** The command that runs {@code mainClass} in a JVM like this one (same java, classpath). */
  public static List<String> javaCommand(String mainClass, List<String> jvmArgs,
      List<String> args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse(
        System.getProperty("java.home") + "/bin/java"));
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(mainClass);
    cmd.addAll(args);
    return cmd;
  }

  public int size() {
    return processes.size();
  }

  /**
   * The next line of child {@code i} that starts with {@code prefix}, without the prefix; lines
   * before it that do not are skipped.
   *
   * @throws IOException if the child ends or stays silent past the timeout
   */
  public String expect(int i, String prefix) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    while (true) {
      String l;
      try {
        l = lines.get(i).poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted waiting for process " + i);
      }
      if (l == null) {
        throw new IOException("process " + i + " printed no '" + prefix.trim() + "' line within "
            + timeoutMillis + " ms");
      }
      if (l.equals("\u0000EOF")) {
        lines.get(i).add(l);
        throw new IOException("process " + i + " ended before printing '" + prefix.trim()
            + "' (exit code " + exitCode(i) + ")");
      }
      if (l.startsWith(prefix)) {
        return l.substring(prefix.length());
      }
    }
  }

  private String exitCode(int i) {
    try {
      return processes.get(i).waitFor(2, TimeUnit.SECONDS)
          ? String.valueOf(processes.get(i).exitValue()) : "still running";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

  /** Sends a line to child {@code i}. */
  public void send(int i, String line) throws IOException {
    Writer w = stdins.get(i);
    w.write(line + "\n");
    w.flush();
  }

  /**
   * Relays addresses for a ring formed by children {@code 0 .. p-1}: collects their {@code
   * RING-ADDRESS} lines and sends every one of them the list.
   */
  public void relayAddresses(int p) throws IOException {
    List<String> addresses = new ArrayList<>();
    for (int i = 0; i < p; i++) {
      addresses.add(expect(i, ADDRESS).trim());
    }
    String peers = PEERS + String.join(",", addresses);
    for (int i = 0; i < p; i++) {
      send(i, peers);
    }
  }

  /** Waits for every child to exit (within the timeout) and returns their exit codes. */
  public int[] waitForAll() throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    int[] codes = new int[processes.size()];
    for (int i = 0; i < codes.length; i++) {
      try {
        if (!processes.get(i).waitFor(Math.max(0, deadline - System.nanoTime()),
            TimeUnit.NANOSECONDS)) {
          throw new IOException("process " + i + " did not exit within " + timeoutMillis + " ms");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted waiting for process " + i);
      }
      codes[i] = processes.get(i).exitValue();
    }
    return codes;
  }

  /** Kills every child still running. */
  @Override
  public void close() {
    for (Process p : processes) {
      p.destroyForcibly();
    }
  }

  // ---- child side ----------------------------------------------------------------------------

  /** How long a child waits for each line from its parent (ten minutes), unless told otherwise. */
  public static final long CHILD_TIMEOUT_MILLIS = 600_000;

  /**
   * Child side: reads the secret line from stdin, waiting at most {@link #CHILD_TIMEOUT_MILLIS}.
   */
  public static byte[] readSecret(BufferedReader stdin) throws IOException {
    return readSecret(stdin, CHILD_TIMEOUT_MILLIS);
  }

  /**
   * Child side: reads the secret line from stdin.
   *
   * @throws IOException if it does not come within {@code timeoutMillis}, or stdin ends first
   */
  public static byte[] readSecret(BufferedReader stdin, long timeoutMillis) throws IOException {
    String l = readLine(stdin, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis),
        timeoutMillis, SECRET);
    if (l == null || !l.startsWith(SECRET)) {
      throw new IOException("expected a " + SECRET.trim() + " line on stdin");
    }
    return RingSecret.fromHex(l.substring(SECRET.length()));
  }

  /**
   * Child side: announces {@code listener}'s address and reads every peer's, waiting at most
   * {@link #CHILD_TIMEOUT_MILLIS}.
   */
  public static List<InetSocketAddress> exchange(RingListener listener, BufferedReader stdin,
      PrintStream stdout) throws IOException {
    return exchange(listener, stdin, stdout, CHILD_TIMEOUT_MILLIS);
  }

  /**
   * Child side: announces {@code listener}'s address and reads every peer's.
   *
   * @throws IOException if the parent sends no {@code RING-PEERS} line within {@code
   *     timeoutMillis}, or stdin ends first
   */
  public static List<InetSocketAddress> exchange(RingListener listener, BufferedReader stdin,
      PrintStream stdout, long timeoutMillis) throws IOException {
    InetSocketAddress a = listener.address();
    stdout.println(ADDRESS + a.getAddress().getHostAddress() + ":" + a.getPort());
    stdout.flush();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    String l;
    do {
      l = readLine(stdin, deadline, timeoutMillis, PEERS);
      if (l == null) {
        throw new IOException("stdin closed before the " + PEERS.trim() + " line");
      }
    } while (!l.startsWith(PEERS));
    List<InetSocketAddress> peers = new ArrayList<>();
    for (String hp : l.substring(PEERS.length()).trim().split(",")) {
      int c = hp.lastIndexOf(':');
      peers.add(new InetSocketAddress(hp.substring(0, c), Integer.parseInt(hp.substring(c + 1))));
    }
    return peers;
  }

  /** Lines of a child's stdin, read by one daemon thread per reader; END after the last. */
  private static final Map<BufferedReader, LinkedBlockingQueue<Object>> STDIN = new HashMap<>();
  private static final Object END = new Object();

  /**
   * The next line of {@code in}, or null at its end, waiting until {@code deadline} (nanoTime;
   * {@code timeoutMillis} is the whole wait, for the message). A {@link BufferedReader} cannot
   * time out, so one daemon thread per reader reads it into a queue: a reader given to these
   * methods must be read through them only (a child has one, its stdin).
   */
  private static String readLine(BufferedReader in, long deadline, long timeoutMillis,
      String awaited) throws IOException {
    LinkedBlockingQueue<Object> q;
    synchronized (STDIN) {
      q = STDIN.computeIfAbsent(in, ProcessRendezvous::pump);
    }
    Object o;
    try {
      o = q.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for the " + awaited.trim() + " line on stdin");
    }
    if (o == null) {
      throw timedOut(awaited, timeoutMillis);
    }
    if (o == END || o instanceof IOException) {
      q.add(o); // stays at the end for the next call
    }
    if (o instanceof IOException e) {
      throw new IOException("reading stdin failed: " + e.getMessage(), e);
    }
    return o == END ? null : (String) o;
  }

  private static IOException timedOut(String awaited, long timeoutMillis) {
    return new IOException("no " + awaited.trim() + " line on stdin within " + timeoutMillis
        + " ms (the parent did not send it)");
  }

  private static LinkedBlockingQueue<Object> pump(BufferedReader in) {
    LinkedBlockingQueue<Object> q = new LinkedBlockingQueue<>();
    Thread t = new Thread(() -> {
      try {
        for (String l; (l = in.readLine()) != null; ) {
          q.add(l);
        }
        q.add(END);
      } catch (IOException e) {
        q.add(e);
      }
    }, "ring-child-stdin");
    t.setDaemon(true);
    t.start();
    return q;
  }
}
