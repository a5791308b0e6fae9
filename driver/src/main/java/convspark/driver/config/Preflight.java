package convspark.driver.config;

import convspark.common.BadInputException;
import convspark.common.nn.Layer;
import convspark.common.nn.Network;
import convspark.common.spec.LayerSpec;
import convspark.common.spec.ModelSpec;
import convspark.common.spec.Shape;
import java.util.List;

/**
 * Checks, before Spark starts and before the first epoch, what would otherwise fail late: a batch
 * whose buffers cannot be allocated (a Java array holds at most 2^31 - 1 values; the evaluation
 * batch is first used after an epoch), and a model whose driver-side copies do not fit in the
 * heap. The estimates are lower bounds: what passes may still be tight, what fails cannot work.
 * The CLI's commands and the Spark ML API ({@code CnnClassifier.fit}, {@code
 * CnnClassificationModel.transform}) run the same checks.
 */
public final class Preflight {
  private Preflight() {}

  /** Java's largest array, with the few words VMs reserve. */
  public static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

  /** {@code --stop-after N}: at least one epoch. */
  public static void stopAfter(int n) {
    if (n < 1) {
      throw new BadInputException("--stop-after " + n + ": must be at least 1 (epochs to run "
          + "in this invocation)");
    }
  }

  /** Checks the batch buffers and the driver's copies of the model against Java's limits. */
  public static void check(RunConfig cfg, long maxHeapBytes) {
    Network net = new Network(cfg.model());
    RunConfig.Train t = cfg.train();
    if (t.workers() > 0) {
      batch(net, t.globalBatch() / t.workers(), "config key train.global-batch", t.workers());
      localBatch(cfg.model(), t.globalBatch() / t.workers(), t.workers());
    }
    batch(net, t.evalBatch(), "config key train.eval-batch", 1);
    // the driver holds the parameters, the gradient, the copy it broadcasts and the optimizer
    // state (SGD momentum: one vector, Adam: two)
    int optCopies = t.optimizer().type() == convspark.worker.update.OptimizerSettings.Type.ADAM ? 2
        : t.optimizer().momentum() > 0 ? 1 : 0;
    long need = 4L * net.paramCount() * (3 + optCopies);
    if (need > maxHeapBytes) {
      throw new BadInputException(String.format("config key model: %,d parameters need at "
          + "least %.1f GB on the driver (weights, gradient, broadcast copy, optimizer state) "
          + "but the Java heap is %.1f GB; shrink the model or raise the heap "
          + "(CONVSPARK_MEMORY, spark.driver.memory)", net.paramCount(), need / 1e9,
          maxHeapBytes / 1e9));
    }
  }

  /**
   * A batch of one sample with a batch norm that sees one value per channel (after a dense or
   * flatten layer, or on a 1x1 map): training normalises over the batch a worker thread computes,
   * so the layer would output its beta alone and pass no gradient back, and the run would train
   * on nothing without a word (PyTorch refuses it too: "Expected more than 1 value per
   * channel"). Only a local batch of one gives such batches: the ring engine's {@code
   * spark.task.cpus} threads cut a local batch into slices of at least two samples (a batch of 8
   * over 8 threads runs as 4 slices of 2, on 4 of them), and the last, partial step of an epoch
   * is arranged not to leave a lone sample ({@code PartitionStep}).
   *
   * @throws BadInputException naming train.global-batch, the workers and the layer
   */
  public static void localBatch(ModelSpec model, int localBatch, int workers) {
    if (localBatch > 1) {
      return;
    }
    String bn = model.batchNormOverSamplesOnly();
    if (bn != null) {
      throw new BadInputException("config key train.global-batch: " + localBatch * workers
          + " over " + workers + (workers == 1 ? " worker" : " workers")
          + " leaves a local batch of " + localBatch + ", and " + bn
          + " normalises each channel over a thread's batch: with one value per channel it "
          + "outputs its beta alone and trains nothing; expected at least 2 samples per batch "
          + "(a larger global batch or fewer workers)");
    }
  }

  /** The batches of {@code evaluate} and {@code predict}: train.eval-batch and predict.inference-batch. */
  public static void inference(RunConfig cfg, Network net) {
    batch(net, cfg.train().evalBatch(), "config key train.eval-batch", 1);
    batch(net, cfg.predict().inferenceBatch(), "config key predict.inference-batch", 1);
  }

  /**
   * One batch of {@code n} samples (per worker, when {@code workers} > 1): each layer's buffer
   * must be a Java array that fits.
   *
   * @param what the setting that chose {@code n}, for the message (e.g. "config key
   *     train.eval-batch", "CnnClassificationModel param inferenceBatch")
   */
  public static void batch(Network net, long n, String what, int workers) {
    long largest = net.inputShape().size();
    for (Layer l : net.layers()) {
      largest = Math.max(largest, l.outShape().size());
    }
    if (n * largest > MAX_ARRAY) {
      throw new BadInputException(String.format("%s: %,d samples%s x %,d values "
          + "(the largest layer buffer per sample) is more than a Java array can hold (%,d); "
          + "use a smaller batch", what, n, workers > 1 ? " per worker" : "", largest,
          MAX_ARRAY));
    }
  }
}
