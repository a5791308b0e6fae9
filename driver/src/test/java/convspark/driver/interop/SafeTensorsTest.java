package convspark.driver.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.driver.interop.SafeTensors.Contents;
import convspark.driver.interop.Tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
  @TempDir Path dir;

  /** A file made of an explicit header and data buffer, for malformed cases. */
  static byte[] raw(String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).put(data);
    return b.array();
  }

  static byte[] raw(long headerLen, String header, byte[] data) {
    byte[] bytes = raw(header, data);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, headerLen);
    return bytes;
  }

  private Path file(String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  /** Reads a file that must be rejected; checks the message is one line naming file and more. */
  private BadInputException reject(String name, byte[] bytes, String... mentions)
      throws IOException {
    Path p = file(name, bytes);
    BadInputException e = assertThrows(BadInputException.class, () -> SafeTensors.read(p));
    String m = e.getMessage();
    assertFalse(m.contains("\n"), m);
    assertTrue(m.contains(p.toString()), "names the file: " + m);
    for (String s : mentions) {
      assertTrue(m.contains(s), "mentions " + s + ": " + m);
    }
    return e;
  }

  private static Map<String, Tensor> sample() {
    Map<String, Tensor> t = new LinkedHashMap<>();
    t.put("a", Tensor.f32(new long[] {2, 3}, new float[] {1, -2, 3.5f, Float.NaN, -0f, 1e-40f}));
    t.put("n", Tensor.i64(new long[0], new long[] {1234567890123L}));
    t.put("empty", Tensor.f32(new long[] {0, 4}, new float[0]));
    t.put("b", Tensor.f32(new long[] {1}, new float[] {Float.MAX_VALUE}));
    return t;
  }

  @Test
  void roundTripsTensorsAndMetadataExactly() throws IOException {
    Path p = dir.resolve("sub/x.safetensors");
    Map<String, String> meta = Map.of("k", "v with \"quotes\" and\nnewline", "format", "pt");
    SafeTensors.write(p, sample(), meta);
    byte[] bytes = Files.readAllBytes(p);
    long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8, "data buffer aligned to 8");
    Contents c = SafeTensors.read(p);
    assertEquals(sample(), c.tensors());
    assertEquals(Arrays.asList("a", "n", "empty", "b"), c.tensors().keySet().stream().toList());
    assertEquals(meta, c.metadata());
    assertArrayEquals(new long[] {1234567890123L}, c.tensors().get("n").toLongs());
    float[] a = c.tensors().get("a").toFloats();
    assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(a[4]));
    assertTrue(Float.isNaN(a[3]));
    try (var s = Files.list(p.getParent())) {
      assertEquals(1, s.count(), "no temporary file left behind");
    }
  }

  @Test
  void acceptsHeaderPaddedWithSpacesAndNoMetadata() throws IOException {
    byte[] data = new byte[8];
    ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-3f);
    Path p = file("pad.safetensors",
        raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}      ", data));
    Contents c = SafeTensors.read(p);
    assertArrayEquals(new float[] {1.5f, -3f}, c.tensors().get("w").toFloats());
    assertTrue(c.metadata().isEmpty());
  }

  @Test
  void convertsHalfBfloatAndDoubleLikePyTorch() {
    Path p = TorchParityTest.resource("dtypes.safetensors");
    Map<String, Tensor> t = SafeTensors.read(p).tensors();
    for (String k : new String[] {"f16", "bf16", "f64"}) {
      Tensor src = t.get(k);
      Tensor ref = t.get(k + "_as_f32");
      assertEquals(DType.valueOf(k.toUpperCase()), src.dtype());
      assertEquals(DType.F32, ref.dtype());
      assertArrayEquals(ref.shape(), src.shape());
      float[] got = src.toFloats();
      float[] want = ref.toFloats();
      for (int i = 0; i < got.length; i++) {
        if (Float.isNaN(want[i])) {
          assertTrue(Float.isNaN(got[i]), k + "[" + i + "]");
        } else {
          assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]),
              k + "[" + i + "]: " + want[i] + " vs " + got[i]);
        }
      }
    }
  }

  @Test
  void halfToFloatCoversEveryBitPattern() {
    // normal halves: value = (1 + m/1024) * 2^(e-15)
    for (int e = 1; e < 31; e++) {
      for (int m = 0; m < 1024; m++) {
        float want = (float) ((1 + m / 1024.0) * Math.pow(2, e - 15));
        assertEquals(want, Tensor.halfToFloat((short) ((e << 10) | m)));
        assertEquals(-want, Tensor.halfToFloat((short) (0x8000 | (e << 10) | m)));
      }
    }
    assertEquals(0x1p-24f, Tensor.halfToFloat((short) 1));
    assertEquals(Float.NEGATIVE_INFINITY, Tensor.halfToFloat((short) 0xfc00));
    assertTrue(Float.isNaN(Tensor.halfToFloat((short) 0x7e00)));
  }

  @Test
  void rejectsShortAndTruncatedFiles() throws IOException {
    reject("empty.safetensors", new byte[0], "shorter than the 8-byte header length");
    reject("short.safetensors", new byte[5], "shorter");
    byte[] good = SafeTensors.encode(sample(), Map.of());
    // cut in the data: the last tensor overruns the buffer
    reject("cut-data.safetensors", Arrays.copyOf(good, good.length - 2), "'b'",
        "run past the end of the data buffer");
    // cut in the header
    reject("cut-header.safetensors", Arrays.copyOf(good, 20), "header length",
        "exceeds");
  }

  @Test
  void rejectsHeaderLengthBeyondTheFile() throws IOException {
    reject("len.safetensors", raw(1000, "{}", new byte[0]), "header length 1000", "exceeds");
    reject("huge.safetensors", raw(-1L, "{}", new byte[0]), "18446744073709551615");
  }

  @Test
  void rejectsMalformedHeaders() throws IOException {
    reject("json.safetensors", raw("{\"a\": {\"dtype\": \"F32\",", new byte[0]), "malformed JSON");
    reject("trailing-json.safetensors", raw("{} {}", new byte[0]), "malformed JSON");
    reject("notobj.safetensors", raw("[1, 2]", new byte[0]), "not a JSON object");
    reject("dup.safetensors",
        raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}", new byte[8]),
        "malformed JSON", "'a'");
    reject("entry.safetensors", raw("{\"w\": 3}", new byte[0]), "tensor 'w'", "object");
    reject("nodtype.safetensors", raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}",
        new byte[4]), "tensor 'w'", "dtype");
    reject("shape.safetensors", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],"
        + "\"data_offsets\":[0,4]}}", new byte[4]), "tensor 'w'", "'shape'");
    reject("offs.safetensors", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
        + "\"data_offsets\":[0]}}", new byte[4]), "tensor 'w'", "'data_offsets'");
    reject("meta.safetensors", raw("{\"__metadata__\":{\"n\":1}}", new byte[0]),
        "__metadata__", "'n'", "must be a string");
    reject("utf.safetensors", badUtf8(), "not valid UTF-8");
  }

  /**
   * Headers beyond the JSON parser's limits (nesting depth, length of a number) are malformed
   * headers too: the parser reports them without a location, which once made a
   * NullPointerException of them (exit 3 and no file name in the CLI).
   */
  @Test
  void rejectsHeadersBeyondTheParserLimits() throws IOException {
    String deep = "[".repeat(5000) + "]".repeat(5000);
    reject("deep.safetensors", raw("{\"__metadata__\":" + deep + "}", new byte[0]),
        "malformed JSON");
    reject("long-number.safetensors", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":["
        + "1".repeat(5000) + "],\"data_offsets\":[0,4]}}", new byte[4]), "malformed JSON");
  }

  private static byte[] badUtf8() {
    byte[] b = raw("{\"\u00e9\":1}", new byte[0]);
    b[10] = (byte) 0xff;
    return b;
  }

  @Test
  void rejectsUnknownDtype() throws IOException {
    reject("dtype.safetensors", raw("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],"
        + "\"data_offsets\":[0,16]}}", new byte[16]), "tensor 'w'", "unknown dtype 'F128'");
  }

  @Test
  void rejectsOffsetsOutOfRange() throws IOException {
    reject("over.safetensors", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],"
        + "\"data_offsets\":[0,16]}}", new byte[12]), "tensor 'w'", "[0, 16]",
        "run past the end of the data buffer (12 bytes)");
    reject("reversed.safetensors", raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],"
        + "\"data_offsets\":[8,4]}}", new byte[8]), "tensor 'w'", "end before they begin");
  }

  @Test
  void rejectsSizeNotMatchingShapeAndDtype() throws IOException {
    reject("size.safetensors", raw("{\"w\":{\"dtype\":\"F64\",\"shape\":[2,2],"
        + "\"data_offsets\":[0,16]}}", new byte[16]), "tensor 'w'", "span 16 bytes",
        "F64 [2, 2] needs 32");
  }

  @Test
  void rejectsOverlapsGapsAndTrailingBytes() throws IOException {
    reject("overlap.safetensors", raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
        + "\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
        + "\"data_offsets\":[4,12]}}", new byte[12]), "tensor 'b'", "overlap tensor 'a'");
    reject("gap.safetensors", raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
        + "\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
        + "\"data_offsets\":[8,12]}}", new byte[12]), "tensor 'b'", "gap of 4");
    reject("trailing.safetensors", raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
        + "\"data_offsets\":[0,4]}}", new byte[8]), "8 bytes", "cover only 4", "'a'");
  }

  @Test
  void missingFileIsBadInput() {
    Path p = dir.resolve("nope.safetensors");
    BadInputException e = assertThrows(BadInputException.class, () -> SafeTensors.read(p));
    assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("no such file"));
  }

  @Test
  void tensorRejectsWrongDataLength() {
    assertThrows(IllegalArgumentException.class,
        () -> new Tensor(DType.F32, new long[] {3}, new byte[8]));
    assertThrows(IllegalStateException.class,
        () -> Tensor.i64(new long[] {1}, new long[] {1}).toFloats());
    assertThrows(IllegalStateException.class,
        () -> Tensor.f32(new long[] {1}, new float[] {1}).toLongs());
  }
}
