package convspark.driver.interop;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One tensor of the safetensors format in memory (the file format itself is {@link
 * SafeTensors}): its element type, its shape (empty for a scalar) and its data as raw
 * little-endian bytes, row-major ({@code data.length == numel(shape) * dtype.bytes()}).
 */
public record Tensor(DType dtype, long[] shape, byte[] data) {
  public Tensor {
    shape = shape.clone();
    long n = numel(shape);
    if (n < 0 || n * dtype.bytes() != data.length) {
      throw new IllegalArgumentException(dtype + " " + Arrays.toString(shape) + " needs "
          + (n < 0 ? "too many" : String.valueOf(n * dtype.bytes())) + " bytes, found "
          + data.length);
    }
  }

  /** A float32 tensor holding {@code values} (copied) with the given shape. */
  public static Tensor f32(long[] shape, float[] values) {
    return f32(shape, values, 0, values.length);
  }

  /** A float32 tensor holding {@code values[off, off+len)}. */
  public static Tensor f32(long[] shape, float[] values, int off, int len) {
    ByteBuffer b = ByteBuffer.allocate(4 * len).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values, off, len);
    return new Tensor(DType.F32, shape, b.array());
  }

  /** An int64 tensor holding {@code values} with the given shape. */
  public static Tensor i64(long[] shape, long[] values) {
    ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return new Tensor(DType.I64, shape, b.array());
  }

  /** The shape (a copy). */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Number of elements (1 for a scalar). */
  public long numel() {
    return numel(shape);
  }

  /**
   * The values as float32: F32 as is (bit-exact), F16 and BF16 widened exactly, F64 rounded to
   * nearest.
   *
   * @throws IllegalStateException for any other dtype
   */
  public float[] toFloats() {
    ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    int n = (int) numel();
    float[] out = new float[n];
    switch (dtype) {
      case F32 -> b.asFloatBuffer().get(out);
      case F64 -> {
        for (int i = 0; i < n; i++) {
          out[i] = (float) b.getDouble(8 * i);
        }
      }
      case F16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = halfToFloat(b.getShort(2 * i));
        }
      }
      case BF16 -> {
        for (int i = 0; i < n; i++) {
          out[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xffff) << 16);
        }
      }
      default -> throw new IllegalStateException("not a floating-point tensor: " + dtype);
    }
    return out;
  }

  /**
   * The values of an I64 tensor.
   *
   * @throws IllegalStateException for any other dtype
   */
  public long[] toLongs() {
    if (dtype != DType.I64) {
      throw new IllegalStateException("not an I64 tensor: " + dtype);
    }
    long[] out = new long[(int) numel()];
    ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
    return out;
  }

  /** "F32 [6, 4, 3, 3]". */
  public String describe() {
    return dtype + " " + Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && t.dtype == dtype && Arrays.equals(t.shape, shape)
        && Arrays.equals(t.data, data);
  }

  @Override
  public int hashCode() {
    return 31 * (31 * dtype.hashCode() + Arrays.hashCode(shape)) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Tensor[" + describe() + "]";
  }

  /** The element types of the format, with their sizes in bytes. */
  public enum DType {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E5M2(1),
    F8_E4M3(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    I64(8),
    U64(8),
    F64(8);

    private final int bytes;

    DType(int bytes) {
      this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
      return bytes;
    }

    /** True for the types {@link Tensor#toFloats()} converts: F32, F16, BF16, F64. */
    public boolean isFloat() {
      return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    static DType parse(String s) {
      for (DType d : values()) {
        if (d.name().equals(s)) {
          return d;
        }
      }
      return null;
    }
  }

  /** Number of elements of {@code shape}, or -1 if it overflows a long or a dim is negative. */
  static long numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        return -1;
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        return -1;
      }
    }
    return n;
  }

  /** IEEE 754 binary16 to float32 (exact: every half is a float). */
  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      // zero or subnormal: mant * 2^-24, exact in float
      float v = mant * 0x1p-24f;
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  }
}
