package convspark.driver.metrics;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The project's JSON mapper (Jackson, as shipped with Spark). A number that is not finite (a
 * validation loss of a run without validation data is NaN) is written as JSON's {@code null},
 * which every JSON reader takes as missing (Jackson's default, the string "NaN", made pandas read
 * a column of text); a {@code null} read into a {@code double} is NaN again.
 */
public final class Json {
  private Json() {}

  public static final ObjectMapper MAPPER = JsonMapper.builder()
      .addModule(new SimpleModule("non-finite as null")
          .addSerializer(Double.class, new NonFiniteAsNull())
          .addSerializer(Double.TYPE, new NonFiniteAsNull())
          .addDeserializer(Double.TYPE, new NullAsNaN()))
      .build();

  private static final class NonFiniteAsNull extends JsonSerializer<Double> {
    @Override
    public void serialize(Double v, JsonGenerator g, SerializerProvider p) throws IOException {
      if (Double.isFinite(v)) {
        g.writeNumber(v);
      } else {
        g.writeNull();
      }
    }
  }

  private static final class NullAsNaN extends JsonDeserializer<Double> {
    @Override
    public Double deserialize(JsonParser p, DeserializationContext c) throws IOException {
      return p.getValueAsDouble(Double.NaN);
    }

    @Override
    public Double getNullValue(DeserializationContext c) {
      return Double.NaN;
    }
  }

  public static String write(Object o) {
    try {
      return MAPPER.writeValueAsString(o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String pretty(Object o) {
    try {
      return MAPPER.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
