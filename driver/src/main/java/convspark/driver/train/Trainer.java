package convspark.driver.train;

import convspark.common.BadInputException;
import convspark.common.blas.BlasInfo;
import convspark.common.io.Checkpoint;
import convspark.common.nn.Network;
import convspark.common.optim.LrSchedule;
import convspark.driver.config.Preflight;
import convspark.driver.config.RunConfig;
import convspark.driver.data.Normalization;
import convspark.driver.engine.Round;
import convspark.driver.engine.RoundResult;
import convspark.driver.engine.StepEngine;
import convspark.driver.engine.StepEngines;
import convspark.driver.engine.StepListener;
import convspark.driver.engine.StepTimes;
import convspark.driver.exec.Distributed;
import convspark.driver.exec.DriverResultBytes;
import convspark.driver.exec.ExecutorBlas;
import convspark.driver.exec.Partitions;
import convspark.driver.metrics.EpochMetrics;
import convspark.driver.metrics.Json;
import convspark.driver.metrics.MetricsLog;
import convspark.driver.metrics.Plots;
import convspark.worker.Evaluation;
import convspark.worker.ModelState;
import convspark.worker.PartitionStep;
import convspark.worker.StepPlan;
import convspark.worker.update.UpdateRule;
import convspark.worker.update.Updater;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The training loop on the driver. Each epoch is one {@link Round}, or with the ring engine and
 * {@code train.ring.round-steps} several, that the configured {@link StepEngine} runs
 * (gradients, their sum, the {@link Updater}); between epochs the loop validates, records
 * metrics, checkpoints and decides early stopping. At the end the best
 * weights are evaluated on the test split and {@code summary.json} ({@link RunSummary}) and a
 * plot are written to the output directory.
 */
public final class Trainer {
  private final RunConfig cfg;
  private final JavaSparkContext jsc;
  private final Path out;
  private final String checkpointDir;
  /** The run's id, when the caller gave it ({@link #runId}). */
  private String runId;
  private CheckpointStore.Found resumePoint;
  /** The training split's size and checksum, recorded in every checkpoint. */
  private long trainSamples;
  private java.util.OptionalLong trainChecksum = java.util.OptionalLong.empty();
  /** The validation split's size (-1 without one) and checksum, recorded likewise. */
  private long validationSamples = -1;
  private java.util.OptionalLong validationChecksum = java.util.OptionalLong.empty();
  /** {@link #afterFirstCheckpoint}'s hook, until it has run. */
  private CheckpointHook firstCheckpointHook;
  private CheckpointStore.Guard checkpointGuard = () -> { };
  /** What a run writes in its output directory (checkpoints go to their own directory). */
  public static final String METRICS_FILE = "metrics.jsonl";
  public static final String SUMMARY_FILE = "summary.json";
  public static final String PLOT_FILE = "training.png";
  /** The checkpoint directory's name inside the output directory, where none is given. */
  public static final String CHECKPOINTS_DIR = "checkpoints";

  /**
   * The checkpoint directory of a run in {@code out} where none is given: {@code
   * out/checkpoints} as a {@code file:} path that Hadoop's {@code Path(String)} reads back as the
   * same directory. The text of a {@code file:} URI does not do: Path(String) takes its escapes
   * literally, so an {@code out} with a space or a '%' had its checkpoints written to a sibling
   * tree named {@code run%20out/checkpoints}.
   */
  public static String defaultCheckpointDir(Path out) {
    return new org.apache.hadoop.fs.Path(out.toAbsolutePath().resolve(CHECKPOINTS_DIR).toUri())
        .toString();
  }
  /** The best weights so far, in the checkpoint directory. */
  public static final String BEST = "best.bin";
  /**
   * The best weights the newest checkpoint names, while a newer best.bin is not yet named by a
   * checkpoint (between an improved epoch and the next periodic checkpoint).
   */
  public static final String BEST_PREVIOUS = "best-previous.bin";

  private final TrainingListener log;
  /**
   * A warning when the inputs of {@code split} ({count, mean, std}, normalised as the training
   * split's are) lie far from the training split's: another pixel range or encoding (0-1 floats
   * beside 0-255 bytes), which trains and tests without an error but on garbage (a test loss in
   * the hundreds). Far: means more than 3 training stds apart, or stds more than 5x apart.
   */
  static java.util.Optional<String> rangeMismatch(String split, double[] train, double[] other) {
    if (train[0] == 0 || other[0] == 0 || !(train[2] > 0)) {
      return java.util.Optional.empty();
    }
    boolean far = Math.abs(other[1] - train[1]) > 3 * train[2] || other[2] > 5 * train[2]
        || other[2] < train[2] / 5;
    return far ? java.util.Optional.of(String.format("the %s split's inputs, normalised as the "
        + "training split's, have mean %.4g and std %.4g, the training split's mean %.4g and std "
        + "%.4g: another pixel range or encoding (0-1 beside 0-255)? Its results will say "
        + "little; check its files and data.scale", split, other[1], other[2], train[1],
        train[2])) : java.util.Optional.empty();
  }
  private float[] initialParams;
  private float[] initialState;

  public Trainer(RunConfig cfg, JavaSparkContext jsc, Path out, String checkpointDir,
      TrainingListener log) {
    this.cfg = cfg;
    this.jsc = jsc;
    this.out = out;
    this.checkpointDir = checkpointDir;
    this.log = log;
  }

  /**
   * The id of the run (the CLI's {@code run-id}): every checkpoint is stamped with it, and a
   * checkpoint directory that another run claimed meanwhile stops this one at its next write.
   * Without it the directory's own {@code run-id}, if any, is taken at the first write.
   */
  public void runId(String id) {
    this.runId = id;
  }

  /**
   * The checkpoint a {@code --resume} continues from, already read from this run's checkpoint
   * directory under its lock (the command line's identity check): the run does not read it
   * again. Without it, a resume reads the newest good checkpoint itself.
   */
  public void resumeFrom(CheckpointStore.Found f) {
    this.resumePoint = f;
  }

  /** Something to do once a checkpoint has been written. */
  public interface CheckpointHook {
    void written() throws IOException;
  }

  /**
   * Runs {@code hook} after the first checkpoint this invocation writes (the CLI deletes the run
   * an {@code --overwrite} set aside: from then on the new run can be resumed). A hook that fails
   * is a warning, not a failed run.
   */
  public void afterFirstCheckpoint(CheckpointHook hook) {
    this.firstCheckpointHook = hook;
  }

  /**
   * Checked before every write to the checkpoint directory: the CLI's lease on a checkpoint
   * directory on HDFS or another remote file system, which fails once another run took it over.
   */
  public void checkpointGuard(CheckpointStore.Guard guard) {
    this.checkpointGuard = guard;
  }

  /** Starts from these weights instead of a seeded initialisation (not used on resume). */
  public void initialWeights(float[] params, float[] state) {
    this.initialParams = params.clone();
    this.initialState = state.clone();
  }

  /** What a run reports at the end (also written as summary.json). */
  public record Result(Map<String, Object> summary, float[] params, float[] state) {}

  public Result run(TrainingData data, boolean resume) throws IOException {
    return run(data, resume, Integer.MAX_VALUE);
  }

  /**
   * Trains; with {@code stopAfter} epochs done in this invocation it stops early, as a job with a
   * time window would, leaving a checkpoint to {@code --resume} from.
   */
  public Result run(TrainingData data, boolean resume, int stopAfter) throws IOException {
    long wallStart = System.nanoTime();
    RunConfig.Train t = cfg.train();
    int partitions = Partitions.forTraining(t.workers(), t.globalBatch(), jsc);
    int localBatch = Partitions.localBatch(t.globalBatch(), partitions, "train.global-batch",
        "train.workers");
    Preflight.localBatch(cfg.model(), localBatch, partitions);
    Distributed.Blocks trainBlocks = data.train().toBlocks(jsc, partitions, "train");
    Distributed.Blocks valBlocks = null;
    // the cached blocks are freed however the run ends (a failed fit must not leave them cached
    // for the next one, as CrossValidator or a retry in a notebook would pile them up)
    try {
      valBlocks = data.validation() == null ? null
          : data.validation().toBlocks(jsc, partitions, "validation");
      return train(data, resume, stopAfter, wallStart, partitions, localBatch, trainBlocks,
          valBlocks);
    } finally {
      trainBlocks.release();
      if (valBlocks != null) {
        valBlocks.release();
      }
    }
  }

  private Result train(TrainingData data, boolean resume, int stopAfter, long wallStart,
      int partitions, int localBatch, Distributed.Blocks trainBlocks,
      Distributed.Blocks valBlocks) throws IOException {
    RunConfig.Train t = cfg.train();
    Network net = new Network(cfg.model());
    TrainingData.checkGlobalBatch(trainBlocks.count(), t.globalBatch());
    trainSamples = trainBlocks.count();
    trainChecksum = data.train().checksum();
    // a pass over the training blocks only where a split is compared with them
    double[] trainMoments = valBlocks == null && data.test() == null ? null
        : Distributed.moments(trainBlocks.rdd());
    if (valBlocks != null) {
      rangeMismatch("validation", trainMoments, Distributed.moments(valBlocks.rdd()))
          .ifPresent(log::warning);
    }
    validationSamples = valBlocks == null ? -1 : valBlocks.count();
    validationChecksum = valBlocks == null ? java.util.OptionalLong.empty()
        : data.validation().checksum();
    int stepsPerEpoch = PartitionStep.steps(trainBlocks.maxBlock(), localBatch,
        cfg.model().minTrainingBatch());
    LrSchedule schedule = t.lrSchedule();
    List<BlasInfo> executorBlas = describe(net, data, trainBlocks, partitions, localBatch,
        stepsPerEpoch, schedule);
    warnIfWarmupOutlastsTheRun(schedule, stepsPerEpoch);

    UpdateRule rule = t.updateRule();
    String optimizerName = Updater.newOptimizer(rule.optimizer(), net).name();
    ModelState model = Updater.start(rule, net, initial(initialParams, net.initParams(t.seed())),
        initial(initialState, net.initState()));
    if (model.params().length != net.paramCount() || model.state().length != net.stateCount()) {
      throw new BadInputException("initial weights have " + model.params().length
          + " parameters, the model has " + net.paramCount());
    }
    CheckpointStore store = new CheckpointStore(checkpointDir, t.keepLast(),
        jsc.hadoopConfiguration());
    if (runId != null) {
      store.expectRun(runId);
    }
    store.guard(checkpointGuard);
    MetricsLog metrics = new MetricsLog(out.resolve(METRICS_FILE));
    int startEpoch = 0;
    long step = 0;
    EarlyStop stop = new EarlyStop(t.earlyStopping());
    if (valBlocks == null && t.earlyStopping().patience() > 0) {
      // through the listener: the Spark ML API's fit logs it (param earlyStoppingPatience)
      log.warning("train.early-stopping.patience = " + t.earlyStopping().patience()
          + " has no effect: there is no validation data (data.validation is not given and "
          + "data.validation-fraction = 0)");
    }
    List<EpochMetrics> history = new ArrayList<>();
    ModelState best = null;
    // best.bin was set aside as best-previous.bin since the last checkpoint
    boolean previousKept = false;
    if (resume) {
      Checkpoint c;
      if (resumePoint != null) {
        resumePoint.report();
        c = resumePoint.checkpoint();
        resumePoint = null; // its arrays are copied below: not held for the whole run
      } else {
        c = store.latest().orElseThrow(() -> new BadInputException(
            "--resume: no usable checkpoint in " + checkpointDir));
      }
      checkSameModel(c, net, store.dir().toString());
      checkSameTraining(c, model, optimizerName, stepsPerEpoch, partitions, cfg,
          data.normalization(), trainSamples, trainChecksum, store.dir().toString());
      model = new ModelState(c.params().clone(), c.state().clone(), copy(c.optimizerState()),
          c.optimizerSteps());
      startEpoch = c.epoch();
      step = c.step();
      stop.restore(c.meta());
      // nothing left to train: the schedule's move would not apply, nor would changed
      // settings (a line below says why nothing is left)
      boolean trainsOn = startEpoch < t.epochs() && !stop.shouldStop();
      if (trainsOn) {
        warnIfTheScheduleMoved(c, schedule, step, stepsPerEpoch);
      }
      List<String> changed = ChangedSettings.since(c.meta().get(ChangedSettings.META), cfg);
      if (!changed.isEmpty()) {
        log.warning(trainsOn
            ? "--resume: settings changed since the checkpoint was written, the run goes on "
                + "with the new ones: " + String.join(", ", changed)
            : "--resume: settings changed since the checkpoint was written, and no epoch is "
                + "left to train (a line below says why): " + String.join(", ", changed));
      }
      // recorded either way: summary.json's config is this invocation's, and the record says
      // since when its settings hold
      recordChanges(c, startEpoch, changed);
      warnIfOtherValidation(c, stop);
      Optional<Checkpoint> b = store.readNamed(BEST);
      if (stop.bestEpoch() > 0 && (b.isEmpty() || b.get().epoch() != stop.bestEpoch())) {
        // a run stopped between a new best.bin and the checkpoint that names it: the best
        // weights of the checkpoint resumed from were kept aside, and are best.bin again
        Optional<Checkpoint> p = store.readNamed(BEST_PREVIOUS);
        if (p.isPresent() && p.get().epoch() == stop.bestEpoch()) {
          store.renameNamed(BEST_PREVIOUS, BEST);
          b = p;
        }
      }
      store.deleteNamed(BEST_PREVIOUS);
      if (b.isPresent() && stop.bestEpoch() > 0) {
        if (b.get().epoch() == stop.bestEpoch()) {
          best = new ModelState(b.get().params().clone(), b.get().state().clone(),
              new float[0][], 0);
        } else {
          // written after the checkpoint resumed from (its epoch is run again) or left over
          log.warning(String.format("best.bin in %s holds the weights of epoch %d, the "
              + "checkpoint's best epoch is %d: not used", store.dir(), b.get().epoch(),
              stop.bestEpoch()));
        }
      }
      if (best == null && stop.bestEpoch() > 0) {
        best = bestFromCheckpoint(store, c, stop.bestEpoch(), stepsPerEpoch);
      }
      history.addAll(metrics.truncateTo(startEpoch, log::warning));
      if (history.isEmpty() && startEpoch > 0) {
        log.warning(String.format("--resume: %s holds no metrics of the run's first %d epochs "
            + "(a new --out, as for a driver restarted on another node): metrics.jsonl, the "
            + "plot and summary.json's epochs start at epoch %d", out, startEpoch,
            startEpoch + 1));
      }
      log.info(String.format("convspark: resumed from %s at epoch %d, step %d", store.dir(),
          startEpoch, step));
      if (stop.shouldStop()) {
        // the run early stopping ended (or a patience lowered below its count): a resume with
        // more epochs would otherwise end at once without a word
        log.warning(String.format("the checkpoint's early-stopping record: %s has not improved "
            + "for %d epochs since its best epoch %d, and train.early-stopping.patience = %d: no "
            + "epoch left to train; the weights are tested and the summary written again (raise "
            + "train.early-stopping.patience, or set it to 0, to train on)", stop.metricName(),
            stop.badEpochs(), stop.bestEpoch(), t.earlyStopping().patience()));
      } else if (startEpoch >= t.epochs()) {
        log.warning(String.format("the checkpoint is at epoch %d and train.epochs = %d: no epoch "
            + "left to train; the weights are tested and the summary written again (raise "
            + "train.epochs to train on)", startEpoch, t.epochs()));
      }
    }

    StepPlan plan = new StepPlan(net, localBatch, 0, 0, 0, t.seed(), t.labelSmoothing(),
        t.augment());
    int epochsRun = startEpoch;
    double lastLr = schedule.lr(step, stepsPerEpoch);
    int lastEpoch = (int) Math.min(t.epochs(), (long) startEpoch + stopAfter);
    StepEngines.Setup setup = new StepEngines.Setup(jsc, trainBlocks, partitions, net, rule,
        checkpointDir);
    // the ring engine runs an epoch in rounds of train.ring.round-steps steps (0: one round);
    // the driver engine has no rounds to size and always gets the whole epoch
    int roundSteps = t.engine() == RunConfig.Engine.RING && t.ring().roundSteps() > 0
        ? t.ring().roundSteps() : Math.max(1, stepsPerEpoch);
    try (StepEngine engine = StepEngines.open(t.engine(), t.ring(), setup);
        DriverResultBytes received = DriverResultBytes.register(jsc)) {
      for (int epoch = startEpoch; epoch < lastEpoch && !stop.shouldStop(); epoch++) {
        long epochStart = System.nanoTime();
        int e = epoch;
        long firstStep = step;
        ModelState from = model;
        RoundResult r = received.measure(() -> runEpoch(engine, e, firstStep, stepsPerEpoch,
            roundSteps, plan, log.steps(t.logEvery(), epochStart), from));
        model = r.state();
        step += stepsPerEpoch;
        lastLr = stepsPerEpoch > 0 ? r.lastLr() : lastLr;
        double trainSeconds = (System.nanoTime() - epochStart) / 1e9;
        long driverBytes = received.take().bytes();
        long v0 = System.nanoTime();
        Evaluation val = valBlocks == null ? null : Distributed.evaluate(jsc, valBlocks.rdd(),
            net, model.params(), model.state(), t.evalBatch(), t.labelSmoothing());
        double valLoss = val == null ? Double.NaN : val.meanLoss();
        double valAcc = val == null ? Double.NaN : val.accuracy();
        EpochMetrics m = EpochMetrics.of(epoch + 1, step, r.lossSum(), r.count(), r.correct(),
            valLoss, valAcc, lastLr, trainSeconds, (System.nanoTime() - v0) / 1e9, r.times(),
            stepsPerEpoch, driverBytes);
        history.add(m);
        log.epoch(m, t.epochs());
        metrics.append(m);
        epochsRun = epoch + 1;
        boolean improved = val == null ? stop.observeWithoutValidation(epoch + 1)
            : stop.observe(epoch + 1, valLoss, valAcc);
        boolean last = epoch + 1 == lastEpoch || stop.shouldStop();
        boolean checkpointNow = (epoch + 1) % t.checkpointEvery() == 0 || last;
        if (improved) {
          best = new ModelState(model.params().clone(), model.state().clone(), new float[0][],
              0);
          // with validation on every improvement, not only with the periodic checkpoints: a
          // resume from a later checkpoint must find the weights its early-stopping record
          // names (without validation every epoch is the best: the periodic ones suffice)
          if (valBlocks != null || checkpointNow) {
            // the best weights the newest checkpoint names stay readable (best-previous.bin)
            // until a checkpoint names the new ones: a run stopped in between resumes with them
            if (!previousKept && store.renameNamed(BEST, BEST_PREVIOUS)) {
              previousKept = true;
            }
            store.writeNamed(checkpoint(net, epoch + 1, step, best, model, optimizerName,
                stepsPerEpoch, partitions, stop, data.normalization()), BEST);
          }
        }
        if (checkpointNow) {
          store.write(checkpoint(net, epoch + 1, step, model, model, optimizerName,
              stepsPerEpoch, partitions, stop, data.normalization()));
          if (previousKept) {
            store.deleteNamed(BEST_PREVIOUS);
            previousKept = false;
          }
          if (firstCheckpointHook != null) {
            CheckpointHook hook = firstCheckpointHook;
            firstCheckpointHook = null;
            try {
              hook.written();
            } catch (IOException | RuntimeException hookFailed) {
              log.warning("after the first checkpoint: " + hookFailed);
            }
          }
        }
        if (stop.shouldStop()) {
          log.info(String.format("convspark: early stopping after epoch %d: %s has not improved "
              + "for %d epochs (best %.4f at epoch %d)", epoch + 1, stop.metricName(),
              t.earlyStopping().patience(),
              stop.best(), stop.bestEpoch()));
        }
      }
    }

    ModelState result = model;
    int resultEpoch = epochsRun;
    if (best != null && stop.bestEpoch() != epochsRun) {
      log.info(String.format("convspark: restoring the best weights (epoch %d)",
          stop.bestEpoch()));
      result = best;
      resultEpoch = stop.bestEpoch();
    } else if (stop.bestEpoch() > 0 && stop.bestEpoch() != epochsRun) {
      log.warning(String.format("the best weights (epoch %d) are not available (best.bin "
          + "missing or unusable on --resume, and that epoch's checkpoint no longer kept): the "
          + "last weights (epoch %d) are kept and tested",
          stop.bestEpoch(), epochsRun));
    }
    // final.bin is stamped with the epoch and step of the weights it holds (the best epoch's
    // when they were restored), as best.bin is: export writes its step as batch norm's
    // num_batches_tracked
    long resultStep = step - (long) (epochsRun - resultEpoch) * stepsPerEpoch;
    store.writeNamed(checkpoint(net, resultEpoch, resultStep, result, model, optimizerName,
        stepsPerEpoch, partitions, stop, data.normalization()), "final.bin");

    Evaluation test = null;
    if (data.test() != null) {
      Distributed.Blocks testBlocks = data.test().toBlocks(jsc, partitions, "test");
      try {
        rangeMismatch("test", trainMoments, Distributed.moments(testBlocks.rdd()))
            .ifPresent(log::warning);
        test = Distributed.evaluate(jsc, testBlocks.rdd(), net, result.params(),
            result.state(), t.evalBatch(), t.labelSmoothing());
      } finally {
        testBlocks.release();
      }
    }
    String ended = stop.shouldStop() ? RunSummary.EARLY_STOPPED
        : epochsRun < t.epochs() ? RunSummary.PAUSED : RunSummary.COMPLETED;
    if (ended.equals(RunSummary.PAUSED)) {
      log.info(String.format("convspark: paused after epoch %d of %d, as asked; --resume "
          + "continues the run (the test below is of these weights)", epochsRun, t.epochs()));
    }
    double wall = (System.nanoTime() - wallStart) / 1e9;
    Map<String, Object> summary = new RunSummary(cfg, history, test, resultEpoch, stop,
        epochsRun, step, partitions, localBatch, net.paramCount(), wall, executorBlas, ended,
        checkpointDir, changedOnResume, jsc.sc().master()).write(out);
    try {
      Plots.trainingCurves(history, out.resolve(PLOT_FILE));
    } catch (IOException | RuntimeException e) {
      log.warning("could not write training.png: " + e.getMessage());
    }
    if (test != null) {
      log.info(String.format("convspark: test accuracy %.4f, test loss %.4f (%d samples, %s "
          + "weights from epoch %d)", test.accuracy(), test.meanLoss(), test.count,
          valBlocks != null && resultEpoch == stop.bestEpoch() ? "best" : "last", resultEpoch));
    }
    log.info(String.format("convspark: done in %.1f s; summary in %s", wall,
        out.resolve(SUMMARY_FILE)));
    return new Result(summary, result.params(), result.state());
  }

  /**
   * Runs one epoch as consecutive rounds of at most {@code roundSteps} steps (at least one
   * round, also for an epoch of no steps), each from the state the previous one returned; a
   * round that fails is rerun by the engine from its own starting state, so earlier rounds are
   * not repeated. Returns the epoch's state, the sums over its rounds and its last learning rate.
   * Progress lines count steps and sums from the epoch's start.
   */
  static RoundResult runEpoch(StepEngine engine, int epoch, long firstStep, int stepsPerEpoch,
      int roundSteps, StepPlan plan, StepListener progress, ModelState start) {
    ModelState state = start;
    double lossSum = 0;
    long count = 0;
    long correct = 0;
    double lr = Double.NaN;
    StepTimes times = StepTimes.ZERO;
    int first = 0;
    do {
      int steps = Math.min(roundSteps, stepsPerEpoch - first);
      double lossBefore = lossSum;
      long countBefore = count;
      long correctBefore = correct;
      StepListener inEpoch = (round, done, l, n, c, rate) -> progress.afterStep(round,
          round.firstStepInEpoch() + done, lossBefore + l, countBefore + n, correctBefore + c,
          rate);
      RoundResult r = engine.run(new Round(epoch, firstStep + first, first, steps,
          stepsPerEpoch, plan, inEpoch), state);
      state = r.state();
      lossSum += r.lossSum();
      count += r.count();
      correct += r.correct();
      lr = steps > 0 ? r.lastLr() : lr;
      times = times.plus(r.times());
      first += steps;
    } while (first < stepsPerEpoch);
    return new RoundResult(state, lossSum, count, correct, lr, times);
  }

  /** The start-up lines; returns the BLAS the executors loaded. */
  private List<BlasInfo> describe(Network net, TrainingData data, Distributed.Blocks train,
      int partitions, int localBatch, int stepsPerEpoch, LrSchedule schedule) {
    RunConfig.Train t = cfg.train();
    long n = train.count();
    List<BlasInfo> executorBlas = ExecutorBlas.probe(train.rdd());
    ExecutorBlas.lines(executorBlas).forEach(log::info);
    log.info(String.format("convspark: model %d parameters, %d layers, input %s, %d classes",
        net.paramCount(), net.layers().size(), net.inputShape(), net.classes()));
    log.info(String.format("convspark: %d training samples, %s validation, %s test; %d workers "
            + "x local batch %d = global batch %d; %d steps/epoch; engine %s",
        n, data.validation() == null ? "no" : data.validation().count(),
        data.test() == null ? "no" : data.test().count(), partitions, localBatch,
        t.globalBatch(), stepsPerEpoch, t.engine().name().toLowerCase()));
    log.info(String.format("convspark: learning rate: base %.4g for batch %d, k = %.3g, "
            + "scaling %s -> %.4g, warmup %.3g epochs, then %s",
        t.baseLr(), t.baseBatch(), schedule.k(), t.scaling().name().toLowerCase(),
        schedule.scaledLr(), t.warmupEpochs(), t.decay().name().toLowerCase()));
    return executorBlas;
  }

  /**
   * A warmup longer than train.epochs ends the run before the rate reaches its scaled value, and
   * before the decay starts. Allowed (a short trial run of a config that warms up over more
   * epochs, {@code --set train.epochs=1}, is a use; the rate of every epoch is in the log and
   * metrics.jsonl), but said, through the listener (the Spark ML API's fit logs it too), when it
   * changes the rates: not when warmup holds the scaled rate (k <= 1) and there is no decay.
   */
  private void warnIfWarmupOutlastsTheRun(LrSchedule schedule, int stepsPerEpoch) {
    RunConfig.Train t = cfg.train();
    if (!(t.warmupEpochs() > t.epochs()) || stepsPerEpoch <= 0) {
      return;
    }
    double last = schedule.lr((long) t.epochs() * stepsPerEpoch - 1, stepsPerEpoch);
    boolean belowTarget = last < schedule.scaledLr();
    boolean decays = t.decay() != LrSchedule.Decay.CONSTANT;
    if (!belowTarget && !decays) {
      return;
    }
    String rate = belowTarget ? String.format("its learning rate rising only to %.4g of the "
        + "scaled %.4f", last, schedule.scaledLr())
        : String.format("its learning rate held at %.4g", last);
    log.warning(String.format("train.warmup-epochs = %s is more than train.epochs = %d: the run "
        + "ends during warmup, %s%s; set train.warmup-epochs to at most train.epochs for the "
        + "schedule it describes", java.math.BigDecimal.valueOf(t.warmupEpochs())
        .stripTrailingZeros().toPlainString(), t.epochs(), rate, decays ? ", and train.schedule "
        + "= " + t.decay().name().toLowerCase(java.util.Locale.ROOT) + " never starts" : ""));
  }

  private static float[] initial(float[] given, float[] otherwise) {
    return given != null ? given.clone() : otherwise;
  }

  private static void checkSameModel(Checkpoint c, Network net, String where) {
    if (!c.modelSpec().equals(net.spec().render())) {
      String how;
      try {
        how = " (" + convspark.common.spec.ModelSpec.parse(c.modelSpec()).difference(net.spec(),
            "the checkpoint", "the config") + ")";
      } catch (RuntimeException e) {
        how = ""; // a spec of another version's syntax: the line says the models differ
      }
      throw new BadInputException("--resume: the checkpoint in " + where
          + " was trained with a different model than config key model describes" + how);
    }
  }

  /**
   * Resuming continues the optimizer's state and the step count: the checkpoint's optimizer must
   * be the config's, with state of the same shape, and an epoch must have as many steps (the
   * schedule places the rate by step). The seed and the normalisation must be the checkpoint's:
   * the seed draws the validation split, so another one moves trained samples into validation,
   * and the trained weights expect inputs normalised as before. What a checkpoint's metadata
   * does not record (older versions) is not checked.
   */
  private static void checkSameTraining(Checkpoint c, ModelState fresh, String optimizerName,
      int stepsPerEpoch, int partitions, RunConfig cfg, Normalization norm, long samples,
      java.util.OptionalLong crc, String where) {
    RunConfig.Train t = cfg.train();
    if (!c.optimizer().equals(optimizerName)) {
      throw new BadInputException("--resume: the checkpoint in " + where + " was trained with "
          + "optimizer " + c.optimizer() + ", but config key train.optimizer.type gives "
          + optimizerName);
    }
    float[][] saved = c.optimizerState();
    float[][] need = fresh.optimizerState();
    boolean same = saved.length == need.length;
    for (int i = 0; same && i < saved.length; i++) {
      same = saved[i].length == need[i].length;
    }
    if (!same) {
      throw new BadInputException("--resume: the checkpoint in " + where + " holds optimizer "
          + "state " + sizes(saved) + " for " + optimizerName + " but config key "
          + "train.optimizer needs " + sizes(need) + " (momentum on in one and off in the "
          + "other?)");
    }
    // first: another seed draws another validation split, which changes the training split's
    // size (steps per epoch) and its fitted normalisation too
    String seed = c.meta().get("seed");
    if (seed != null && !seed.equals(Long.toString(t.seed()))) {
      throw new BadInputException("--resume: the checkpoint in " + where + " was trained with "
          + "seed " + seed + ", config key train.seed gives " + t.seed() + " (the seed draws the "
          + "validation split and the shuffles; set train.seed = " + seed + " to continue the "
          + "same run)");
    }
    // then the data (other data fit other normalisation statistics: name the cause)
    checkSameData(c, samples, crc, where);
    if (Normalization.inMeta(c.meta())) {
      Normalization trained;
      try {
        trained = Normalization.fromMeta(c.meta(), norm.channels());
      } catch (BadInputException e) {
        throw new BadInputException("--resume: the checkpoint in " + where + ": "
            + e.getMessage());
      }
      if (!trained.sameAs(norm)) {
        throw new BadInputException("--resume: the checkpoint in " + where + " was trained on "
            + "inputs normalised with " + trained.describe() + ", config keys "
            + "data.normalize.* (mode " + cfg.data().normalize().name().toLowerCase() + ") and "
            + "data.scale give " + norm.describe() + " (the trained weights expect the "
            + "checkpoint's inputs; set data.normalize.mode = given with its mean and std, or the "
            + "config the run had)");
      }
    }
    // the data's partitioning, its per-partition shuffles and random streams and the
    // per-worker batch statistics all follow from these two (older checkpoints do not record
    // them)
    String batch = c.meta().get("global-batch");
    if (batch != null && !batch.equals(Integer.toString(t.globalBatch()))) {
      throw new BadInputException("--resume: the checkpoint in " + where + " was trained with "
          + "global batch " + batch + ", config key train.global-batch gives "
          + t.globalBatch());
    }
    String workers = c.meta().get("workers");
    if (workers != null && !workers.equals(Integer.toString(partitions))) {
      throw new BadInputException("--resume: the checkpoint in " + where + " was trained on "
          + workers + " workers, this run has " + partitions + " (config key train.workers"
          + (t.workers() == 0 ? " = 0 follows Spark's default parallelism" : " = " + t.workers())
          + "; set train.workers = " + workers + " to continue the same run)");
    }
    String recorded = c.meta().get("steps-per-epoch");
    if (recorded != null && !recorded.equals(Integer.toString(stepsPerEpoch))) {
      // the batch and the workers were checked above: where both are recorded, they are the
      // same, and the count changed with the version (since 2026-12-03 an epoch leaves out a
      // partition's lone last sample before a batch norm over one value per channel)
      throw new BadInputException("--resume: the checkpoint in " + where + " ran " + recorded
          + " steps per epoch, this config gives " + stepsPerEpoch + (batch != null
          && workers != null ? " with the same global batch and workers: it was written by a "
          + "convspark version that counted an epoch's steps otherwise, and cannot be "
          + "continued exactly; start the run again (--overwrite)" : " (config keys "
          + "train.global-batch and train.workers must stay as they were)"));
    }
  }

  /** Checkpoint metadata: train.epochs of the run that wrote it (the cosine schedule's span). */
  static final String PLANNED_EPOCHS = "epochs";

  /**
   * A cosine schedule decays over train.epochs: a resume with another train.epochs (as the
   * warning for a finished run suggests, to train on) places the rate on another curve, and the
   * rate jumps at the resumed step. Allowed, but said, with the two rates.
   */
  private void warnIfTheScheduleMoved(Checkpoint c, LrSchedule schedule, long step,
      int stepsPerEpoch) {
    String planned = c.meta().get(PLANNED_EPOCHS);
    if (planned == null || schedule.decay() != LrSchedule.Decay.COSINE
        || planned.equals(Integer.toString(schedule.totalEpochs()))) {
      return;
    }
    LrSchedule before;
    try {
      before = new LrSchedule(schedule.baseLr(), schedule.baseBatch(), schedule.globalBatch(),
          schedule.rule(), schedule.warmupEpochs(), schedule.decay(), Integer.parseInt(planned),
          schedule.stepEvery(), schedule.stepGamma(), schedule.minLr());
    } catch (NumberFormatException e) {
      return;
    }
    log.warning(String.format("the checkpoint was trained with train.epochs = %s, this run has "
        + "%d: the cosine schedule now decays over %d epochs, and the learning rate at step %d "
        + "is %.4g instead of %.4g (keep train.epochs = %s to continue the same schedule)",
        planned, schedule.totalEpochs(), schedule.totalEpochs(), step,
        schedule.lr(step, stepsPerEpoch), before.lr(step, stepsPerEpoch), planned));
  }

  /**
   * Checkpoint metadata: what the run's resumes changed, carried from checkpoint to checkpoint
   * (summary.json's {@code changed_on_resume}).
   */
  static final String CHANGED_ON_RESUME = "changed-on-resume";

  /**
   * Every resume of this run that changed a setting, oldest first: {@code {"epoch": the epoch
   * it resumed at, "settings": ["train.key old -> new", ...]}}; the epochs whose summary.json
   * config is not the one they ran with.
   */
  private final List<Map<String, Object>> changedOnResume = new ArrayList<>();

  /**
   * Takes the record of the checkpoint resumed from (an unreadable one, or none from an older
   * version, starts empty) and adds this resume's changes: the settings {@code changed} names,
   * and train.epochs, which the warnings leave aside unless the schedule moves, but which a
   * summary of a run extended from 10 epochs to 20 should say.
   */
  private void recordChanges(Checkpoint c, int startEpoch, List<String> changed) {
    String held = c.meta().get(CHANGED_ON_RESUME);
    if (held != null) {
      try {
        for (com.fasterxml.jackson.databind.JsonNode e : Json.MAPPER.readTree(held)) {
          List<String> settings = new ArrayList<>();
          e.get("settings").forEach(v -> settings.add(v.asText()));
          Map<String, Object> entry = new LinkedHashMap<>();
          entry.put("epoch", e.get("epoch").asInt());
          entry.put("settings", settings);
          changedOnResume.add(entry);
        }
      } catch (IOException | RuntimeException e) {
        changedOnResume.clear();
        log.warning("the checkpoint's record of earlier resumes' changes is unreadable, "
            + "summary.json's changed_on_resume starts again: " + e.getMessage());
      }
    }
    List<String> now = new ArrayList<>();
    String planned = c.meta().get(PLANNED_EPOCHS);
    if (planned != null && !planned.equals(Integer.toString(cfg.train().epochs()))) {
      now.add("train.epochs " + planned + " -> " + cfg.train().epochs());
    }
    now.addAll(changed);
    if (!now.isEmpty()) {
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("epoch", startEpoch);
      entry.put("settings", now);
      changedOnResume.add(entry);
    }
  }

  /** Checkpoint metadata: the training split's size, and its checksum where known. */
  static final String TRAIN_SAMPLES = "train-samples";
  static final String TRAIN_CRC = "train-crc32c";

  /** Checkpoint metadata: the validation split's size, and its checksum where known. */
  static final String VALIDATION_SAMPLES = "validation-samples";
  static final String VALIDATION_CRC = "validation-crc32c";

  /**
   * A resume validating on other data than the checkpoint's (other data.validation.* files; a
   * changed data.validation-fraction moves training samples and is refused) is allowed, but
   * said when the run has a best epoch: its value, which new epochs must beat for best.bin and
   * early stopping, was measured on the old data. Checkpoints without the metadata (older
   * versions, or no validation then) are not compared.
   */
  private void warnIfOtherValidation(Checkpoint c, EarlyStop stop) {
    String n = c.meta().get(VALIDATION_SAMPLES);
    if (n == null || validationSamples < 0 || stop.bestEpoch() <= 0) {
      return;
    }
    String was = c.meta().get(VALIDATION_CRC);
    String now = validationChecksum.isPresent()
        ? Long.toHexString(validationChecksum.getAsLong()) : null;
    if (n.equals(Long.toString(validationSamples)) && (was == null || now == null
        || was.equals(now))) {
      return;
    }
    log.warning("--resume: the validation data is not the checkpoint's (" + n + " samples"
        + (was == null ? "" : ", CRC-32C " + was) + " then, " + validationSamples + " samples"
        + (now == null ? "" : ", CRC-32C " + now) + " now): the best epoch " + stop.bestEpoch()
        + "'s " + stop.metricName() + " " + String.format("%.4f", stop.best())
        + ", which later epochs must beat for best.bin and early stopping, was measured on the "
        + "old data (config keys data.validation.*)");
  }

  /**
   * Resuming trains on the data the checkpoint was trained on: as many training samples (after
   * the validation split), and where the driver read them (IDX, CSV), the same ones. Another
   * labels file with the same images passed every other check and trained on garbage.
   * Checkpoints of older versions without this metadata are not checked.
   */
  private static void checkSameData(Checkpoint c, long samples, java.util.OptionalLong crc,
      String where) {
    String n = c.meta().get(TRAIN_SAMPLES);
    if (n != null && !n.equals(Long.toString(samples))) {
      throw new BadInputException("--resume: the checkpoint in " + where + " was trained on "
          + n + " training samples, this run's training data (config keys data.train.*, after "
          + "the validation split that data.validation-fraction or data.validation.* makes) has "
          + samples + "; resume with the data and the split it was trained on");
    }
    String was = c.meta().get(TRAIN_CRC);
    if (was != null && crc.isPresent() && !was.equals(Long.toHexString(crc.getAsLong()))) {
      throw new BadInputException("--resume: the checkpoint in " + where + " was trained on "
          + "other training data than config keys data.train.* give now (as many samples, "
          + "other labels or images: CRC-32C " + was + " then, " + Long.toHexString(
          crc.getAsLong()) + " now); resume with the data it was trained on");
    }
  }

  /**
   * The best epoch's weights from the checkpoint of that epoch, when best.bin could not give
   * them on --resume (missing, torn, or of another epoch) and that checkpoint is the one resumed
   * from or is still kept: a checkpoint holds the weights its epoch was validated with.
   *
   * @return null when no such checkpoint is readable
   */
  private ModelState bestFromCheckpoint(CheckpointStore store, Checkpoint resumed, int epoch,
      int stepsPerEpoch) throws IOException {
    Checkpoint e = resumed;
    if (resumed.epoch() != epoch) {
      long s = resumed.step() - (long) (resumed.epoch() - epoch) * stepsPerEpoch;
      Optional<Checkpoint> at = store.readStep(s);
      if (at.isEmpty() || at.get().epoch() != epoch) {
        return null;
      }
      e = at.get();
    }
    log.info(String.format("convspark: the best weights (epoch %d) are taken from the "
        + "checkpoint of that epoch (step %d), since best.bin did not hold them", epoch,
        e.step()));
    return new ModelState(e.params().clone(), e.state().clone(), new float[0][], 0);
  }

  /** Optimizer state arrays as their sizes: "[421834, 421834] values", "none". */
  private static String sizes(float[][] arrays) {
    long total = 0;
    for (float[] a : arrays) {
      total += a.length;
    }
    return total == 0 ? "none" : java.util.Arrays.stream(arrays)
        .map(a -> Integer.toString(a.length))
        .collect(java.util.stream.Collectors.joining(", ", "[", "] values"));
  }

  /** A checkpoint of {@code weights} with {@code training}'s optimizer state. */
  private Checkpoint checkpoint(Network net, int epoch, long step, ModelState weights,
      ModelState training, String optimizerName, int stepsPerEpoch, int partitions,
      EarlyStop stop, Normalization norm) {
    Map<String, String> meta = new LinkedHashMap<>(stop.toMeta());
    meta.putAll(norm.toMeta());
    meta.put("seed", Long.toString(cfg.train().seed()));
    meta.put("steps-per-epoch", Integer.toString(stepsPerEpoch));
    meta.put("workers", Integer.toString(partitions));
    meta.put("global-batch", Integer.toString(cfg.train().globalBatch()));
    meta.put(PLANNED_EPOCHS, Integer.toString(cfg.train().epochs()));
    meta.put(ChangedSettings.META, ChangedSettings.record(cfg));
    if (!changedOnResume.isEmpty()) {
      meta.put(CHANGED_ON_RESUME, Json.write(changedOnResume));
    }
    meta.put(TRAIN_SAMPLES, Long.toString(trainSamples));
    trainChecksum.ifPresent(v -> meta.put(TRAIN_CRC, Long.toHexString(v)));
    if (validationSamples >= 0) {
      meta.put(VALIDATION_SAMPLES, Long.toString(validationSamples));
      validationChecksum.ifPresent(v -> meta.put(VALIDATION_CRC, Long.toHexString(v)));
    }
    return new Checkpoint(net.spec().render(), epoch, step, weights.params().clone(),
        weights.state().clone(), optimizerName, copy(training.optimizerState()),
        training.optimizerSteps(), meta);
  }

  private static float[][] copy(float[][] a) {
    float[][] c = new float[a.length][];
    for (int i = 0; i < a.length; i++) {
      c[i] = a[i].clone();
    }
    return c;
  }
}
