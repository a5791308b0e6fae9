package convspark.driver.engine;

import convspark.driver.exec.TaskOutOfMemoryException;
import convspark.worker.ModelState;
import convspark.worker.SampleBlock;
import convspark.worker.ring.Allreduce;
import convspark.worker.ring.KeptRings;
import convspark.worker.ring.KeptStates;
import convspark.worker.ring.LocalRing;
import convspark.worker.ring.ReplicaRound;
import convspark.worker.ring.Ring;
import convspark.worker.ring.RingException;
import convspark.worker.ring.RingListener;
import convspark.worker.ring.RingOptions;
import convspark.worker.ring.RingRendezvous;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.broadcast.Broadcast;
import scala.collection.Iterator;
import scala.runtime.AbstractFunction1;

/**
 * The ring engine's barrier task, the Spark edge of {@link ReplicaRound}: binds a ring listener
 * to this executor's own address, exchanges {@code host:port} with the other tasks through the
 * driver's {@link RingRendezvous} (addresses only, never data; not {@code
 * BarrierTaskContext.allGather}, which costs a second per call in Spark 3.5), joins the ring with
 * the job secret, runs the round with {@code spark.task.cpus} threads, and (rank 0 only) returns the
 * result. A watchdog ends the task when Spark kills it ({@link KillSwitch}: while the ring forms
 * as after), so a failed stage releases its peers and its slot at once rather than after the
 * timeout.
 */
final class RingTask extends AbstractFunction1<Iterator<SampleBlock>, Iterator<ReplicaRound.Output>>
    implements Serializable {
  private static final long serialVersionUID = 1L;
  private final ReplicaRound.Spec spec;
  private final Broadcast<ModelState> state;
  private final byte[] secret;
  private final long ringId;
  private final int timeoutMillis;
  /** The driver's rendezvous; null for a ring in one JVM. */
  private final InetSocketAddress rendezvous;
  /** Whether tasks on one host carry their data through shared memory. */
  private final boolean sharedMemory;
  /** Whether the TCP links seal their chunks. */
  private final boolean encrypt;
  /** train.ring.spin-micros: how long a waiting replica spins, where its host has the CPUs. */
  private final int spinMicros;
  /** Which kept state the replicas may start from; null: none kept (train.ring.keep-state). */
  private final Kept kept;
  /**
   * Whether the replicas keep their TCP links between rounds (train.ring.keep-links), under
   * {@link #kept}'s job id; only with a rendezvous and {@link #kept}.
   */
  private final boolean keepLinks;

  /**
   * The state a round's replicas may start from instead of the broadcast: one that job
   * {@code job}'s ring {@code round} ended with, whose fingerprint is {@code fingerprint} (the
   * driver's start state's). {@code round} is -1 where the driver starts from another state
   * (the first round, a resumed run): the broadcast then, and the end state is kept all the same.
   */
  record Kept(long job, long round, long fingerprint) implements Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * @param rendezvous where the driver's {@link RingRendezvous} listens, or null for a ring in
   *     one JVM ({@link LocalRing}: every task runs in the driver's JVM, Spark's local mode)
   * @param sharedMemory whether two tasks on one host carry the ring's data through shared
   *     memory rather than loopback TCP (train.ring.transport = auto)
   * @param encrypt whether the TCP links seal their chunks (train.ring.encryption)
   * @param spinMicros how long a replica that waits for its peers spins before it sleeps, where
   *     this host's ring tasks times their CPUs do not outnumber its CPUs
   *     (train.ring.spin-micros)
   * @param kept which kept state the replicas may start from, and under which job they keep
   *     theirs; null to keep none and always read the broadcast
   * @param keepLinks whether the replicas leave their links open for the next round and use
   *     those of the last one where they can (train.ring.keep-links); needs a rendezvous and
   *     {@code kept} (its job id)
   */
  RingTask(ReplicaRound.Spec spec, Broadcast<ModelState> state, byte[] secret, long ringId,
      int timeoutMillis, InetSocketAddress rendezvous, boolean sharedMemory, boolean encrypt,
      int spinMicros, Kept kept, boolean keepLinks) {
    this.kept = kept;
    this.keepLinks = keepLinks && kept != null && rendezvous != null;
    this.encrypt = encrypt;
    this.spinMicros = spinMicros;
    this.spec = spec;
    this.sharedMemory = sharedMemory;
    this.rendezvous = rendezvous;
    this.state = state;
    this.secret = secret;
    this.ringId = ringId;
    this.timeoutMillis = timeoutMillis;
  }

  @SuppressWarnings("unchecked")
  private static Iterator<ReplicaRound.Output> none() {
    return (Iterator<ReplicaRound.Output>) (Iterator<?>) scala.collection.Iterator$.MODULE$.empty();
  }

  @Override
  public Iterator<ReplicaRound.Output> apply(Iterator<SampleBlock> it) {
    // an OutOfMemoryError would make Spark end the JVM (the driver's, in local mode), also one
    // of a replica thread's, which ReplicaRound passes on as the cause of its exception
    return TaskOutOfMemoryException.guard(() -> "a ring training round, rank "
        + BarrierTaskContext.get().partitionId(), () -> "a smaller train.global-batch ("
        + spec.plan().localBatch() + " samples per worker now)", () -> run(it));
  }

  private Iterator<ReplicaRound.Output> run(Iterator<SampleBlock> it) {
    long t0 = System.nanoTime();
    BarrierTaskContext ctx = BarrierTaskContext.get();
    int rank = ctx.partitionId();
    // From the start, not only once the ring has formed: a task whose peer fails before it
    // registers or listens would otherwise wait in the rendezvous or the join for the whole
    // timeout, holding its slot (Spark marks a killed barrier task but does not interrupt it),
    // and the round's rerun could not start before.
    KillSwitch kill = new KillSwitch(Thread.currentThread());
    Thread watchdog = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        if (ctx.isInterrupted()) {
          kill.killed(ctx.getKillReason().getOrElse(() -> "no reason given"));
          return;
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "ring-watchdog-" + rank);
    watchdog.setDaemon(true);
    watchdog.start();
    try {
      SampleBlock block = it.hasNext() ? it.next() : null;
      if (block == null) {
        int size = spec.net().inputShape().size();
        block = new SampleBlock(0, size, new float[0], new int[0]);
      }
      long t1 = System.nanoTime();
      Allreduce formed;
      try {
        // a kill whose interrupt the block's computation swallowed ends the task here
        kill.check(rank);
        formed = connect(ctx, rank);
      } catch (IOException | RuntimeException e) {
        throw kill.explain(rank, e);
      }
      Allreduce ring = formed;
      boolean keptRing = false;
      try {
        kill.formed(ring, rank);
        long t2 = System.nanoTime();
        KeptStates.Taken taken = kept == null
            ? new KeptStates.Taken(null, "train.ring.keep-state = false")
            : kept.round() < 0
            ? new KeptStates.Taken(null, "the driver starts this round from a state no ring "
                + "of this run ended with")
            : KeptStates.IN_THIS_JVM.take(kept.job(), kept.round(), kept.fingerprint());
        ModelState start = taken.state() != null ? taken.state() : state.value().copy();
        long t3 = System.nanoTime();
        ReplicaRound.Output out = ReplicaRound.run(spec, start, block, rank, ring, ctx.cpus());
        long t4 = System.nanoTime();
        if (kept != null) {
          // the same bits on every replica: the next round may start from this one
          KeptStates.IN_THIS_JVM.keep(kept.job(), ringId, out.state());
        }
        if (keepLinks && ring instanceof Ring tcp) {
          // every operation of the round completed on every rank: the links are idle and in
          // step, and the next round may go on with them (a kill from now on still closes them)
          KeptRings.IN_THIS_JVM.keep(kept.job(), ringId, tcp);
          keptRing = true;
        }
        if (rendezvous != null) {
          // where a round's time outside its steps goes, in the executor's log
          System.err.printf("convspark: ring %d rank %d: block %.0f ms, ring formed in %.0f ms, "
              + "start state %.0f ms (%s), steps %.2f s, state kept in %.0f ms%n", ringId, rank,
              (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, taken.state() != null
                  ? "kept from ring " + kept.round()
                  : "the driver's broadcast: " + taken.why(),
              (t4 - t3) / 1e9, (System.nanoTime() - t4) / 1e6);
        }
        return rank == 0 ? scala.collection.Iterator$.MODULE$.single(out) : none();
      } finally {
        if (!keptRing) {
          ring.close();
        }
      }
    } catch (RingException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("ring rank " + rank + ": " + e.getMessage(), e);
    } finally {
      watchdog.interrupt();
      kill.done();
    }
  }

  /**
   * What the watchdog does when Spark kills the task: before the ring has formed, interrupts
   * the task's thread (the rendezvous and the join end at once: their waits are interruptible
   * channels, sleeps and futures); after, closes the ring (every operation on it fails at once,
   * and so do the neighbours', and the compute threads are left alone).
   */
  static final class KillSwitch {
    private final Thread task;
    private Allreduce ring;
    private String reason;
    private boolean done;
    private boolean interrupted;

    KillSwitch(Thread task) {
      this.task = task;
    }

    /** Spark killed the task. */
    synchronized void killed(String why) {
      if (reason != null || done) {
        return;
      }
      reason = why;
      if (ring != null) {
        ring.close();
      } else {
        interrupted = true;
        task.interrupt();
      }
    }

    /**
     * The ring has formed: from now on a kill closes it. A kill that came while it formed
     * closes it now and fails the task.
     */
    synchronized void formed(Allreduce r, int rank) throws RingException {
      ring = r;
      if (reason != null) {
        r.close();
        throw killedWhileForming(rank, null);
      }
    }

    /** Throws if Spark has killed the task. */
    synchronized void check(int rank) throws RingException {
      if (reason != null) {
        throw killedWhileForming(rank, null);
      }
    }

    /** A failure to form the ring, or the kill that caused it. */
    synchronized RuntimeException explain(int rank, Exception e) {
      if (reason != null) {
        RingException k = killedWhileForming(rank, e);
        return new UncheckedIOException(k.getMessage(), k);
      }
      if (e instanceof RingException re) {
        return new UncheckedIOException(re.getMessage(), re);
      }
      if (e instanceof IOException io) {
        return new UncheckedIOException("ring rank " + rank + ": " + io.getMessage(), io);
      }
      return (RuntimeException) e;
    }

    private RingException killedWhileForming(int rank, Exception cause) {
      RingException k = new RingException("ring rank " + rank + ": Spark killed the task while "
          + "it formed the ring (" + reason + ")");
      if (cause != null) {
        k.initCause(cause);
      }
      return k;
    }

    /** The task ends: a late kill does nothing, and an interrupt this switch made is cleared. */
    synchronized void done() {
      done = true;
      if (interrupted) {
        Thread.interrupted();
      }
    }
  }

  /** The host of a task's {@code host:port} address. */
  private static String host(String address) {
    return address.substring(0, address.lastIndexOf(':'));
  }

  /**
   * Joins the round's ring: through memory when every task runs in this JVM (Spark's local
   * mode), else over TCP: a listener on this executor's own address, the addresses exchanged
   * through the driver's rendezvous, then the authenticated ring.
   */
  private Allreduce connect(BarrierTaskContext ctx, int rank) throws IOException {
    int size = ctx.getTaskInfos().length;
    String host = host(ctx.getTaskInfos()[rank].address());
    int onHost = 0;
    for (org.apache.spark.BarrierTaskInfo info : ctx.getTaskInfos()) {
      if (host(info.address()).equals(host)) {
        onHost++;
      }
    }
    long spinNanos = RingOptions.spinNanosFor(spinMicros * 1000L, onHost * ctx.cpus(),
        Runtime.getRuntime().availableProcessors());
    if (rendezvous == null) {
      return LocalRing.join(secret, ringId, rank, size, timeoutMillis, spinNanos);
    }
    RingOptions options = RingOptions.DEFAULTS.withTimeouts(timeoutMillis, timeoutMillis)
        .withSharedMemory(sharedMemory).withEncryption(encrypt).withSpinNanos(spinNanos);
    KeptRings.Taken mine = keepLinks ? KeptRings.IN_THIS_JVM.take(kept.job(), rank, size)
        : KeptRings.Taken.NONE;
    RingListener listener = null;
    try {
      listener = RingListener.bind(InetAddress.getByName(host), options);
      RingRendezvous.Peers peers = RingRendezvous.exchange(rendezvous, secret, ringId, rank,
          size, listener.address(), mine.ring(), timeoutMillis);
      long reuse = peers.keptRing();
      if (reuse >= 0 && reuse == mine.ring()) {
        // every rank holds its end of ring `reuse`: the same neighbours, already authenticated
        System.err.println("convspark: ring " + ringId + " rank " + rank + ": the links of ring "
            + reuse + " (kept open: every rank landed where it was)");
        Ring kept = mine.links();
        KeptRings.IN_THIS_JVM.reusing();
        mine = KeptRings.Taken.NONE;
        return kept;
      }
      if (mine.links() != null) {
        System.err.println("convspark: ring " + ringId + " rank " + rank + ": new links, not "
            + "those kept from ring " + mine.ring() + " (ranks hold " + describeKept(peers.kept())
            + ")");
        mine.links().close(); // before the new ones map their shared memory
        mine = KeptRings.Taken.NONE;
      }
      Ring ring = listener.join(peers.addresses(), rank, secret, ringId);
      System.err.println("convspark: ring " + ringId + " rank " + rank + ": " + ring.links()
          + "; waiting on shared memory, spins " + spinNanos / 1000 + " us before it sleeps ("
          + onHost + " ring task(s) x " + ctx.cpus() + " CPU(s) on this host of "
          + Runtime.getRuntime().availableProcessors() + ")");
      return ring;
    } finally {
      if (listener != null) {
        listener.close();
      }
      if (mine.links() != null) {
        mine.links().close();
      }
    }
  }

  /** "ring 3, ring 3, none" for the log. */
  private static String describeKept(long[] kept) {
    StringBuilder b = new StringBuilder();
    for (long k : kept) {
      b.append(b.length() == 0 ? "" : ", ").append(k < 0 ? "none" : "ring " + k);
    }
    return b.toString();
  }
}
