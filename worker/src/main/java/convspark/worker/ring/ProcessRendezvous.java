package convspark.worker.ring;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
 * program's own. Every wait of the parent has a deadline; {@link #close} kills what is left.
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

  /** Child side: reads the secret line from stdin. */
  public static byte[] readSecret(BufferedReader stdin) throws IOException {
    String l = stdin.readLine();
    if (l == null || !l.startsWith(SECRET)) {
      throw new IOException("expected a " + SECRET.trim() + " line on stdin");
    }
    return RingSecret.fromHex(l.substring(SECRET.length()));
  }

  /** Child side: announces {@code listener}'s address and reads every peer's. */
  public static List<InetSocketAddress> exchange(RingListener listener, BufferedReader stdin,
      PrintStream stdout) throws IOException {
    InetSocketAddress a = listener.address();
    stdout.println(ADDRESS + a.getAddress().getHostAddress() + ":" + a.getPort());
    stdout.flush();
    String l;
    do {
      l = stdin.readLine();
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
}
