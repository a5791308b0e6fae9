package convspark.bench;

import convspark.common.io.FloatArrays;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The first write and the first read of a model state's floats in a fresh JVM: what a JVM that
 * moves a state rarely pays (an executor's first ring round, a cluster driver at each round's
 * end). {@link FloatArrays} (a bulk copy through a little-endian {@code FloatBuffer} view) next
 * to the loop over the elements with a byte-array view {@code VarHandle} that it replaced,
 * measured in the same run. 843,680 floats: the default model's parameters and momentum (3.4
 * MB). Each fork is a fresh JVM whose object streams are warmed on a 10-float array first, so
 * only the floats' code is cold; one call per fork ({@code SingleShotTime}).
 *
 * <p>{@code java -jar bench/target/benchmarks.jar StateSerializationBench}
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 10, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 0)
@Measurement(iterations = 1)
@State(Scope.Thread)
public class StateSerializationBench {
  private static final int FLOATS = 843_680;
  private static final int CHUNK_FLOATS = 16 * 1024;
  private static final VarHandle LE =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  float[] values;
  byte[] written;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    values = new float[FLOATS];
    SplittableRandom r = new SplittableRandom(1);
    for (int i = 0; i < FLOATS; i++) {
      values[i] = (float) r.nextGaussian();
    }
    // the streams warm, the floats' code cold
    readBulk(writeBulk(new float[10]));
    readLoop(writeLoop(new float[10]));
    written = writeBulk(values); // the same bytes either way (FloatArraysTest)
  }

  @Benchmark
  public byte[] writeFloatArrays() throws IOException {
    return writeBulk(values);
  }

  @Benchmark
  public byte[] writeElementLoop() throws IOException {
    return writeLoop(values);
  }

  @Benchmark
  public float[] readFloatArrays() throws IOException {
    return readBulk(written);
  }

  @Benchmark
  public float[] readElementLoop() throws IOException {
    return readLoop(written);
  }

  private static byte[] writeBulk(float[] a) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(4 * a.length + 64);
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      FloatArrays.write(out, a);
    }
    return bytes.toByteArray();
  }

  private static float[] readBulk(byte[] b) throws IOException {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b))) {
      return FloatArrays.read(in);
    }
  }

  /** The loop FloatArrays.write ran until 2026-12-03. */
  private static byte[] writeLoop(float[] a) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(4 * a.length + 64);
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeInt(a.length);
      byte[] buf = new byte[4 * Math.min(a.length, CHUNK_FLOATS)];
      for (int from = 0; from < a.length; from += CHUNK_FLOATS) {
        int n = Math.min(CHUNK_FLOATS, a.length - from);
        for (int i = 0; i < n; i++) {
          LE.set(buf, 4 * i, a[from + i]);
        }
        out.write(buf, 0, 4 * n);
      }
    }
    return bytes.toByteArray();
  }

  /** The loop FloatArrays.read ran until 2026-12-03. */
  private static float[] readLoop(byte[] b) throws IOException {
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b))) {
      int len = in.readInt();
      float[] a = new float[len];
      byte[] buf = new byte[4 * Math.min(len, CHUNK_FLOATS)];
      for (int from = 0; from < len; from += CHUNK_FLOATS) {
        int n = Math.min(CHUNK_FLOATS, len - from);
        in.readFully(buf, 0, 4 * n);
        for (int i = 0; i < n; i++) {
          a[from + i] = (float) LE.get(buf, 4 * i);
        }
      }
      return a;
    }
  }
}
