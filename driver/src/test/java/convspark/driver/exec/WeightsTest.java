package convspark.driver.exec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.junit.jupiter.api.Test;

class WeightsTest {
  @Test
  void broadcastFormRoundTripsAndIsNoBiggerThanTheFloats() throws Exception {
    float[] params = new float[40_000];
    for (int i = 0; i < params.length; i++) {
      params[i] = (float) Math.sin(i);
    }
    Weights w = new Weights(params, new float[] {1f, 2f});
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(w);
    }
    // the bulk form: 4 bytes per float plus small headers
    assertTrue(bytes.size() < 4 * 40_002 + 1_000, "serialized size " + bytes.size());
    Object back;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      back = in.readObject();
    }
    Weights b = (Weights) back;
    assertArrayEquals(params, b.params());
    assertArrayEquals(new float[] {1f, 2f}, b.state());
  }
}
