package convspark.worker;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import org.junit.jupiter.api.Test;

class WorkspaceCacheTest {
  private static Network net(int units) {
    return new Network(ModelSpec.parse("input { channels = 1, height = 4, width = 4 }\n"
        + "layers = [ { type = flatten }, { type = dense, units = " + units + " } ]"));
  }

  @Test
  void givenBackWorkspacesAreReusedPerModelAndBatch() {
    Network a = net(3);
    WorkspaceCache.Entry e = WorkspaceCache.borrow(a, 8);
    WorkspaceCache.giveBack(a, 8, e);
    assertSame(e, WorkspaceCache.borrow(a, 8), "the idle workspace of (spec, 8) is reused");
    // borrowed and not given back: a second task gets its own
    assertNotSame(e, WorkspaceCache.borrow(a, 8));
    WorkspaceCache.giveBack(a, 8, e);
    assertNotSame(e, WorkspaceCache.borrow(a, 16), "another batch size gets another workspace");
    assertNotSame(e, WorkspaceCache.borrow(net(5), 8), "another model gets another workspace");
  }

  @Test
  void onlyTheMostRecentlyUsedKeysKeepIdleWorkspaces() {
    // a long-lived JVM scoring many batch sizes (or models) must not keep them all
    Network first = net(2);
    WorkspaceCache.Entry oldest = WorkspaceCache.borrow(first, 1);
    WorkspaceCache.giveBack(first, 1, oldest);
    for (int units = 3; units < 12; units++) {
      Network n = net(units);
      for (int batch : new int[] {1, 2, 3}) {
        WorkspaceCache.giveBack(n, batch, WorkspaceCache.borrow(n, batch));
      }
    }
    assertTrue(WorkspaceCache.pooledKeys() <= WorkspaceCache.MAX_KEYS,
        WorkspaceCache.pooledKeys() + " keys hold idle workspaces");
    // the most recent key kept its idle workspace; the oldest one's was dropped
    Network last = net(11);
    WorkspaceCache.Entry kept = WorkspaceCache.borrow(last, 3);
    WorkspaceCache.giveBack(last, 3, kept);
    assertSame(kept, WorkspaceCache.borrow(last, 3));
    WorkspaceCache.giveBack(last, 3, kept);
    assertNotSame(oldest, WorkspaceCache.borrow(first, 1));
  }
}
