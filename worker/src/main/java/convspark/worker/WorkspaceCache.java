package convspark.worker;

import convspark.common.nn.Network;
import convspark.common.nn.Workspace;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * The executor-side cache of workspaces: one pool per JVM, keyed by (model spec, batch size).
 * Each concurrently running task borrows its own entry and gives it back, so a steady-state step
 * allocates no activation, im2col or gradient-of-activation buffers: only its result.
 */
public final class WorkspaceCache {
  private WorkspaceCache() {}

  /** A borrowed workspace plus the per-partition shuffle it last computed. */
  public static final class Entry {
    public final Workspace workspace;
    int[] permutation = new int[0];
    long permutationKey = Long.MIN_VALUE;
    int permutationSize = -1;

    Entry(Workspace workspace) {
      this.workspace = workspace;
    }
  }

  private record Key(Object spec, int batch) {}

  private static final Map<Key, ConcurrentLinkedDeque<Entry>> POOLS = new ConcurrentHashMap<>();

  /** Borrows a workspace for {@code net} and batches up to {@code batch}; give it back. */
  public static Entry borrow(Network net, int batch) {
    ConcurrentLinkedDeque<Entry> pool =
        POOLS.computeIfAbsent(new Key(net.spec(), batch), k -> new ConcurrentLinkedDeque<>());
    Entry e = pool.pollFirst();
    return e != null ? e : new Entry(net.newWorkspace(batch));
  }

  public static void giveBack(Network net, int batch, Entry e) {
    POOLS.computeIfAbsent(new Key(net.spec(), batch), k -> new ConcurrentLinkedDeque<>())
        .addFirst(e);
  }
}
