package convspark.common.optim;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** {@link FiniteCopy} with the Vector API; loaded only when its module is present. */
final class FiniteCopyVector {
  private FiniteCopyVector() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  static boolean allFinite(float[] a) {
    FloatVector acc = FloatVector.zero(S);
    int i = 0;
    for (int up = S.loopBound(a.length); i < up; i += S.length()) {
      acc = acc.add(FloatVector.fromArray(S, a, i).mul(0f));
    }
    float tail = 0f;
    for (; i < a.length; i++) {
      tail += a[i] * 0f;
    }
    return !Float.isNaN(acc.reduceLanes(VectorOperators.ADD) + tail);
  }

  static boolean move(float[] from, float[] to, int n) {
    FloatVector acc = FloatVector.zero(S);
    FloatVector zero = FloatVector.zero(S);
    int i = 0;
    for (int up = S.loopBound(n); i < up; i += S.length()) {
      FloatVector x = FloatVector.fromArray(S, from, i);
      x.intoArray(to, i);
      zero.intoArray(from, i);
      acc = acc.add(x.mul(0f));
    }
    float tail = 0f;
    for (; i < n; i++) {
      float x = from[i];
      to[i] = x;
      from[i] = 0f;
      tail += x * 0f;
    }
    return !Float.isNaN(acc.reduceLanes(VectorOperators.ADD) + tail);
  }

}
