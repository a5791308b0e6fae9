package convspark.driver.train;

import convspark.common.BadInputException;
import convspark.common.blas.Blas;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.nn.ParamRange;
import convspark.common.optim.Adam;
import convspark.common.optim.LrSchedule;
import convspark.common.optim.Optimizer;
import convspark.common.optim.Regularization;
import convspark.common.optim.Sgd;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.data.Frames;
import convspark.driver.data.ImageSet;
import convspark.driver.data.Inputs;
import convspark.driver.data.Normalization;
import convspark.driver.metrics.EpochMetrics;
import convspark.driver.metrics.Json;
import convspark.driver.metrics.Plots;
import convspark.worker.Augment;
import convspark.worker.Evaluation;
import convspark.worker.StepPlan;
import convspark.worker.StepResult;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The training loop on the driver. Each step: broadcast the weights, let every partition compute
 * the gradient sum of its share of the global batch, sum them (allreduce), divide by the global
 * sample count, add regularisation, apply the optimizer with the scheduled learning rate and
 * fold the workers' batch-norm statistics into the running statistics. Each epoch: validation,
 * metrics, checkpoint, early stopping. At the end: the best weights are evaluated on the test
 * set and {@code summary.json} and a plot are written to the output directory.
 */
public final class Trainer {
  private final RunConfig cfg;
  private final JavaSparkContext jsc;
  private final Path out;
  private final String checkpointDir;
  private final PrintStream log;
  private float[] initialParams;
  private float[] initialState;

  public Trainer(RunConfig cfg, JavaSparkContext jsc, Path out, String checkpointDir,
      PrintStream log) {
    this.cfg = cfg;
    this.jsc = jsc;
    this.out = out;
    this.checkpointDir = checkpointDir;
    this.log = log;
  }

  /**
   * One split of a run's data, not yet distributed: either samples read on the driver (IDX, CSV)
   * or a DataFrame whose rows the executors pack themselves.
   */
  public interface Split {
    /** Number of samples. */
    long count();

    /** Packs the samples into {@code partitions} balanced, cached blocks. */
    Distributed.Blocks toBlocks(JavaSparkContext jsc, int partitions, String name);
  }

  /** A split read on the driver, already normalised. */
  public record ArraySplit(ImageSet set) implements Split {
    public long count() {
      return set.count();
    }

    public Distributed.Blocks toBlocks(JavaSparkContext jsc, int partitions, String name) {
      return Distributed.blocks(jsc, set.pixels(), set.labels(), set.sampleSize(), partitions,
          name);
    }
  }

  /** The data a run trains on: train, validation (may be null), test (may be null). */
  public record Prepared(Split train, Split validation, Split test,
      Normalization normalization) {}

  /**
   * Reads and prepares a DataFrame source (data.format = dataframe): schema checks now,
   * normalisation statistics from one distributed pass, packing when training starts.
   */
  public static Prepared prepareFrames(RunConfig cfg, SparkSession spark) {
    RunConfig.Data d = cfg.data();
    RunConfig.Frame f = d.frame();
    Frames.Columns cols = new Frames.Columns(f.labelCol(), f.featuresCol());
    Dataset<Row> train = frame(spark, f, d.train(), "data.train");
    Dataset<Row> val = null;
    if (d.validation().present()) {
      val = frame(spark, f, d.validation(), "data.validation");
    } else if (d.validationFraction() > 0) {
      List<Dataset<Row>> parts = Frames.split(train, d.validationFraction(), cfg.train().seed());
      train = parts.get(0);
      val = parts.get(1);
    }
    Dataset<Row> test = d.test().present() ? frame(spark, f, d.test(), "data.test") : null;
    var shape = cfg.model().input();
    Normalization norm = switch (d.normalize()) {
      case AUTO -> Frames.fit(train, cols, shape, d.scale(), d.train().path());
      case NONE -> Normalization.scaleOnly(d.scale(), shape.channels());
      case GIVEN -> Normalization.of(d.scale(), d.mean(), d.std(), shape.channels());
    };
    int classes = cfg.model().classes();
    return new Prepared(
        new Frames.FrameSplit(train, cols, shape, classes, norm, d.train().path()),
        val == null ? null : new Frames.FrameSplit(val, cols, shape, classes, norm,
            d.validation().present() ? d.validation().path() : "validation split"),
        test == null ? null : new Frames.FrameSplit(test, cols, shape, classes, norm,
            d.test().path()), norm);
  }

  private static Dataset<Row> frame(SparkSession spark, RunConfig.Frame f, RunConfig.Input in,
      String key) {
    if (in.path().isEmpty()) {
      throw new BadInputException("config key " + key + ".path: required for data.format = "
          + "dataframe");
    }
    Dataset<Row> df = Frames.read(spark, f.source(), f.options(), in.path(), key + ".path");
    Frames.checkSchema(df.schema(), new Frames.Columns(f.labelCol(), f.featuresCol()));
    return df;
  }

  /** Reads and prepares the configured files on the driver (IDX, CSV). */
  public static Prepared prepare(RunConfig cfg, org.apache.hadoop.conf.Configuration conf) {
    RunConfig.Data d = cfg.data();
    ImageSet train = Inputs.read(cfg, d.train(), "data.train", conf);
    ImageSet val = null;
    if (d.validation().present()) {
      val = Inputs.read(cfg, d.validation(), "data.validation", conf);
    } else if (d.validationFraction() > 0) {
      ImageSet.Split s = ImageSet.split(train, d.validationFraction(), cfg.train().seed());
      if (s.train().count() == 0 || s.holdout().count() == 0) {
        throw new BadInputException("config key data.validation-fraction: "
            + d.validationFraction() + " of " + train.count()
            + " samples leaves an empty training or validation set");
      }
      train = s.train();
      val = s.holdout();
    }
    ImageSet test = d.test().present() ? Inputs.read(cfg, d.test(), "data.test", conf) : null;
    int channels = cfg.model().input().channels();
    Normalization norm = switch (d.normalize()) {
      case AUTO -> Normalization.fit(train, d.scale());
      case NONE -> Normalization.scaleOnly(d.scale(), channels);
      case GIVEN -> Normalization.of(d.scale(), d.mean(), d.std(), channels);
    };
    return new Prepared(new ArraySplit(norm.apply(train)),
        val == null ? null : new ArraySplit(norm.apply(val)),
        test == null ? null : new ArraySplit(norm.apply(test)), norm);
  }

  /** Starts from these weights instead of a seeded initialisation (not used on resume). */
  public void initialWeights(float[] params, float[] state) {
    this.initialParams = params.clone();
    this.initialState = state.clone();
  }

  /** What a run reports at the end (also written as summary.json). */
  public record Result(Map<String, Object> summary, float[] params, float[] state) {}

  public Result run(Prepared data, boolean resume) throws IOException {
    return run(data, resume, Integer.MAX_VALUE);
  }

  /**
   * Trains; with {@code stopAfter} epochs done in this invocation it stops early, as a job with a
   * time window would, leaving a checkpoint to {@code --resume} from.
   */
  public Result run(Prepared data, boolean resume, int stopAfter) throws IOException {
    long wallStart = System.nanoTime();
    RunConfig.Train t = cfg.train();
    Network net = new Network(cfg.model());
    int partitions = t.workers() > 0 ? t.workers() : jsc.defaultParallelism();
    if (t.globalBatch() % partitions != 0) {
      throw new BadInputException("config key train.global-batch: " + t.globalBatch()
          + " does not divide evenly over " + partitions + " workers (train.workers"
          + (t.workers() == 0 ? " = 0, i.e. Spark's default parallelism" : "") + ")");
    }
    int localBatch = t.globalBatch() / partitions;
    Distributed.Blocks trainBlocks = data.train().toBlocks(jsc, partitions, "train");
    Distributed.Blocks valBlocks = data.validation() == null ? null
        : data.validation().toBlocks(jsc, partitions, "validation");
    long n = trainBlocks.count();
    int stepsPerEpoch = (trainBlocks.maxBlock() + localBatch - 1) / localBatch;
    LrSchedule schedule = t.lrSchedule();
    log.printf("convspark: BLAS %s%n", Blas.describe());
    log.printf("convspark: model %d parameters, %d layers, input %s, %d classes%n",
        net.paramCount(), net.layers().size(), net.inputShape(), net.classes());
    log.printf("convspark: %d training samples, %s validation, %s test; %d workers x local "
            + "batch %d = global batch %d; %d steps/epoch%n",
        n, data.validation() == null ? "no" : data.validation().count(),
        data.test() == null ? "no" : data.test().count(), partitions, localBatch,
        t.globalBatch(), stepsPerEpoch);
    log.printf("convspark: learning rate: base %.4g for batch %d, k = %.3g, scaling %s -> "
            + "%.4g, warmup %.3g epochs, then %s%n",
        t.baseLr(), t.baseBatch(), schedule.k(), t.scaling().name().toLowerCase(),
        schedule.scaledLr(), t.warmupEpochs(), t.decay().name().toLowerCase());


    float[] params = initialParams != null ? initialParams.clone() : net.initParams(t.seed());
    float[] state = initialState != null ? initialState.clone() : net.initState();
    if (params.length != net.paramCount() || state.length != net.stateCount()) {
      throw new BadInputException("initial weights have " + params.length + " parameters, the "
          + "model has " + net.paramCount());
    }
    Optimizer opt = optimizer(net);
    List<ParamRange> regRanges = new ArrayList<>(net.weightRanges());
    if (t.regularizeAll()) {
      regRanges.addAll(net.otherParamRanges());
    }
    Regularization reg = new Regularization(t.l1(), t.l2(), regRanges);
    CheckpointStore store = new CheckpointStore(checkpointDir, t.keepLast(),
        jsc.hadoopConfiguration());

    int startEpoch = 0;
    long step = 0;
    EarlyStop stop = new EarlyStop(t.earlyStopping());
    List<EpochMetrics> history = new ArrayList<>();
    float[] bestParams = null;
    float[] bestState = null;
    if (resume) {
      Optional<Checkpoint> latest = store.latest();
      if (latest.isEmpty()) {
        throw new BadInputException("--resume: no usable checkpoint in " + checkpointDir);
      }
      Checkpoint c = latest.get();
      checkSameModel(c, net, store.dir().toString());
      params = c.params().clone();
      state = c.state().clone();
      opt.loadState(c.optimizerState(), c.optimizerSteps());
      startEpoch = c.epoch();
      step = c.step();
      stop.restore(c.meta());
      Optional<Checkpoint> best = store.readNamed("best.bin");
      if (best.isPresent() && stop.bestEpoch() > 0) {
        bestParams = best.get().params().clone();
        bestState = best.get().state().clone();
      }
      history.addAll(readHistory(startEpoch));
      log.printf("convspark: resumed from %s at epoch %d, step %d%n", store.dir(), startEpoch,
          step);
    }

    Augment augment = new Augment(t.flip(), t.translate());
    StepPlan plan = new StepPlan(net, localBatch, 0, 0, 0, t.seed(), t.labelSmoothing(),
        augment);
    AllReduce allReduce = AllReduce.forPartitions(partitions);
    Path metricsFile = out.resolve("metrics.jsonl");
    int epochsRun = startEpoch;
    double lastLr = schedule.lr(step, stepsPerEpoch);
    float[] grad = new float[net.paramCount()];

    int lastEpoch = (int) Math.min(t.epochs(), (long) startEpoch + stopAfter);
    for (int epoch = startEpoch; epoch < lastEpoch && !stop.shouldStop(); epoch++) {
      long epochStart = System.nanoTime();
      double lossSum = 0;
      long count = 0;
      long correct = 0;
      double compute = 0;
      double broadcast = 0;
      double update = 0;
      double job = 0;
      double fetch = 0;
      double merge = 0;
      double launch = 0;
      double taskOther = 0;
      double straggler = 0;
      double results = 0;
      for (int s = 0; s < stepsPerEpoch; s++, step++) {
        double lr = schedule.lr(step, stepsPerEpoch);
        lastLr = lr;
        long b0 = System.nanoTime();
        Broadcast<Weights> bw = jsc.broadcast(new Weights(params.clone(), state.clone()));
        long b1 = System.nanoTime();
        StepResult r;
        try {
          r = Distributed.step(trainBlocks.rdd(), plan.at(epoch, s, step), bw, allReduce);
        } catch (RuntimeException e) {
          throw new TrainingFailedException("step " + step + " (epoch " + (epoch + 1)
              + ") failed: " + e.getMessage(), e);
        }
        long b2 = System.nanoTime();
        double jobEnd = StepResult.wallSeconds();
        // non-blocking, except for the last step of the epoch: nothing is left in flight when
        // validation or shutdown follows
        bw.destroy(s == stepsPerEpoch - 1);
        long u0 = System.nanoTime();
        if (r.count > 0) {
          applyUpdate(net, r, params, state, grad, reg, opt, lr, step, epoch);
        }
        long u1 = System.nanoTime();
        broadcast += (b1 - b0 + u0 - b2) / 1e9;
        update += (u1 - u0) / 1e9;
        compute += r.computeSeconds / partitions;
        fetch += r.fetchSeconds / partitions;
        merge += r.mergeSeconds;
        job += (b2 - b1) / 1e9;
        // wall-clock spans (clamped: the clocks differ from nanoTime's by rounding)
        launch += Math.max(0, r.launchSeconds / partitions);
        taskOther += Math.max(0, (r.taskSeconds - r.computeSeconds - r.fetchSeconds) / partitions);
        straggler += Math.max(0, r.endMax - r.endSum / partitions);
        results += Math.max(0, jobEnd - r.endMax - r.mergeSeconds);
        lossSum += r.lossSum;
        count += r.count;
        correct += r.correct;
        if (t.logEvery() > 0 && (s + 1) % t.logEvery() == 0) {
          double secs = (System.nanoTime() - epochStart) / 1e9;
          log.printf("  step %d/%d  loss %.4f  acc %.4f  lr %.4g  %.0f img/s%n", s + 1,
              stepsPerEpoch, lossSum / count, (double) correct / count, lr, count / secs);
        }
      }
      double trainSeconds = (System.nanoTime() - epochStart) / 1e9;
      double valLoss = Double.NaN;
      double valAcc = Double.NaN;
      long v0 = System.nanoTime();
      if (valBlocks != null) {
        Evaluation ev = Distributed.evaluate(jsc, valBlocks.rdd(), net, params, state, t.evalBatch(),
            t.labelSmoothing());
        valLoss = ev.meanLoss();
        valAcc = ev.accuracy();
      }
      double valSeconds = (System.nanoTime() - v0) / 1e9;
      EpochMetrics m = new EpochMetrics(epoch + 1, step, lossSum / count,
          (double) correct / count, valLoss, valAcc, lastLr, count / trainSeconds, trainSeconds,
          compute, broadcast, update, valSeconds, job, fetch, merge, launch, taskOther, straggler,
          results);
      history.add(m);
      log.println(m.line(t.epochs()));
      Files.writeString(metricsFile, Json.write(m) + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
      epochsRun = epoch + 1;
      boolean improved = stop.observe(epoch + 1, valLoss, valAcc);
      if (improved) {
        bestParams = params.clone();
        bestState = state.clone();
      }
      boolean last = epoch + 1 == lastEpoch || stop.shouldStop();
      if ((epoch + 1) % t.checkpointEvery() == 0 || last) {
        if (improved) {
          store.writeNamed(checkpoint(net, epoch + 1, step, bestParams, bestState, opt, stop,
              data.normalization()), "best.bin");
        }
        store.write(checkpoint(net, epoch + 1, step, params, state, opt, stop,
            data.normalization()));
      }
      if (stop.shouldStop()) {
        log.printf("convspark: early stopping after epoch %d: %s has not improved for %d "
            + "epochs (best %.4f at epoch %d)%n", epoch + 1, t.earlyStopping().metric()
            .name().toLowerCase().replace('_', '-'), t.earlyStopping().patience(),
            stop.best(), stop.bestEpoch());
      }
    }

    if (bestParams != null && stop.bestEpoch() != epochsRun) {
      log.printf("convspark: restoring the best weights (epoch %d)%n", stop.bestEpoch());
      params = bestParams;
      state = bestState;
    }
    store.writeNamed(checkpoint(net, epochsRun, step, params, state, opt, stop,
        data.normalization()), "final.bin");

    Map<String, Object> summary = new LinkedHashMap<>();
    Evaluation test = null;
    if (data.test() != null) {
      Distributed.Blocks testBlocks = data.test().toBlocks(jsc, partitions, "test");
      test = Distributed.evaluate(jsc, testBlocks.rdd(), net, params, state, t.evalBatch(),
          t.labelSmoothing());
      testBlocks.release();
    }
    double wall = (System.nanoTime() - wallStart) / 1e9;
    double trainTime = 0;
    long trainImages = 0;
    for (EpochMetrics m : history) {
      trainTime += m.trainSeconds();
      trainImages += (long) Math.round(m.imagesPerSecond() * m.trainSeconds());
    }
    Map<String, Object> testMap = new LinkedHashMap<>();
    testMap.put("accuracy", test == null ? null : test.accuracy());
    testMap.put("loss", test == null ? null : test.meanLoss());
    testMap.put("count", test == null ? 0 : test.count);
    if (test != null) {
      testMap.put("per_class_accuracy", test.perClassAccuracy());
      testMap.put("confusion", test.confusion);
    }
    summary.put("test", testMap);
    Map<String, Object> bestVal = new LinkedHashMap<>();
    bestVal.put("accuracy", stop.bestAccuracy());
    bestVal.put("loss", stop.bestLoss());
    bestVal.put("epoch", stop.bestEpoch());
    summary.put("best_val", bestVal);
    summary.put("epochs_run", epochsRun);
    summary.put("steps", step);
    summary.put("workers", partitions);
    summary.put("local_batch", localBatch);
    summary.put("global_batch", t.globalBatch());
    summary.put("k", schedule.k());
    summary.put("scaling", t.scaling().name().toLowerCase());
    summary.put("scaled_lr", schedule.scaledLr());
    summary.put("warmup_epochs", t.warmupEpochs());
    summary.put("train_images_per_second", trainTime > 0 ? trainImages / trainTime : null);
    summary.put("wall_seconds", wall);
    summary.put("blas", Blas.describe());
    summary.put("seed", t.seed());
    summary.put("params", net.paramCount());
    summary.put("config", Json.MAPPER.readTree(Settings.renderJson(cfg.raw())));
    Files.writeString(out.resolve("summary.json"), Json.pretty(summary) + "\n");
    try {
      Plots.trainingCurves(history, out.resolve("training.png"));
    } catch (IOException | RuntimeException e) {
      log.println("convspark: WARNING: could not write training.png: " + e.getMessage());
    }
    trainBlocks.release();
    if (valBlocks != null) {
      valBlocks.release();
    }
    if (test != null) {
      log.printf("convspark: test accuracy %.4f, test loss %.4f (%d samples, best weights "
          + "from epoch %d)%n", test.accuracy(), test.meanLoss(), test.count,
          stop.bestEpoch() > 0 ? stop.bestEpoch() : epochsRun);
    }
    log.printf("convspark: done in %.1f s; summary in %s%n", wall, out.resolve("summary.json"));
    return new Result(summary, params, state);
  }

  private void applyUpdate(Network net, StepResult r, float[] params, float[] state,
      float[] grad, Regularization reg, Optimizer opt, double lr, long step, int epoch) {
    double loss = r.lossSum / r.count;
    float inv = (float) (1.0 / r.count);
    double norm2 = 0;
    for (int i = 0; i < grad.length; i++) {
      grad[i] = r.gradSum[i] * inv;
    }
    reg.addGradient(params, grad);
    for (float g : grad) {
      norm2 += (double) g * g;
    }
    if (!Double.isFinite(loss) || !Double.isFinite(norm2)) {
      throw new TrainingFailedException("training diverged at step " + step + " (epoch "
          + (epoch + 1) + "): " + (Double.isFinite(loss) ? "gradient" : "loss")
          + " is not finite (learning rate " + String.format("%.4g", lr)
          + "); lower train.base-lr or set train.clip-grad-norm; the last good checkpoint in "
          + checkpointDir + " is kept");
    }
    double clip = cfg.train().clipGradNorm();
    if (clip > 0 && norm2 > clip * clip) {
      float f = (float) (clip / Math.sqrt(norm2));
      for (int i = 0; i < grad.length; i++) {
        grad[i] *= f;
      }
    }
    opt.step(params, grad, lr);
    net.updateRunningStats(state, r.bnStats, r.count);
  }

  private Optimizer optimizer(Network net) {
    RunConfig.Optimizer o = cfg.train().optimizer();
    return switch (o.type()) {
      case SGD -> new Sgd(net.paramCount(), o.momentum(), o.nesterov());
      case ADAM -> new Adam(net.paramCount(), o.beta1(), o.beta2(), o.epsilon(),
          o.weightDecay(), net.weightRanges());
    };
  }

  private static void checkSameModel(Checkpoint c, Network net, String where) {
    if (!c.modelSpec().equals(net.spec().render())) {
      throw new BadInputException("--resume: the checkpoint in " + where
          + " was trained with a different model than config key model describes");
    }
  }

  private Checkpoint checkpoint(Network net, int epoch, long step, float[] params,
      float[] state, Optimizer opt, EarlyStop stop, Normalization norm) {
    Map<String, String> meta = new LinkedHashMap<>(stop.toMeta());
    meta.put("norm.scale", Float.toString(norm.scale()));
    meta.put("norm.mean", floats(norm.mean()));
    meta.put("norm.std", floats(norm.std()));
    meta.put("seed", Long.toString(cfg.train().seed()));
    float[][] os = opt.state();
    float[][] copy = new float[os.length][];
    for (int i = 0; i < os.length; i++) {
      copy[i] = os[i].clone();
    }
    return new Checkpoint(net.spec().render(), epoch, step, params.clone(), state.clone(),
        opt.name(), copy, opt.steps(), meta);
  }

  /** Comma-separated values, as the checkpoint metadata stores float vectors. */
  public static String floats(float[] a) {
    StringBuilder b = new StringBuilder();
    for (float f : a) {
      b.append(b.length() == 0 ? "" : ",").append(f);
    }
    return b.toString();
  }

  /** Reads the normalisation a checkpoint was trained with. */
  public static Normalization normalization(Checkpoint c, int channels) {
    try {
      return Normalization.of(Float.parseFloat(c.meta().get("norm.scale")),
          parseFloats(c.meta().get("norm.mean")), parseFloats(c.meta().get("norm.std")),
          channels);
    } catch (RuntimeException e) {
      throw new BadInputException("checkpoint has no usable normalisation metadata: " + e);
    }
  }

  private static float[] parseFloats(String s) {
    String[] parts = s.split(",");
    float[] a = new float[parts.length];
    for (int i = 0; i < a.length; i++) {
      a[i] = Float.parseFloat(parts[i]);
    }
    return a;
  }

  private List<EpochMetrics> readHistory(int upToEpoch) {
    Path f = out.resolve("metrics.jsonl");
    List<EpochMetrics> h = new ArrayList<>();
    if (!Files.exists(f)) {
      return h;
    }
    List<String> kept = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(f)) {
        if (line.isBlank()) {
          continue;
        }
        EpochMetrics m = MetricsLines.parse(line, f, log);
        if (m != null && m.epoch() <= upToEpoch) {
          h.add(m);
          kept.add(line);
        }
      }
      // epochs after the checkpoint are redone: drop their lines
      Files.write(f, kept);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return h;
  }

}
