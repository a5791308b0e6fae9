package convspark.driver.interop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.BadInputException;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.interop.Tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchModelTest {
  @TempDir Path dir;

  static final String SPEC = """
      model {
        input { channels = 2, height = 8, width = 8 }
        layers = [
          { type = conv, filters = 3, kernel = 3, padding = 1 }
          { type = batchnorm, momentum = 0.05 }
          { type = relu }
          { type = maxpool, kernel = 2 }
          { type = conv, filters = 4, kernel = 3, bias = false }
          { type = tanh }
          { type = dropout, rate = 0.2 }
          { type = flatten }
          { type = dense, units = 5 }
          { type = batchnorm }
          { type = sigmoid }
          { type = dense, units = 3, bias = false }
        ]
      }
      """;

  static Network net() {
    return new Network(ModelSpec.parse(SPEC));
  }

  /** Random values including -0, subnormals, huge and tiny numbers, to check bit-exactness. */
  static float[] random(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = switch (i % 7) {
        case 0 -> -0f;
        case 1 -> Float.intBitsToFloat(r.nextInt(1, 0x007fffff));
        case 2 -> (float) (r.nextDouble() * 1e30);
        default -> (float) r.nextGaussian();
      };
    }
    return v;
  }

  @Test
  void layoutFollowsTorchSequentialStateDict() {
    List<String> names = TorchModel.layout(net()).stream().map(TorchModel.Entry::name).toList();
    assertEquals(List.of("0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
        "1.running_var", "1.num_batches_tracked", "4.weight", "8.weight", "8.bias", "9.weight",
        "9.bias", "9.running_mean", "9.running_var", "9.num_batches_tracked", "11.weight"),
        names);
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (TorchModel.Entry e : TorchModel.layout(net())) {
      shapes.put(e.name(), e.shape());
    }
    assertArrayEquals(new long[] {3, 2, 3, 3}, shapes.get("0.weight"));
    assertArrayEquals(new long[] {4, 3, 3, 3}, shapes.get("4.weight"));
    assertArrayEquals(new long[] {5, 4 * 2 * 2}, shapes.get("8.weight"));
    assertArrayEquals(new long[] {3, 5}, shapes.get("11.weight"));
    assertArrayEquals(new long[0], shapes.get("9.num_batches_tracked"));
  }

  @Test
  void exportThenLoadIsBitIdentical() throws IOException {
    Network net = net();
    float[] params = random(net.paramCount(), 1);
    float[] state = random(net.stateCount(), 2);
    Path p = dir.resolve("m.safetensors");
    TorchModel.export(net, params, state, 123456789012L, p);
    TorchModel.Loaded l = TorchModel.load(net, p);
    assertEquals(params.length, l.params().length);
    for (int i = 0; i < params.length; i++) {
      assertEquals(Float.floatToRawIntBits(params[i]), Float.floatToRawIntBits(l.params()[i]),
          "param " + i);
    }
    for (int i = 0; i < state.length; i++) {
      assertEquals(Float.floatToRawIntBits(state[i]), Float.floatToRawIntBits(l.state()[i]),
          "state " + i);
    }
    assertEquals(123456789012L, l.numBatchesTracked());
    assertEquals("pt", l.metadata().get("format"));
    assertEquals(net.spec(), TorchModel.readSpec(p));
    // exporting the loaded values again gives the same bytes
    Path q = dir.resolve("again.safetensors");
    TorchModel.export(net, l.params(), l.state(), l.numBatchesTracked(), q);
    assertArrayEquals(Files.readAllBytes(p), Files.readAllBytes(q));
    // and the tensors are what PyTorch expects: I64 scalar counters, F32 elsewhere
    Map<String, Tensor> t = SafeTensors.read(p).tensors();
    assertEquals(DType.I64, t.get("1.num_batches_tracked").dtype());
    assertEquals(DType.F32, t.get("1.running_var").dtype());
    assertArrayEquals(Arrays.copyOfRange(params, 0, 3 * 2 * 3 * 3),
        t.get("0.weight").toFloats());
  }

  @Test
  void exportedFixtureWeightsRoundTripToTheSameFile() throws IOException {
    // a file written by PyTorch's naming loads, and re-exports tensor-for-tensor identically
    Path src = TorchParityTest.resource("model.safetensors");
    Network net = new Network(ModelSpec.parse(Files.readString(
        TorchParityTest.resource("model.conf"))));
    TorchModel.Loaded l = TorchModel.load(net, src);
    assertNull(TorchModel.readSpec(src), "a PyTorch-written file has no convspark spec");
    Path out = dir.resolve("re.safetensors");
    TorchModel.export(net, l.params(), l.state(), l.numBatchesTracked(), out);
    assertEquals(SafeTensors.read(src).tensors(), SafeTensors.read(out).tensors());
  }

  @Test
  void loadsHalfPrecisionWeights() throws IOException {
    Network net = net();
    Map<String, Tensor> t = TorchModel.tensors(net, new float[net.paramCount()],
        new float[net.stateCount()], 0);
    // 0.weight as F16 ones: 0x3c00
    byte[] ones = new byte[2 * 54];
    ByteBuffer b = ByteBuffer.wrap(ones).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 54; i++) {
      b.putShort((short) 0x3c00);
    }
    t.put("0.weight", new Tensor(DType.F16, new long[] {3, 2, 3, 3}, ones));
    Path p = dir.resolve("half.safetensors");
    SafeTensors.write(p, t, Map.of());
    float[] w = Arrays.copyOf(TorchModel.load(net, p).params(), 54);
    float[] want = new float[54];
    Arrays.fill(want, 1f);
    assertArrayEquals(want, w);
  }

  @Test
  void exportRejectsVectorsOfTheWrongLength() {
    Network net = net();
    assertThrows(IllegalArgumentException.class, () -> TorchModel.export(net,
        new float[net.paramCount() - 1], new float[net.stateCount()], 0, dir.resolve("x")));
    assertThrows(IllegalArgumentException.class, () -> TorchModel.export(net,
        new float[net.paramCount()], new float[net.stateCount() + 1], 0, dir.resolve("x")));
  }

  // ------------------------------------------------------------------ malformed files

  /** Writes the network's tensors, edited by {@code edit}, and returns the load error. */
  private BadInputException rejectEdited(String file, Consumer<Map<String, Tensor>> edit,
      String... mentions) throws IOException {
    Network net = net();
    Map<String, Tensor> t = TorchModel.tensors(net, random(net.paramCount(), 3),
        random(net.stateCount(), 4), 5);
    edit.accept(t);
    Path p = dir.resolve(file);
    SafeTensors.write(p, t, Map.of("format", "pt"));
    return reject(p, mentions);
  }

  private BadInputException rejectBytes(String file, byte[] bytes, String... mentions)
      throws IOException {
    Path p = dir.resolve(file);
    Files.write(p, bytes);
    return reject(p, mentions);
  }

  private BadInputException reject(Path p, String... mentions) {
    BadInputException e = assertThrows(BadInputException.class, () -> TorchModel.load(net(), p));
    String m = e.getMessage();
    assertFalse(m.contains("\n"), "one line: " + m);
    assertTrue(m.contains(p.toString()), "names the file: " + m);
    for (String s : mentions) {
      assertTrue(m.contains(s), "mentions " + s + ": " + m);
    }
    return e;
  }

  private byte[] validBytes() throws IOException {
    Network net = net();
    Path p = dir.resolve("valid.safetensors");
    TorchModel.export(net, random(net.paramCount(), 5), random(net.stateCount(), 6), 0, p);
    return Files.readAllBytes(p);
  }

  @Test
  void rejectsTruncatedFile() throws IOException {
    byte[] good = validBytes();
    rejectBytes("trunc.safetensors", Arrays.copyOf(good, good.length - 4),
        "'11.weight'", "run past the end of the data buffer");
    rejectBytes("trunc8.safetensors", Arrays.copyOf(good, 6), "shorter than the 8-byte");
  }

  @Test
  void rejectsHeaderLengthLargerThanTheFile() throws IOException {
    byte[] bad = validBytes();
    ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putLong(0, bad.length);
    rejectBytes("hdr.safetensors", bad, "header length " + bad.length, "exceeds");
  }

  /** The valid file with its header text edited by a string replacement. */
  private byte[] editHeader(String from, String to) throws IOException {
    byte[] good = validBytes();
    long n = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getLong();
    String h = new String(good, 8, (int) n, StandardCharsets.UTF_8);
    assertTrue(h.contains(from), h);
    String e = h.replace(from, to);
    // keep the header length (the header is padded with spaces)
    e = e.length() < h.length() ? e + " ".repeat(h.length() - e.length()) : e;
    byte[] eb = e.getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(8 + eb.length + good.length - 8 - (int) n)
        .order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(eb.length).put(eb).put(good, 8 + (int) n, good.length - 8 - (int) n);
    return out.array();
  }

  @Test
  void rejectsOffsetsOverrunningTheBuffer() throws IOException {
    // 11.weight is the last tensor: 15 floats at the end; move it 4 bytes on
    byte[] good = validBytes();
    long n = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN).getLong();
    long buf = good.length - 8 - n;
    String from = "[" + (buf - 60) + "," + buf + "]";
    rejectBytes("overrun.safetensors", editHeader(from, "[" + (buf - 56) + "," + (buf + 4) + "]"),
        "'11.weight'", "run past the end of the data buffer");
  }

  @Test
  void rejectsOverlappingTensors() throws IOException {
    // 0.bias [3] follows 0.weight [3,2,3,3] (216 bytes): make it start 4 bytes early
    rejectBytes("overlap.safetensors", editHeader("[216,228]", "[212,224]"), "'0.bias'",
        "overlap tensor '0.weight'");
  }

  @Test
  void rejectsMissingTensor() throws IOException {
    rejectEdited("missing.safetensors", t -> t.remove("9.running_var"),
        "missing tensor '9.running_var'", "layer 9 (batchnorm)", "expected F32 [5]");
    rejectEdited("missing-nbt.safetensors", t -> t.remove("1.num_batches_tracked"),
        "missing tensor '1.num_batches_tracked'", "expected I64 []");
  }

  @Test
  void rejectsExtraTensor() throws IOException {
    rejectEdited("extra.safetensors", t -> t.put("12.weight",
        Tensor.f32(new long[] {2}, new float[2])), "unexpected tensor '12.weight'", "F32 [2]");
    // a bias for a layer declared without one
    rejectEdited("extra-bias.safetensors", t -> t.put("4.bias",
        Tensor.f32(new long[] {4}, new float[4])), "unexpected tensor '4.bias'");
  }

  @Test
  void rejectsWrongShape() throws IOException {
    rejectEdited("shape.safetensors", t -> t.put("4.weight",
        Tensor.f32(new long[] {4, 3, 5, 5}, new float[4 * 3 * 25])), "tensor '4.weight'",
        "layer 4 (conv)", "shape [4, 3, 5, 5], expected [4, 3, 3, 3]");
    // same element count, transposed
    rejectEdited("transposed.safetensors", t -> t.put("8.weight",
        Tensor.f32(new long[] {16, 5}, new float[80])), "tensor '8.weight'",
        "shape [16, 5], expected [5, 16]");
    rejectEdited("nbt-shape.safetensors", t -> t.put("1.num_batches_tracked",
        Tensor.i64(new long[] {1}, new long[] {3})), "tensor '1.num_batches_tracked'",
        "shape [1], expected []");
  }

  @Test
  void rejectsWrongDtype() throws IOException {
    rejectEdited("i32.safetensors", t -> t.put("8.bias",
        new Tensor(DType.I32, new long[] {5}, new byte[20])), "tensor '8.bias'",
        "layer 8 (dense)", "dtype I32, expected F32");
    rejectEdited("nbt-f32.safetensors", t -> t.put("9.num_batches_tracked",
        Tensor.f32(new long[0], new float[] {1})), "tensor '9.num_batches_tracked'",
        "dtype F32, expected I64");
  }

  @Test
  void rejectsNegativeCounter() throws IOException {
    rejectEdited("neg.safetensors", t -> t.put("1.num_batches_tracked",
        Tensor.i64(new long[0], new long[] {-1})), "'1.num_batches_tracked'", "value -1");
  }

  /**
   * A small file that does not match a huge model (here one of 2e9 parameters, 8 GB) is refused
   * for its shapes before the model's vectors are allocated: it used to run out of memory, which
   * the CLI reports as a failure (exit 3) with the advice to raise the heap.
   */
  @Test
  void rejectsAMismatchBeforeAllocatingTheModel() throws IOException {
    Network huge = new Network(ModelSpec.parse("""
        input { channels = 1, height = 100, width = 100 }
        layers = [ { type = flatten }, { type = dense, units = 200000 } ]
        """));
    assertTrue(huge.paramCount() > 2_000_000_000, "" + huge.paramCount());
    Map<String, Tensor> t = new LinkedHashMap<>();
    t.put("1.weight", Tensor.f32(new long[] {1, 1}, new float[1]));
    t.put("1.bias", Tensor.f32(new long[] {1}, new float[1]));
    Path p = dir.resolve("tiny.safetensors");
    SafeTensors.write(p, t, Map.of());
    BadInputException e = assertThrows(BadInputException.class, () -> TorchModel.load(huge, p));
    assertTrue(e.getMessage().contains(p + ": tensor '1.weight' (layer 1 (dense)): shape [1, 1], "
        + "expected [200000, 10000]"), e.getMessage());
  }
}
