package convspark.driver.engine;

import convspark.worker.ModelState;
import convspark.worker.SampleBlock;
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
import java.util.List;
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
 * result. A watchdog closes the ring when Spark kills the task, so a failed stage releases its
 * peers at once rather than after the timeout.
 */
final class RingTask extends AbstractFunction1<Iterator<SampleBlock>, Iterator<ReplicaRound.Output>>
    implements Serializable {
  private static final long serialVersionUID = 1L;
  private final ReplicaRound.Spec spec;
  private final Broadcast<ModelState> state;
  private final byte[] secret;
  private final long ringId;
  private final int timeoutMillis;
  private final InetSocketAddress rendezvous;

  RingTask(ReplicaRound.Spec spec, Broadcast<ModelState> state, byte[] secret, long ringId,
      int timeoutMillis, InetSocketAddress rendezvous) {
    this.spec = spec;
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
    BarrierTaskContext ctx = BarrierTaskContext.get();
    int rank = ctx.partitionId();
    SampleBlock block = it.hasNext() ? it.next() : null;
    if (block == null) {
      int size = spec.net().inputShape().size();
      block = new SampleBlock(0, size, new float[0], new int[0]);
    }
    RingOptions options = RingOptions.DEFAULTS.withTimeouts(timeoutMillis, timeoutMillis);
    try {
      String address = ctx.getTaskInfos()[rank].address();
      String host = address.substring(0, address.lastIndexOf(':'));
      RingListener listener = RingListener.bind(InetAddress.getByName(host), options);
      List<InetSocketAddress> peers = RingRendezvous.exchange(rendezvous, secret, ringId, rank,
          ctx.getTaskInfos().length, listener.address(), timeoutMillis);
      ModelState start = state.value().copy();
      try (Ring ring = listener.join(peers, rank, secret, ringId)) {
        Thread watchdog = new Thread(() -> {
          while (!Thread.currentThread().isInterrupted()) {
            if (ctx.isInterrupted()) {
              ring.close();
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
          ReplicaRound.Output out = ReplicaRound.run(spec, start, block, rank, ring, ctx.cpus());
          return rank == 0 ? scala.collection.Iterator$.MODULE$.single(out) : none();
        } finally {
          watchdog.interrupt();
        }
      }
    } catch (RingException e) {
      throw new UncheckedIOException(e.getMessage(), e);
    } catch (IOException e) {
      throw new UncheckedIOException("ring rank " + rank + ": " + e.getMessage(), e);
    }
  }
}
