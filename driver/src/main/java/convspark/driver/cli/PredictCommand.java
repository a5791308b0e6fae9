package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.nn.Pass;
import convspark.common.nn.Workspace;
import convspark.driver.config.RunConfig;
import convspark.driver.data.ImageSet;
import convspark.driver.data.Inputs;
import convspark.driver.train.SparkSessions;
import convspark.driver.train.Trainer;
import convspark.worker.SampleBlock;
import convspark.worker.WorkspaceCache;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code convspark predict}: class probabilities and predictions for the samples of config keys
 * data.test.*, computed batched on the executors, written as CSV (index, label, prediction,
 * p0..pK-1).
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
    description = "Predict classes for the data set of config keys data.test.*")
public final class PredictCommand implements Callable<Integer> {
  @Mixin CommonOptions common;

  @picocli.CommandLine.ArgGroup(exclusive = true, multiplicity = "1")
  Checkpoints.ModelSource model;

  @Option(names = "--output", required = true, paramLabel = "FILE",
      description = "CSV file to write.")
  Path output;

  @Override
  public Integer call() throws Exception {
    Checkpoint c = Checkpoints.load(model, common);
    RunConfig cfg = Checkpoints.config(common, c);
    if (!cfg.data().test().present()) {
      throw new BadInputException("config keys data.test.*: no data to predict");
    }
    Network net = new Network(cfg.model());
    EvaluateCommand.checkParams(c, net);
    ImageSet set = Inputs.read(cfg, cfg.data().test(), "data.test", new Configuration());
    set = Trainer.normalization(c, net.inputShape().channels()).apply(set);
    SparkSession spark = SparkSessions.start(cfg.spark(), common.master);
    try {
      JavaSparkContext jsc = SparkSessions.context(spark);
      int parts = cfg.train().workers() > 0 ? cfg.train().workers() : jsc.defaultParallelism();
      long t0 = System.nanoTime();
      SampleBlock[] blocks = SampleBlock.split(set.pixels(), set.labels(), set.sampleSize(),
          parts);
      var bc = jsc.broadcast(new float[][] {c.params(), c.state()});
      int batch = cfg.train().evalBatch();
      List<float[]> probs = jsc.parallelize(Arrays.asList(blocks), parts)
          .mapPartitions((Iterator<SampleBlock> it) -> {
            List<float[]> outRows = new ArrayList<>();
            while (it.hasNext()) {
              outRows.add(probabilities(it.next(), net, bc.value()[0], bc.value()[1], batch));
            }
            return outRows.iterator();
          }).collect();
      double secs = (System.nanoTime() - t0) / 1e9;
      bc.destroy();
      int k = net.classes();
      try (BufferedWriter w = Files.newBufferedWriter(output)) {
        StringBuilder h = new StringBuilder("index,label,prediction");
        for (int j = 0; j < k; j++) {
          h.append(",p").append(j);
        }
        w.write(h.append('\n').toString());
        int index = 0;
        for (float[] p : probs) {
          for (int i = 0; i < p.length / k; i++, index++) {
            int best = 0;
            for (int j = 1; j < k; j++) {
              if (p[i * k + j] > p[i * k + best]) {
                best = j;
              }
            }
            StringBuilder row = new StringBuilder().append(index).append(',')
                .append(set.labels()[index]).append(',').append(best);
            for (int j = 0; j < k; j++) {
              row.append(',').append(p[i * k + j]);
            }
            w.write(row.append('\n').toString());
          }
        }
      }
      System.out.printf("predicted %d rows in %.2f s (%.0f rows/s); written to %s%n",
          set.count(), secs, set.count() / secs, output);
    } finally {
      spark.stop();
    }
    return Main.OK;
  }

  /** Softmax probabilities of every sample of a block, n x classes. */
  static float[] probabilities(SampleBlock b, Network net, float[] params, float[] state,
      int batch) {
    int k = net.classes();
    float[] out = new float[b.count() * k];
    WorkspaceCache.Entry e = WorkspaceCache.borrow(net, batch);
    try {
      Workspace ws = e.workspace;
      Pass pass = Pass.inference(params, state);
      int size = b.sampleSize();
      for (int start = 0; start < b.count(); start += batch) {
        int n = Math.min(batch, b.count() - start);
        System.arraycopy(b.features(), start * size, ws.input(), 0, n * size);
        float[] logits = ws.forward(pass, n);
        for (int i = 0; i < n; i++) {
          double max = Double.NEGATIVE_INFINITY;
          for (int j = 0; j < k; j++) {
            max = Math.max(max, logits[i * k + j]);
          }
          double sum = 0;
          for (int j = 0; j < k; j++) {
            sum += Math.exp(logits[i * k + j] - max);
          }
          for (int j = 0; j < k; j++) {
            out[(start + i) * k + j] = (float) (Math.exp(logits[i * k + j] - max) / sum);
          }
        }
      }
    } finally {
      WorkspaceCache.giveBack(net, batch, e);
    }
    return out;
  }
}
