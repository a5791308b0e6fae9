package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.spec.ModelSpec;
import convspark.driver.data.Normalization;
import convspark.driver.interop.SafeTensors;
import convspark.driver.interop.TorchModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code convspark export}: a checkpoint's weights as safetensors with the state_dict names of
 * the equivalent {@code torch.nn.Sequential} (docs/PYTORCH.md). The metadata keeps the model
 * spec and the input normalisation, so {@code --init-from} can use the file alone. An existing
 * {@code --out} file is replaced only with {@code --overwrite}, and atomically (a failed export
 * leaves it as it was).
 */
@Command(name = "export", mixinStandardHelpOptions = true, version = Main.VERSION,
    description = "Export a checkpoint as safetensors for PyTorch.")
public final class ExportCommand implements Callable<Integer> {
  @Option(names = "--checkpoint", required = true, paramLabel = "FILE|RUN_DIR",
      description = "A checkpoint file, or a run's output directory (uses its final.bin).")
  String checkpoint;

  @Option(names = "--out", required = true, paramLabel = "FILE",
      description = "safetensors file (a missing parent directory is created).")
  Path out;

  @Option(names = "--overwrite", description = "Replace an existing --out file that holds an "
      + "earlier export (a safetensors file; anything else is refused).")
  boolean overwrite;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  /**
   * Whether {@code f} starts as a safetensors file does: an 8-byte little-endian header length
   * within the file, then the header's JSON object.
   */
  static boolean safetensors(Path f) {
    try (java.io.InputStream in = Files.newInputStream(f)) {
      byte[] head = in.readNBytes(9);
      if (head.length < 9 || head[8] != '{') {
        return false;
      }
      long n = java.nio.ByteBuffer.wrap(head, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
          .getLong();
      return n > 1 && n <= Files.size(f) - 8;
    } catch (java.io.IOException e) {
      return false;
    }
  }

  @Override
  public Integer call() throws Exception {
    if (Files.isDirectory(out)) {
      throw new BadInputException("--out " + out + ": is a directory; give the file to write");
    }
    if (Files.exists(out) && !overwrite) {
      throw new BadInputException("--out " + out + ": exists; pass --overwrite to replace it");
    }
    if (Files.exists(out) && !safetensors(out)) {
      throw new BadInputException("--out " + out + ": exists and is not a safetensors file; "
          + "--overwrite replaces only an earlier export (a checkpoint or data file named by "
          + "mistake is kept): choose another --out");
    }
    OutputPaths.checkParent("--out " + out, out);
    Checkpoint c = Checkpoints.load(checkpoint).checkpoint();
    Network net = new Network(ModelSpec.parse(c.modelSpec()));
    Map<String, String> meta = new LinkedHashMap<>();
    meta.put(TorchModel.SPEC_KEY, net.spec().render());
    meta.put("format", "pt");
    for (String k : Normalization.META_KEYS) {
      if (c.meta().containsKey(k)) {
        meta.put("convspark." + k, c.meta().get(k));
      }
    }
    SafeTensors.write(out, TorchModel.tensors(net, c.params(), c.state(), c.step()), meta);
    System.out.printf("exported %d parameters of %d layers to %s%n", net.paramCount(),
        net.layers().size(), out);
    return Main.OK;
  }
}
