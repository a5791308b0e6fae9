package convspark.driver.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class NormalizationTest {
  // 2 samples x 2 channels x 1 x 2. Channel 0 holds 0, 2, 4, 6; channel 1 is constant 10.
  private static final ImageSet SET =
      new ImageSet(2, 2, 1, 2, new float[] {0, 2, 10, 10, 4, 6, 10, 10}, new int[] {0, 1});

  @Test
  void fitMatchesHandComputedMeanAndPopulationStd() {
    Normalization n = Normalization.fit(SET, 0.5f);
    // Scaled channel 0: 0, 1, 2, 3 -> mean 1.5, population variance (2.25+0.25+0.25+2.25)/4 = 1.25.
    assertEquals(1.5f, n.mean()[0], 1e-7f);
    assertEquals((float) Math.sqrt(1.25), n.std()[0], 1e-7f);
    // Scaled channel 1: constant 5 -> std 0, taken as 1 (only centred, as StandardScaler does)
    assertEquals(5f, n.mean()[1], 1e-7f);
    assertEquals(1f, n.std()[1], 0f);
    assertEquals(0.5f, n.scale());
    assertEquals(2, n.channels());
    // a test value off the training constant stays near it (1e6 away with a floored std)
    float[] test = {0, 2, 12, 8};
    n.applyInPlace(test, 0, 1, 2, 2);
    assertArrayEquals(new float[] {-1.5f / (float) Math.sqrt(1.25), -0.5f / (float) Math.sqrt(
        1.25), 1f, -1f}, test, 1e-6f);
  }

  @Test
  void sameAsToleratesTheLastBitsOfARefitButNoRealChange() {
    Normalization n = new Normalization(0.5f, new float[] {1.5f, 0f}, new float[] {2f, 0.25f});
    assertTrue(n.sameAs(new Normalization(0.5f, new float[] {Math.nextUp(1.5f), 1e-7f},
        new float[] {Math.nextDown(2f), 0.25f})));
    assertTrue(n.sameAs(Normalization.fromMeta(n.toMeta(), 2)));
    assertFalse(n.sameAs(Normalization.scaleOnly(0.5f, 2)));
    assertFalse(n.sameAs(new Normalization(1f, n.mean(), n.std())));
    assertFalse(n.sameAs(new Normalization(0.5f, new float[] {1.5f, 0.001f}, n.std())));
    assertFalse(n.sameAs(new Normalization(0.5f, n.mean(), new float[] {2f, 0.2501f})));
    assertFalse(n.sameAs(new Normalization(0.5f, new float[] {1.5f}, new float[] {2f})));
  }

  @Test
  void applyInPlaceUsesTheFormulaPerChannelAndRespectsOffset() {
    Normalization n = new Normalization(0.5f, new float[] {1f, 4f}, new float[] {2f, 0.5f});
    float[] px = {-7, 0, 2, 10, 10, 4, 6, 10, 12, -7};
    n.applyInPlace(px, 1, 2, 2, 2);
    // channel 0: (x*0.5 - 1) / 2 ; channel 1: (x*0.5 - 4) / 0.5
    assertArrayEquals(new float[] {-7, -0.5f, 0f, 2f, 2f, 0.5f, 1f, 2f, 4f, -7}, px);
    assertThrows(
        IndexOutOfBoundsException.class, () -> n.applyInPlace(new float[7], 0, 2, 2, 2));
    assertThrows(IllegalArgumentException.class, () -> n.applyInPlace(px, 0, 1, 3, 2));
  }

  @Test
  void fittedNormalizationStandardizesTheData() {
    SplittableRandom r = new SplittableRandom(3);
    int count = 50;
    float[] px = new float[count * 3 * 4 * 4];
    for (int i = 0; i < px.length; i++) {
      int c = (i / 16) % 3;
      px[i] = (float) (r.nextInt(256) * (c + 1) + 17 * c); // different spread per channel
    }
    ImageSet set = new ImageSet(count, 3, 4, 4, px, new int[count]);
    float[] original = px.clone();
    Normalization n = Normalization.fit(set, 1f / 255f);
    ImageSet normalized = n.apply(set);
    assertArrayEquals(original, set.pixels()); // apply returns a copy
    Normalization again = Normalization.fit(normalized, 1f);
    for (int c = 0; c < 3; c++) {
      assertEquals(0.0, again.mean()[c], 1e-5, "mean of channel " + c);
      assertEquals(1.0, again.std()[c], 1e-5, "std of channel " + c);
    }
  }

  @Test
  void givenValuesAreValidatedNamingTheKey() {
    BadInputException len =
        assertThrows(
            BadInputException.class,
            () -> Normalization.of(1f, new float[] {0.5f}, new float[] {0.2f}, 3));
    assertTrue(len.getMessage().startsWith("data.normalize.mean:"), len.getMessage());
    assertTrue(len.getMessage().contains("expected 3 values"), len.getMessage());
    assertTrue(len.getMessage().contains("found 1"), len.getMessage());

    BadInputException zero =
        assertThrows(
            BadInputException.class,
            () -> Normalization.of(1f, new float[] {0f, 0f}, new float[] {1f, 0f}, 2));
    assertTrue(zero.getMessage().startsWith("data.normalize.std:"), zero.getMessage());
    assertTrue(zero.getMessage().contains("> 0"), zero.getMessage());

    BadInputException neg =
        assertThrows(
            BadInputException.class,
            () -> new Normalization(1f, new float[] {0f}, new float[] {-1f}));
    assertTrue(neg.getMessage().startsWith("data.normalize.std:"), neg.getMessage());

    BadInputException mismatch =
        assertThrows(
            BadInputException.class,
            () -> new Normalization(1f, new float[] {0f, 1f}, new float[] {1f}));
    assertTrue(mismatch.getMessage().contains("data.normalize.mean"), mismatch.getMessage());

    BadInputException nan =
        assertThrows(
            BadInputException.class,
            () -> new Normalization(1f, new float[] {Float.NaN}, new float[] {1f}));
    assertTrue(nan.getMessage().startsWith("data.normalize.mean:"), nan.getMessage());

    assertEquals(
        new Normalization(2f, new float[] {1f}, new float[] {3f}),
        Normalization.of(2f, new float[] {1f}, new float[] {3f}, 1));
  }

  @Test
  void fitRejectsNonFiniteData() {
    ImageSet s = new ImageSet(2, 1, 1, 2, new float[] {1, 2, Float.NaN, 3}, new int[2]);
    BadInputException e = assertThrows(BadInputException.class, () -> Normalization.fit(s, 1f));
    assertTrue(e.getMessage().contains("sample 1"), e.getMessage());
  }
}
