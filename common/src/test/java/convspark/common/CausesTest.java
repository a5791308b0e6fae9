package convspark.common;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.junit.jupiter.api.Test;

class CausesTest {
  @Test
  void aWrappersLineGetsTheInnermostCauseThatSaysSomething() {
    Exception e = new RuntimeException("Job aborted due to stage failure: Exception thrown in "
        + "awaitResult:", new IllegalStateException("", new IOException(
            "file:/d/part-0.parquet is not a Parquet file. Expected magic number\nat tail")));
    assertEquals("Job aborted (cause: java.io.IOException: file:/d/part-0.parquet is not a "
        + "Parquet file. Expected magic number)", Causes.withInnermost("Job aborted", e));
    // nothing added where the line says it already, or where no cause has a message
    assertEquals("x: is not a Parquet file. Expected magic number", Causes.withInnermost(
        "x: is not a Parquet file. Expected magic number", new RuntimeException("w",
            new IOException("is not a Parquet file. Expected magic number"))));
    assertEquals("plain", Causes.withInnermost("plain", new RuntimeException("plain",
        new IOException((String) null))));
    assertEquals("", Causes.firstLine(null));
    assertEquals("a", Causes.firstLine(" a \nb"));
  }
}
