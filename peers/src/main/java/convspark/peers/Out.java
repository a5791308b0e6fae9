package convspark.peers;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The one machine-readable line each peer program ends with: {@code RESULT {json}}. */
final class Out {
  private final Map<String, Object> m = new LinkedHashMap<>();

  Out put(String k, Object v) {
    m.put(k, v);
    return this;
  }

  void print() {
    StringBuilder b = new StringBuilder("RESULT {");
    boolean first = true;
    for (Map.Entry<String, Object> e : m.entrySet()) {
      if (!first) {
        b.append(", ");
      }
      first = false;
      b.append('"').append(e.getKey()).append("\": ");
      Object v = e.getValue();
      if (v == null) {
        b.append("null");
      } else if (v instanceof Double d) {
        b.append(Double.isFinite(d) ? String.format(Locale.ROOT, "%.6g", d) : "null");
      } else if (v instanceof Number || v instanceof Boolean) {
        b.append(v);
      } else {
        b.append('"').append(v.toString().replace("\\", "\\\\").replace("\"", "\\\"")
            .replace("\n", " ")).append('"');
      }
    }
    System.out.println(b.append('}'));
    System.out.flush();
  }
}
