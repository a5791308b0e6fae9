package convspark.driver.interop;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import convspark.common.BadInputException;
import convspark.common.io.AtomicFiles;
import convspark.driver.interop.Tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a>
 * format: an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
 *
 * <pre>
 * {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
 *  "__metadata__": {"key": "value"}}
 * </pre>
 *
 * (possibly padded with trailing spaces), then the little-endian data buffer. Offsets are relative
 * to the start of the data buffer, and the tensors must tile it exactly: no holes, no overlaps,
 * nothing left over.
 *
 * <p>Every problem with a file is a one-line {@link BadInputException} naming the file and, where
 * there is one, the tensor. Tensors of every dtype of the format are read and kept as raw bytes;
 * {@link Tensor#toFloats()} converts F32, F16, BF16 and F64 to float32 and {@link
 * Tensor#toLongs()} reads I64. Writing takes tensors of any dtype; {@link Tensor#f32} and {@link
 * Tensor#i64} build the two this project writes.
 */
public final class SafeTensors {
  /** The reserved header key for string metadata. */
  public static final String METADATA_KEY = "__metadata__";

  /** Headers above this are refused before being allocated (the reference reader's limit). */
  static final long MAX_HEADER = 100L << 20;

  private static final ObjectMapper JSON = new ObjectMapper()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private SafeTensors() {}

  /** A whole file: tensors in header order, and the string metadata (empty if none). */
  public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {
    public Contents {
      tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
      metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
  }

  // ------------------------------------------------------------------------------- reading

  /**
   * Reads and validates {@code file}.
   *
   * @throws BadInputException for a missing or unreadable file or any violation of the format
   */
  public static Contents read(Path file) {
    long size;
    byte[] bytes;
    try {
      size = Files.size(file);
      if (size > Integer.MAX_VALUE - 16) {
        throw new BadInputException(file + ": safetensors files larger than 2 GiB are not "
            + "supported (" + size + " bytes)");
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new BadInputException(file + ": no such file");
    } catch (IOException e) {
      throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
    }
    return decode(bytes, file.toString());
  }

  /**
   * Parses the bytes of a safetensors file; {@code name} is the file name used in messages.
   *
   * @throws BadInputException for any violation of the format
   */
  public static Contents decode(byte[] bytes, String name) {
    if (bytes.length < 8) {
      throw new BadInputException(name + ": not a safetensors file: " + bytes.length
          + " bytes, shorter than the 8-byte header length");
    }
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    long room = bytes.length - 8L;
    if (n < 0 || n > room) {
      throw new BadInputException(name + ": safetensors header length "
          + Long.toUnsignedString(n) + " exceeds the " + room
          + " bytes after the length field (truncated or not a safetensors file)");
    }
    if (n > MAX_HEADER) {
      throw new BadInputException(name + ": safetensors header length " + n
          + " exceeds the limit of " + MAX_HEADER + " bytes");
    }
    int headerLen = (int) n;
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes, 8, headerLen)).toString();
    } catch (CharacterCodingException e) {
      throw new BadInputException(name + ": safetensors header is not valid UTF-8");
    }
    if (!text.startsWith("{")) {
      throw new BadInputException(name + ": safetensors header is not a JSON object (starts with "
          + quote(text.length() > 20 ? text.substring(0, 20) + "..." : text) + ")");
    }
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      // a parser limit (nesting depth, number or string length) is reported without a location
      JsonLocation at = e.getLocation();
      throw new BadInputException(name + ": safetensors header is malformed JSON: "
          + oneLine(e.getOriginalMessage()) + (at == null ? "" : " (line " + at.getLineNr()
          + ", column " + at.getColumnNr() + ")"));
    }
    if (root == null || !root.isObject()) {
      throw new BadInputException(name + ": safetensors header is not a JSON object");
    }
    int dataStart = 8 + headerLen;
    long bufLen = bytes.length - (long) dataStart;

    Map<String, String> meta = new LinkedHashMap<>();
    List<Entry> entries = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> f = it.next();
      String key = f.getKey();
      JsonNode v = f.getValue();
      if (key.equals(METADATA_KEY)) {
        if (!v.isObject()) {
          throw new BadInputException(name + ": " + METADATA_KEY + " must be an object of "
              + "strings, found " + v.getNodeType().toString().toLowerCase());
        }
        for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
          Map.Entry<String, JsonNode> e = m.next();
          if (!e.getValue().isTextual()) {
            throw new BadInputException(name + ": " + METADATA_KEY + " value of '" + e.getKey()
                + "' must be a string, found " + e.getValue().getNodeType().toString()
                    .toLowerCase());
          }
          meta.put(e.getKey(), e.getValue().asText());
        }
        continue;
      }
      entries.add(parseEntry(name, key, v));
    }

    // The tensors must tile [0, bufLen) exactly.
    List<Entry> sorted = new ArrayList<>(entries);
    sorted.sort(Comparator.comparingLong((Entry e) -> e.begin).thenComparingLong(e -> e.end));
    long pos = 0;
    Entry prev = null;
    for (Entry e : sorted) {
      String t = name + ": tensor '" + e.name + "'";
      if (e.end > bufLen) {
        throw new BadInputException(t + ": data_offsets [" + e.begin + ", " + e.end
            + "] run past the end of the data buffer (" + bufLen + " bytes)");
      }
      if (e.begin < pos) {
        throw new BadInputException(t + ": data_offsets [" + e.begin + ", " + e.end
            + "] overlap tensor '" + prev.name + "' [" + prev.begin + ", " + prev.end + "]");
      }
      if (e.begin > pos) {
        throw new BadInputException(t + ": data_offsets [" + e.begin + ", " + e.end
            + "] leave a gap of " + (e.begin - pos) + " unused bytes at offset " + pos
            + " of the data buffer");
      }
      pos = e.end;
      prev = e;
    }
    if (pos != bufLen) {
      throw new BadInputException(name + ": data buffer has " + bufLen + " bytes but the tensors "
          + "cover only " + pos + (prev == null ? "" : " (last: '" + prev.name + "')")
          + "; trailing bytes are not allowed");
    }

    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (Entry e : entries) {
      byte[] data = Arrays.copyOfRange(bytes, dataStart + (int) e.begin, dataStart + (int) e.end);
      tensors.put(e.name, new Tensor(e.dtype, e.shape, data));
    }
    return new Contents(tensors, meta);
  }

  private record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

  private static Entry parseEntry(String file, String key, JsonNode v) {
    String t = file + ": tensor '" + key + "'";
    if (!v.isObject()) {
      throw new BadInputException(t + ": header entry must be an object with dtype, shape and "
          + "data_offsets, found " + v.getNodeType().toString().toLowerCase());
    }
    JsonNode dt = v.get("dtype");
    if (dt == null || !dt.isTextual()) {
      throw new BadInputException(t + ": missing or non-string 'dtype'");
    }
    DType dtype = DType.parse(dt.asText());
    if (dtype == null) {
      throw new BadInputException(t + ": unknown dtype " + quote(dt.asText()) + " (expected one of "
          + Arrays.toString(DType.values()) + ")");
    }
    long[] shape = longs(v.get("shape"), t, "shape", -1);
    long[] off = longs(v.get("data_offsets"), t, "data_offsets", 2);
    if (off[1] < off[0]) {
      throw new BadInputException(t + ": data_offsets [" + off[0] + ", " + off[1]
          + "] end before they begin");
    }
    long numel = Tensor.numel(shape);
    long want = numel < 0 || numel > Long.MAX_VALUE / dtype.bytes() ? -1 : numel * dtype.bytes();
    if (want != off[1] - off[0]) {
      throw new BadInputException(t + ": data_offsets [" + off[0] + ", " + off[1] + "] span "
          + (off[1] - off[0]) + " bytes but " + dtype + " " + Arrays.toString(shape) + " needs "
          + (want < 0 ? "more than 2^63" : String.valueOf(want)));
    }
    return new Entry(key, dtype, shape, off[0], off[1]);
  }

  /** Reads a JSON array of non-negative integers; {@code len} -1 for any length. */
  private static long[] longs(JsonNode a, String t, String what, int len) {
    if (a == null || !a.isArray() || (len >= 0 && a.size() != len)) {
      throw new BadInputException(t + ": '" + what + "' must be an array of "
          + (len >= 0 ? len + " " : "") + "non-negative integers, found "
          + (a == null ? "nothing" : oneLine(a.toString())));
    }
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode x = a.get(i);
      if (!x.isIntegralNumber() || !x.canConvertToLong() || x.asLong() < 0) {
        throw new BadInputException(t + ": '" + what + "' must be an array of non-negative "
            + "integers, found " + oneLine(a.toString()));
      }
      out[i] = x.asLong();
    }
    return out;
  }

  private static String quote(String s) {
    return "'" + oneLine(s) + "'";
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.replaceAll("\\s+", " ").trim();
  }

  // ------------------------------------------------------------------------------- writing

  /**
   * The bytes of a safetensors file with {@code tensors} laid out in iteration order and {@code
   * metadata} (may be empty) as {@code __metadata__}. The header is padded with spaces so that the
   * data buffer starts at a multiple of 8 bytes.
   */
  public static byte[] encode(Map<String, Tensor> tensors, Map<String, String> metadata) {
    ObjectNode header = JSON.createObjectNode();
    if (!metadata.isEmpty()) {
      ObjectNode m = header.putObject(METADATA_KEY);
      metadata.forEach(m::put);
    }
    long off = 0;
    for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
      if (e.getKey().equals(METADATA_KEY)) {
        throw new IllegalArgumentException(METADATA_KEY + " is not a valid tensor name");
      }
      Tensor t = e.getValue();
      ObjectNode o = header.putObject(e.getKey());
      o.put("dtype", t.dtype().name());
      ArrayNode s = o.putArray("shape");
      for (long d : t.shape()) {
        s.add(d);
      }
      ArrayNode d = o.putArray("data_offsets");
      d.add(off);
      off += t.data().length;
      d.add(off);
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(header);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
    int padded = (json.length + 7) / 8 * 8;
    if (8L + padded + off > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("safetensors file would exceed 2 GiB");
    }
    ByteBuffer out = ByteBuffer.allocate(8 + padded + (int) off).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(padded);
    out.put(json);
    for (int i = json.length; i < padded; i++) {
      out.put((byte) ' ');
    }
    for (Tensor t : tensors.values()) {
      out.put(t.data());
    }
    return out.array();
  }

  /**
   * Writes {@code tensors} and {@code metadata} to {@code file} atomically ({@link AtomicFiles}:
   * a temporary file in the same directory, then renamed), so a reader never sees a half-written
   * file and a failed write leaves an older file as it was.
   */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    byte[] bytes = encode(tensors, metadata);
    Path dir = file.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    AtomicFiles.write(file, bytes);
  }
}
