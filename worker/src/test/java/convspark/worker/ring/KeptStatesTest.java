package convspark.worker.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.worker.ModelState;
import org.junit.jupiter.api.Test;

class KeptStatesTest {
  static ModelState state(float first) {
    return new ModelState(new float[] {first, 2f, 3f}, new float[] {1f}, new float[][] {{0f,
        0f, 0f}}, 5);
  }

  @Test
  void eachKeptStateIsTakenOnceAndOnlyForItsJobRoundAndFingerprint() {
    KeptStates pool = new KeptStates();
    ModelState a = state(1f);
    ModelState b = state(1f);
    pool.keep(7, 3, a);
    pool.keep(7, 3, b); // two tasks of one round on this executor
    long fp = a.fingerprint();
    assertTrue(pool.take(8, 3, fp).why().contains("no state of this job's ring 3"));
    assertTrue(pool.take(7, 2, fp).why().contains("another ring than 2"));
    assertEquals(2, pool.size(), "a miss of another job or ring takes nothing");
    KeptStates.Taken first = pool.take(7, 3, fp);
    KeptStates.Taken second = pool.take(7, 3, fp);
    assertSame(a, first.state());
    assertNull(first.why());
    assertSame(b, second.state(), "the second task gets the other state, not the same object");
    assertNull(pool.take(7, 3, fp).state(), "none left");
    assertEquals(2, pool.taken());
  }

  @Test
  void aStateWhoseFingerprintDiffersIsDroppedNotUsed() {
    KeptStates pool = new KeptStates();
    ModelState a = state(1f);
    pool.keep(7, 3, a);
    long driver = state(1.5f).fingerprint();
    KeptStates.Taken t = pool.take(7, 3, driver);
    assertNull(t.state());
    assertTrue(t.why().startsWith("the state kept from ring 3 differs from the driver's"), t.why());
    assertEquals(0, pool.size());
    assertNull(pool.take(7, 3, a.fingerprint()).state(), "dropped, not kept for later");
  }

  @Test
  void keepingAnotherRoundOrJobDropsTheOlderStates() {
    KeptStates pool = new KeptStates();
    pool.keep(7, 3, state(1f));
    pool.keep(7, 3, state(1f));
    pool.keep(7, 4, state(2f));
    assertEquals(1, pool.size(), "ring 3's states are gone once ring 4 keeps one");
    assertNull(pool.take(7, 3, state(1f).fingerprint()).state());
    pool.keep(9, 1, state(3f));
    assertEquals(1, pool.size(), "another job's state replaces job 7's");
    assertNull(pool.take(7, 4, state(2f).fingerprint()).state());
    assertEquals(3f, pool.take(9, 1, state(3f).fingerprint()).state().params()[0]);
  }

  @Test
  void aKeptStateItselfIsHandedOverNotCopied() {
    // the task updates it in place: the pool must not hand the same object out twice
    KeptStates pool = new KeptStates();
    ModelState a = state(1f);
    long fp = a.fingerprint();
    pool.keep(7, 3, a);
    ModelState got = pool.take(7, 3, fp).state();
    got.params()[0] = 9f;
    pool.keep(7, 4, got);
    assertNull(pool.take(7, 3, fp).state());
    assertSame(got, pool.take(7, 4, got.fingerprint()).state());
  }
}
