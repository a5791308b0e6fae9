package convspark.worker;

import convspark.common.nn.Network;
import convspark.common.nn.Workspace;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The executor-side cache of workspaces: one pool per JVM, keyed by (model spec, batch size).
 * Each concurrently running task borrows its own entry and gives it back, so a steady-state step
 * allocates no activation, im2col or gradient-of-activation buffers: only its result.
 *
 * <p>Idle workspaces are kept for the {@value #MAX_KEYS} most recently used keys only (a run
 * uses two: its training batch and its evaluation batch; scoring adds its inference batch). A
 * long-lived JVM that meets many models or batch sizes (a notebook session, a CrossValidator
 * over model settings, the driver in local mode) would otherwise keep every workspace it ever
 * made, each up to hundreds of MB, for its lifetime.
 */
public final class WorkspaceCache {
  private WorkspaceCache() {}

  /** How many (spec, batch) keys keep their idle workspaces. */
  static final int MAX_KEYS = 4;

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

  /** Idle entries by key, least recently used first; guarded by itself. */
  private static final LinkedHashMap<Key, ArrayDeque<Entry>> POOLS =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, ArrayDeque<Entry>> eldest) {
          return size() > MAX_KEYS;
        }
      };

  /** Borrows a workspace for {@code net} and batches up to {@code batch}; give it back. */
  public static Entry borrow(Network net, int batch) {
    Entry e;
    synchronized (POOLS) {
      ArrayDeque<Entry> pool = POOLS.get(new Key(net.spec(), batch));
      e = pool == null ? null : pool.pollFirst();
    }
    return e != null ? e : new Entry(net.newWorkspace(batch));
  }

  public static void giveBack(Network net, int batch, Entry e) {
    synchronized (POOLS) {
      POOLS.computeIfAbsent(new Key(net.spec(), batch), k -> new ArrayDeque<>()).addFirst(e);
    }
  }

  /**
   * Drops every idle workspace (borrowed ones stay with their tasks): after an out-of-memory
   * error in a task, so that the workspaces of a batch size no longer in use (the training
   * batch's, during an evaluation) do not keep the heap full.
   */
  public static void dropIdle() {
    synchronized (POOLS) {
      POOLS.clear();
    }
  }

  /** Keys that hold idle workspaces now (tests). */
  static int pooledKeys() {
    synchronized (POOLS) {
      return POOLS.size();
    }
  }
}
