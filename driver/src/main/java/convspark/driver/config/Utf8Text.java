package convspark.driver.config;

import convspark.common.BadInputException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Configuration text read as UTF-8, refusing what is not. Typesafe Config (and {@code new
 * String(bytes, UTF_8)}) replaces a byte that is not UTF-8 with U+FFFD without a word: a config
 * saved as Latin-1 or Windows-1252 would train on a path or a name with a character silently
 * changed, and a UTF-16 one fails with a parse error about garbled keys. This names the file, the
 * line and the byte instead. A UTF-8 byte order mark is fine (HOCON skips it).
 */
public final class Utf8Text {
  private Utf8Text() {}

  /** Throws {@link BadInputException} naming {@code name} when {@code file} is not UTF-8. */
  public static void check(Path file, String name) throws IOException {
    decode(Files.readAllBytes(file), name);
  }

  /** {@code bytes} as UTF-8 text; a {@link BadInputException} naming {@code name} if not. */
  public static String decode(byte[] bytes, String name) {
    if (bytes.length >= 2 && ((bytes[0] == (byte) 0xFF && bytes[1] == (byte) 0xFE)
        || (bytes[0] == (byte) 0xFE && bytes[1] == (byte) 0xFF))) {
      throw new BadInputException(name + ": the file is UTF-16 (it starts with a UTF-16 byte "
          + "order mark); save it as UTF-8");
    }
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    CharBuffer out = CharBuffer.allocate(bytes.length);
    CoderResult r = decoder.decode(in, out, true);
    if (!r.isError()) {
      r = decoder.flush(out);
    }
    if (r.isError()) {
      int at = in.position();
      throw new BadInputException(name + ": line " + line(bytes, at) + ": byte "
          + String.format("0x%02X", bytes[at] & 0xFF) + " is not UTF-8 (a file saved as Latin-1 "
          + "or Windows-1252?); save it as UTF-8");
    }
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == 0) {
        throw new BadInputException(name + ": line " + line(bytes, i) + ": a NUL byte (a UTF-16 "
            + "file without a byte order mark, or not a text file?); save it as UTF-8 text");
      }
    }
    out.flip();
    return out.toString();
  }

  private static int line(byte[] bytes, int at) {
    int line = 1;
    for (int i = 0; i < at; i++) {
      if (bytes[i] == '\n') {
        line++;
      }
    }
    return line;
  }
}
