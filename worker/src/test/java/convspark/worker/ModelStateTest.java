package convspark.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class ModelStateTest {
  /** 1,001 params (not a multiple of the hash's four lanes), 6 statistics, momentum. */
  static ModelState sample(long seed) {
    Random r = new Random(seed);
    float[] p = new float[1001];
    float[] s = new float[6];
    float[] v = new float[1001];
    for (int i = 0; i < p.length; i++) {
      p[i] = (float) r.nextGaussian();
      v[i] = (float) r.nextGaussian() * 1e-3f;
    }
    for (int i = 0; i < s.length; i++) {
      s[i] = r.nextFloat();
    }
    return new ModelState(p, s, new float[][] {v}, 37);
  }

  @Test
  void aCopyAndASerializedCopyHaveTheSameFingerprint() throws Exception {
    ModelState a = sample(1);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(a);
    }
    ModelState b;
    try (ObjectInputStream in = new ObjectInputStream(
        new ByteArrayInputStream(bytes.toByteArray()))) {
      b = (ModelState) in.readObject();
    }
    assertEquals(a.fingerprint(), a.copy().fingerprint());
    assertEquals(a.fingerprint(), b.fingerprint());
  }

  @Test
  void everySingleChangeChangesTheFingerprint() {
    long base = sample(1).fingerprint();
    Set<Long> seen = new HashSet<>();
    seen.add(base);
    // one value of each array, at every position of the four lanes and in the tail
    for (int i : new int[] {0, 1, 2, 3, 500, 999, 1000}) {
      changed(seen, s -> s.params()[i] = Math.nextUp(s.params()[i]));
      changed(seen, s -> s.optimizerState()[0][i] = -s.optimizerState()[0][i]);
    }
    changed(seen, s -> s.state()[5] += 1f);
    // the sign of a zero, a NaN's payload: the raw bits count
    changed(seen, s -> s.params()[7] = 0f);
    changed(seen, s -> s.params()[7] = -0f);
    changed(seen, s -> s.params()[7] = Float.NaN);
    changed(seen, s -> s.params()[7] = Float.intBitsToFloat(0x7fc00001));
    // the same values moved between arrays or lanes
    changed(seen, s -> {
      float t = s.params()[0];
      s.params()[0] = s.params()[1];
      s.params()[1] = t;
    });
    changed(seen, s -> s.setOptimizer(s.optimizerState(), 38));
    ModelState a = sample(1);
    ModelState noMomentum = new ModelState(a.params(), a.state(), new float[0][], 37);
    assertNotEquals(base, noMomentum.fingerprint());
    assertNotEquals(sample(1).fingerprint(), sample(2).fingerprint());
  }

  private static void changed(Set<Long> seen, Consumer<ModelState> change) {
    ModelState s = sample(1);
    change.accept(s);
    long f = s.fingerprint();
    // each change gives a fingerprint of its own (no two of these collide, nor with the base)
    assertEquals(true, seen.add(f), "a change left a fingerprint seen before: "
        + Long.toHexString(f));
  }
}
