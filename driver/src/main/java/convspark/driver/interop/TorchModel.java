package convspark.driver.interop;

import convspark.common.BadInputException;
import convspark.common.nn.Layer;
import convspark.common.nn.Network;
import convspark.common.nn.Residual;
import convspark.common.spec.Shape;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.driver.interop.Tensor.DType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Model interchange with PyTorch: a network's parameters and batch-norm state as a safetensors
 * file whose tensor names and layouts are those of the {@code state_dict()} of a {@code
 * torch.nn.Sequential} built from the same layer list in the same order (see docs/PYTORCH.md):
 *
 * <ul>
 *   <li>a residual block at index i: its body layers as {@code i.body.j.*}, its shortcut layers
 *       as {@code i.shortcut.j.*} (the state dict of a module with two {@code nn.Sequential}
 *       attributes {@code body} and {@code shortcut}), recursively
 *   <li>conv at index i: {@code i.weight} [out, in/groups, k, k], {@code i.bias} [out] (when it
 *       has one)
 *   <li>dense at index i: {@code i.weight} [out, in], {@code i.bias} [out] (when it has one)
 *   <li>batchnorm at index i: {@code i.weight} (gamma) [C], {@code i.bias} (beta) [C], {@code
 *       i.running_mean} [C], {@code i.running_var} [C], {@code i.num_batches_tracked} (I64, shape
 *       [])
 *   <li>every other layer has no tensors (but keeps its index)
 * </ul>
 *
 * Exported files carry {@code __metadata__} {@code {"convspark.model": <spec>, "format": "pt"}}.
 */
public final class TorchModel {
  /** Metadata key holding the model spec (HOCON/JSON) of an exported file. */
  public static final String SPEC_KEY = "convspark.model";

  private TorchModel() {}

  /** Which flat vector a tensor lives in. */
  public enum Source {
    /** The trainable parameter vector. */
    PARAMS,
    /** The batch-norm running statistics vector. */
    STATE,
    /** {@code num_batches_tracked}: a counter kept outside both vectors. */
    COUNTER
  }

  /**
   * One tensor of a network's state dict: its PyTorch name, its dtype and shape, and where its
   * values live ({@code offset} into the {@code source} vector, {@code numel} values, row-major).
   */
  public record Entry(String name, DType dtype, long[] shape, Source source, int offset,
      int numel, String layer, String layerType) {
    @Override
    public long[] shape() {
      return shape.clone();
    }

    /** "layer 3 (conv)", "layer 4.body.0 (conv)". */
    public String where() {
      return "layer " + layer + " (" + layerType + ")";
    }
  }

  /** The parameters and state read by {@link #load}, in the layout of the network. */
  public record Loaded(float[] params, float[] state, long numBatchesTracked,
      Map<String, String> metadata) {
    public Loaded {
      metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }
  }

  /** The tensors of {@code net}'s state dict, in PyTorch's order. */
  public static List<Entry> layout(Network net) {
    List<Entry> out = new ArrayList<>();
    addAll(out, "", net.spec().layers(), net.layers());
    return out;
  }

  /** Entries of a chain of layers whose state-dict names start with {@code prefix}. */
  private static void addAll(List<Entry> out, String prefix, List<LayerSpec> specs,
      List<Layer> layers) {
    for (int i = 0; i < specs.size(); i++) {
      add(out, prefix + i, specs.get(i), layers.get(i));
    }
  }

  private static void add(List<Entry> out, String at, LayerSpec s, Layer l) {
    String type = s.type();
    int p = l.paramOffset();
    if (s instanceof LayerSpec.Conv c) {
      int in = l.inShape().channels() / c.groups(); // PyTorch's weight: [out, in/groups, k, k]
      int w = c.filters() * in * c.kernel() * c.kernel();
      out.add(new Entry(at + ".weight", DType.F32,
          new long[] {c.filters(), in, c.kernel(), c.kernel()}, Source.PARAMS, p, w, at, type));
      if (c.bias()) {
        out.add(new Entry(at + ".bias", DType.F32, new long[] {c.filters()}, Source.PARAMS,
            p + w, c.filters(), at, type));
      }
    } else if (s instanceof LayerSpec.Dense d) {
      int in = l.inShape().size();
      int w = d.units() * in;
      out.add(new Entry(at + ".weight", DType.F32, new long[] {d.units(), in}, Source.PARAMS, p,
          w, at, type));
      if (d.bias()) {
        out.add(new Entry(at + ".bias", DType.F32, new long[] {d.units()}, Source.PARAMS, p + w,
            d.units(), at, type));
      }
    } else if (s instanceof LayerSpec.BatchNorm) {
      int ch = l.inShape().channels();
      long[] c = {ch};
      int st = l.stateOffset();
      out.add(new Entry(at + ".weight", DType.F32, c, Source.PARAMS, p, ch, at, type));
      out.add(new Entry(at + ".bias", DType.F32, c, Source.PARAMS, p + ch, ch, at, type));
      out.add(new Entry(at + ".running_mean", DType.F32, c, Source.STATE, st, ch, at, type));
      out.add(new Entry(at + ".running_var", DType.F32, c, Source.STATE, st + ch, ch, at, type));
      out.add(new Entry(at + ".num_batches_tracked", DType.I64, new long[0], Source.COUNTER, 0, 1,
          at, type));
    } else if (s instanceof LayerSpec.Residual r && l instanceof Residual rl) {
      // as a module with attributes body and shortcut (nn.Sequential each); see docs/PYTORCH.md
      addAll(out, at + ".body.", r.layers(), rl.body());
      addAll(out, at + ".shortcut.", r.shortcut(), rl.shortcut());
    } else if (l.paramCount() != 0 || l.stateCount() != 0) {
      throw new IllegalStateException("layer " + at + " (" + type + ") has parameters but no "
          + "PyTorch mapping");
    }
  }

  /** The tensors {@link #export} writes, in order. */
  public static Map<String, Tensor> tensors(Network net, float[] params, float[] state,
      long numBatchesTracked) {
    if (params.length != net.paramCount()) {
      throw new IllegalArgumentException("params has " + params.length + " values, the network "
          + net.paramCount());
    }
    if (state.length != net.stateCount()) {
      throw new IllegalArgumentException("state has " + state.length + " values, the network "
          + net.stateCount());
    }
    Map<String, Tensor> t = new LinkedHashMap<>();
    for (Entry e : layout(net)) {
      t.put(e.name(), switch (e.source()) {
        case PARAMS -> Tensor.f32(e.shape, params, e.offset(), e.numel());
        case STATE -> Tensor.f32(e.shape, state, e.offset(), e.numel());
        case COUNTER -> Tensor.i64(e.shape, new long[] {numBatchesTracked});
      });
    }
    return t;
  }

  /**
   * Writes {@code params} and {@code state} of {@code net} to {@code out} as safetensors with
   * PyTorch {@code nn.Sequential} names; every batch norm gets {@code numBatchesTracked}.
   *
   * @throws UncheckedIOException when the file cannot be written
   */
  public static void export(Network net, float[] params, float[] state, long numBatchesTracked,
      Path out) {
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(SPEC_KEY, net.spec().render());
    meta.put("format", "pt");
    try {
      SafeTensors.write(out, tensors(net, params, state, numBatchesTracked), meta);
    } catch (IOException e) {
      throw new UncheckedIOException(out + ": cannot write: " + e.getMessage(), e);
    }
  }

  /**
   * The model spec stored in an exported file's metadata, or null when the file has none (e.g.
   * one written by PyTorch).
   *
   * @throws BadInputException when the file is malformed or its spec does not parse
   */
  public static ModelSpec readSpec(Path file) {
    String s = SafeTensors.read(file).metadata().get(SPEC_KEY);
    if (s == null) {
      return null;
    }
    try {
      return ModelSpec.parse(s);
    } catch (BadInputException e) {
      throw new BadInputException(file + ": __metadata__ '" + SPEC_KEY + "': " + e.getMessage(),
          e);
    }
  }

  /**
   * Reads {@code file} into parameters and state for {@code net}. Floating-point tensors may be
   * F32 (read bit-exactly), F16, BF16 or F64 (converted to float32); {@code num_batches_tracked}
   * must be I64. The returned {@code numBatchesTracked} is the largest over the batch norms (0
   * when there are none).
   *
   * @throws BadInputException naming the file and the tensor, with what was expected and what was
   *     found, for a malformed file, a missing or unexpected tensor, a wrong shape or a wrong dtype
   */
  public static Loaded load(Network net, Path file) {
    SafeTensors.Contents c = SafeTensors.read(file);
    List<Entry> layout = layout(net);
    Map<String, Tensor> found = c.tensors();
    Map<String, Entry> want = new LinkedHashMap<>();
    for (Entry e : layout) {
      want.put(e.name(), e);
    }
    for (Entry e : layout) {
      if (!found.containsKey(e.name())) {
        throw new BadInputException(file + ": missing tensor '" + e.name() + "' (" + e.where()
            + ", expected " + e.dtype() + " " + Arrays.toString(e.shape) + "); the file has "
            + names(found.keySet()));
      }
    }
    List<String> extra = found.keySet().stream().filter(n -> !want.containsKey(n))
        .collect(Collectors.toList());
    if (!extra.isEmpty()) {
      String first = extra.get(0);
      throw new BadInputException(file + ": unexpected tensor '" + first + "' ("
          + found.get(first).describe() + ")"
          + (extra.size() > 1 ? " and " + (extra.size() - 1) + " more " + names(extra) : "")
          + "; the model " + describe(net) + " has no such tensor");
    }
    // every shape and dtype is checked before the model's vectors are allocated: a small file
    // that does not match a huge model (its metadata's, or the config's) is bad input, not an
    // out-of-memory error
    long tracked = 0;
    for (Entry e : layout) {
      Tensor t = found.get(e.name());
      String at = file + ": tensor '" + e.name() + "' (" + e.where() + ")";
      if (!Arrays.equals(t.shape(), e.shape)) {
        throw new BadInputException(at + ": shape " + Arrays.toString(t.shape()) + ", expected "
            + Arrays.toString(e.shape));
      }
      if (e.source() == Source.COUNTER) {
        if (t.dtype() != DType.I64) {
          throw new BadInputException(at + ": dtype " + t.dtype() + ", expected I64");
        }
        long v = t.toLongs()[0];
        if (v < 0) {
          throw new BadInputException(at + ": value " + v + ", expected a count >= 0");
        }
        tracked = Math.max(tracked, v);
        continue;
      }
      if (!t.dtype().isFloat()) {
        throw new BadInputException(at + ": dtype " + t.dtype() + ", expected F32 (or F16, BF16, "
            + "F64)");
      }
    }
    float[] params = new float[net.paramCount()];
    float[] state = new float[net.stateCount()];
    for (Entry e : layout) {
      if (e.source() != Source.COUNTER) {
        float[] dst = e.source() == Source.PARAMS ? params : state;
        System.arraycopy(found.get(e.name()).toFloats(), 0, dst, e.offset(), e.numel());
      }
    }
    return new Loaded(params, state, tracked, c.metadata());
  }

  private static String describe(Network net) {
    Shape s = net.inputShape();
    return "(input " + s + ", " + net.spec().layers().size() + " layers: "
        + net.spec().layers().stream().map(LayerSpec::type).collect(Collectors.joining(", "))
        + ")";
  }

  /** Up to 8 names, quoted, for messages. */
  private static String names(java.util.Collection<String> names) {
    if (names.isEmpty()) {
      return "no tensors";
    }
    List<String> l = new ArrayList<>(names);
    String shown = l.stream().limit(8).map(n -> "'" + n + "'").collect(Collectors.joining(", "));
    return "[" + shown + (l.size() > 8 ? ", ... (" + l.size() + " in all)" : "") + "]";
  }
}
