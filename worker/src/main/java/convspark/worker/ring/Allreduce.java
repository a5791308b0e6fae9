package convspark.worker.ring;

/**
 * What a replica needs from its ring: sum a float vector and a few doubles in place on every
 * peer, bit-identically, in the fixed order documented by {@link Ring} (element i of segment s
 * summed as x_s + x_(s+1) + ... + x_(s+P-1), ranks mod P), so that a run gives the same bits
 * whichever implementation carries it. {@link Ring} talks TCP between processes; {@link
 * LocalRing} joins threads of one JVM (Spark's local mode) through memory.
 */
public interface Allreduce extends AutoCloseable {
  int rank();

  int size();

  /** Cumulative traffic and time of this peer's operations. */
  Ring.Stats stats();

  /**
   * Sums {@code floats} and {@code doubles} element-wise across all peers, in place. Every peer
   * must call this with arrays of the same lengths, in the same sequence of operations.
   *
   * @throws RingException if a peer fails, leaves or stalls past the timeout
   */
  void allreduce(float[] floats, double[] doubles) throws RingException;

  /** Leaves the ring; a peer still waiting for this one fails at once. Idempotent. */
  @Override
  void close();
}
