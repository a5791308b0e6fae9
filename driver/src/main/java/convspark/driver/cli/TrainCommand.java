package convspark.driver.cli;

import convspark.common.BadInputException;
import convspark.common.nn.Network;
import convspark.driver.interop.TorchModel;
import convspark.driver.config.Preflight;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.train.SparkSessions;
import convspark.driver.train.Trainer;
import convspark.driver.train.TrainingData;
import convspark.driver.train.TrainingListener;
import convspark.worker.TrainingFailedException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code convspark train}: trains a model and writes checkpoints, metrics and a summary. */
@Command(name = "train", mixinStandardHelpOptions = true, version = Main.VERSION,
    description = "Train a CNN with data-parallel SGD on Spark.")
public final class TrainCommand implements Callable<Integer> {
  @Mixin CommonOptions common;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "Output directory: summary.json, metrics.jsonl, training.png, checkpoints/.")
  Path out;

  @Option(names = "--checkpoint-dir", paramLabel = "URI",
      description = "Where checkpoints go (any Hadoop FileSystem URI); default OUT/checkpoints.")
  String checkpointDir;

  @Option(names = "--init-from", paramLabel = "FILE",
      description = "Start from the weights of a safetensors file (export, or PyTorch).")
  String initFrom;

  @Option(names = "--resume", description = "Continue from the newest good checkpoint.")
  boolean resume;

  @Option(names = "--auto-resume", description = "Continue from the newest good checkpoint if "
      + "the checkpoint directory holds one, else start a new run: one command for the first "
      + "attempt and every retry of a scheduled job.")
  boolean autoResume;

  /** Whether this invocation continues a run (--resume, or as --auto-resume decided). */
  private boolean resuming;

  @Option(names = "--stop-after", paramLabel = "EPOCHS",
      description = "Stop after this many epochs of this invocation (continue with --resume).")
  int stopAfter = Integer.MAX_VALUE;

  @Option(names = "--overwrite", description = "Replace the run in an existing, non-empty output "
      + "directory (one holding only what a run writes).")
  boolean overwrite;

  @Override
  public Integer call() throws IOException {
    if (out.toString().isBlank()) {
      throw new BadInputException("--out: empty; give the run's directory (an empty --out "
          + "would be the current directory)");
    }
    if (resume && overwrite) {
      throw new BadInputException("--resume with --overwrite: one continues the run in --out, "
          + "the other replaces it; give one of the two");
    }
    if (autoResume && (resume || overwrite)) {
      throw new BadInputException("--auto-resume with " + (resume ? "--resume" : "--overwrite")
          + ": --auto-resume chooses between continuing and starting anew itself; give it "
          + "alone");
    }
    Preflight.stopAfter(stopAfter);
    RunConfig cfg = RunConfig.parse(Settings.load(common.config, common.set));
    Preflight.check(cfg, Runtime.getRuntime().maxMemory());
    Configuration conf = RunIdentity.hadoopConf(cfg);
    // everything that can be checked without Spark is checked before --out is touched
    TorchModel.Loaded init = null;
    if (initFrom != null && resume) {
      throw new BadInputException("--init-from " + initFrom + " with --resume: a resumed run "
          + "continues from its own checkpoint; give one of the two");
    }
    if (initFrom != null && !autoResume) {
      init = Checkpoints.readInitFrom(initFrom, new Network(cfg.model()));
    }
    boolean frames = cfg.data().format() == RunConfig.Format.DATAFRAME;
    TrainingData data = frames ? null : TrainingData.prepare(cfg, conf);
    String ckpt = checkpointDir != null ? checkpointDir
        : Trainer.defaultCheckpointDir(out);
    RunDirectory.Intent want = new RunDirectory.Intent(resume, overwrite, autoResume,
        checkpointDir != null && RunIdentity.outside(ckpt, out, conf),
        checkpointDir != null ? RunIdentity.entryUnder(ckpt, out, conf)
            : java.util.Optional.empty());
    try (RunDirectory dir = RunDirectory.open(out, want,
        () -> RunIdentity.usableCheckpoint(ckpt, conf))) {
      resuming = dir.resuming();
      if (autoResume && initFrom != null) {
        // read only where it is used: a retry that resumes needs no longer the file its first
        // attempt started from (a temporary download, say)
        if (resuming) {
          System.out.println("convspark: --auto-resume: continuing the run from its "
              + "checkpoint; --init-from " + initFrom + " served its first attempt and is not "
              + "read again");
        } else {
          init = Checkpoints.readInitFrom(initFrom, new Network(cfg.model()));
        }
      }
      try (RunIdentity id = RunIdentity.check(dir, ckpt, resuming, dir.mayReplace(), conf)) {
        TrainingListener log = TrainingListener.printing(System.out);
        dir.writableByAll().ifPresent(log::warning);
        id.writableByAll().ifPresent(log::warning);
        id.tookOverLock().ifPresent(log::warning);
        SparkSession spark = Cli.startSpark(cfg, common.master);
        boolean started = false;
        try {
          if (frames) {
            data = TrainingData.prepareFrames(cfg, spark);
          }
          // the new run can start: only now is an old run (--overwrite) set aside; from the
          // first file moved on, a failure before the first checkpoint brings it back (failed)
          started = true;
          dir.setAside();
          id.start();
          Trainer trainer = new Trainer(cfg, SparkSessions.context(spark), out, ckpt, log);
          trainer.runId(id.id());
          id.takeResumePoint().ifPresent(trainer::resumeFrom);
          trainer.checkpointGuard(id::checkLock);
          // the replaced run (--overwrite) goes once the new run has a checkpoint to resume from
          trainer.afterFirstCheckpoint(() -> {
            id.commit();
            dir.commit();
          });
          if (init != null) {
            trainer.initialWeights(init.params(), init.state());
            Checkpoints.initFromDifferences(initFrom, init, cfg, data.normalization())
                .forEach(log::warning);
          }
          trainer.run(data, resuming, stopAfter);
        } catch (Throwable e) {
          throw failed(e, started, dir, id);
        } finally {
          SparkSessions.stop(spark);
        }
        id.commit();
        dir.commit();
      }
    }
    return Main.OK;
  }

  /**
   * What a failure leaves: a new run that wrote no checkpoint is undone (and an old run it was
   * replacing comes back, also when setting it aside or starting failed partway); otherwise the
   * run stays, resumable. Failures during training name the last good checkpoint.
   */
  private RuntimeException failed(Throwable e, boolean started, RunDirectory dir,
      RunIdentity id) {
    java.util.Optional<org.apache.hadoop.fs.Path> last = started ? id.lastGood()
        : java.util.Optional.empty();
    if (started && !resuming) {
      // each step on its own: one that fails must not keep the other from running
      List<IoStep> steps = last.isEmpty() ? List.of(id::rollBack, dir::rollBack)
          : List.of(id::commit, dir::commit);
      for (IoStep s : steps) {
        try {
          s.run();
        } catch (IOException | RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
      }
    }
    if (Main.badInput(e) != null || !started) {
      return Main.asRuntime(e);
    }
    List<String> stuck = new ArrayList<>();
    dir.aside().ifPresent(a -> stuck.add(a.toString()));
    id.aside().ifPresent(a -> stuck.add(a.toString()));
    String kept = !dir.replacing() ? "nothing was kept" : stuck.isEmpty()
        ? "the replaced run was restored"
        : "the replaced run could not be moved back from " + String.join(" and ", stuck);
    String where = last.map(p -> "; last good checkpoint: " + p + " (continue with --resume)")
        .orElse(resuming ? "" : "; no checkpoint was written, " + kept);
    // the updater's "the last good checkpoint in DIR is kept" knows no checkpoint: the line
    // says which one there is, or that there is none, once
    return new TrainingFailedException(cause(e, shuttingDown())
        .replaceFirst("; the last good checkpoint in [^;]* is kept", "") + where, e);
  }

  /**
   * What stopped the run, for its one line: when the JVM is shutting down (a SIGINT or SIGTERM;
   * Spark's shutdown hook stops the context first, and the training fails with "SparkContext was
   * shut down" or "Cannot call methods on a stopped SparkContext"), that, not Spark's message.
   * Spark's executor also ends the JVM itself for a fatal error in a task (exit 52 for out of
   * memory); convspark's tasks turn theirs into {@code TaskOutOfMemoryException}, so only one
   * in Spark's own code comes here, and the line then says so ({@link Cli#fatalOutOfMemory}).
   */
  static String cause(Throwable e, boolean shuttingDown) {
    String fatal = shuttingDown ? Cli.fatalOutOfMemory() : null;
    return fatal != null ? "stopped: " + fatal
        : shuttingDown ? "stopped: the JVM is shutting down (a SIGINT or SIGTERM), and Spark "
            + "with it"
        : Main.describe(e);
  }

  /** Whether the JVM's shutdown has begun (no hook can be added any more). */
  static boolean shuttingDown() {
    try {
      Thread probe = new Thread(() -> { });
      Runtime.getRuntime().addShutdownHook(probe);
      Runtime.getRuntime().removeShutdownHook(probe);
      return false;
    } catch (IllegalStateException e) {
      return true;
    }
  }

  /** One step of cleaning up after a failure. */
  private interface IoStep {
    void run() throws IOException;
  }
}
