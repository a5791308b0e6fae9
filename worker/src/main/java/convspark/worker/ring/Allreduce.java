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
  default void allreduce(float[] floats, double[] doubles) throws RingException {
    allreduce(floats, doubles, null);
  }

  /**
   * {@link #allreduce(float[], double[])}, calling {@code owned} on the floats of the part of the
   * vector this peer owns as soon as they hold the full sums, before they go to the other peers:
   * what {@code owned} writes there is what every peer ends with (the doubles end with the sums).
   * The peers own disjoint parts that cover the float vector, so afterwards every peer holds, at
   * every element, what its owner wrote there. {@code owned} may be called several times, on
   * consecutive pieces of the owned part, and must therefore write element i from element i and
   * i alone (an element-wise map); with a null {@code owned} this is the plain sum.
   *
   * @throws RingException if a peer fails, leaves or stalls past the timeout
   */
  void allreduce(float[] floats, double[] doubles, Owned owned) throws RingException;

  /** What a peer does to the fully summed floats it owns, before the other peers receive them. */
  @FunctionalInterface
  interface Owned {
    /** Rewrites {@code floats[from, to)} in place (the full sums on entry). */
    void summed(float[] floats, int from, int to);
  }

  /** Leaves the ring; a peer still waiting for this one fails at once. Idempotent. */
  @Override
  void close();
}
