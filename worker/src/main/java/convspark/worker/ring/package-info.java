/**
 * A ring allreduce among peers that talk to each other over direct TCP connections, with no
 * Spark class anywhere in this package (a test checks the bytecode): usable with threads, with
 * separate processes, and inside long-lived Spark barrier tasks, which only exchange the
 * listeners' {@code host:port} through the driver's {@link
 * convspark.worker.ring.RingRendezvous} (not {@code BarrierTaskContext.allGather}: a second per
 * call in Spark 3.5).
 *
 * <p>Lifecycle: every peer {@link convspark.worker.ring.RingListener#bind binds} a listener to
 * its own host address (never the wildcard address), the caller distributes the addresses, and
 * every peer {@link convspark.worker.ring.RingListener#join joins} the ring with its rank and the
 * job's secret. Joining connects to the next rank and accepts the previous one; both sides prove
 * knowledge of the secret with an HMAC-SHA256 challenge-response ({@link
 * convspark.worker.ring.Handshake}) before a single data byte is read, and the listener closes
 * as soon as the ring is formed. {@link convspark.worker.ring.Ring#allreduce} then sums a float
 * vector plus a few doubles in place on every peer: reduce-scatter then all-gather, chunked and
 * pipelined, in a fixed order, so the result is bit-identical on every peer and in every run for
 * a given number of peers. Where two neighbours run on the same host, the data of their link
 * goes through a shared-memory ring instead of loopback TCP ({@link
 * convspark.worker.ring.SharedMemoryLink}, offered over the authenticated connection, which
 * stays open to tell whether the peer is still there); the chunks, their order and the sums are
 * the same either way.
 */
package convspark.worker.ring;
