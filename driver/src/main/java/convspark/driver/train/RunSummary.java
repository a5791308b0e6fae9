package convspark.driver.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import convspark.common.blas.Blas;
import convspark.common.blas.BlasInfo;
import convspark.common.io.AtomicFiles;
import convspark.common.optim.LrSchedule;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.metrics.EpochMetrics;
import convspark.driver.metrics.Json;
import convspark.worker.Evaluation;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What a finished run reports, written as {@code summary.json}: the test evaluation, the best
 * validation metrics, how the run was laid out and how fast it trained, and the resolved config.
 *
 * @param cfg the run's configuration
 * @param history the metrics of every epoch run (resumed runs included)
 * @param test the evaluation of the final weights on the test split, or null
 * @param testedEpoch the epoch whose weights were kept and tested (the best one, or the last)
 * @param stop the early-stopping record (best validation metrics)
 * @param epochsRun epochs done
 * @param steps global steps done
 * @param partitions data partitions
 * @param localBatch samples per partition per step
 * @param params trainable parameters of the model
 * @param wallSeconds wall time of this invocation (a resumed run's earlier invocations are not
 *     counted; their epochs' times are in metrics.jsonl)
 * @param executorBlas the BLAS each executor loaded (summary.json's blas_detail)
 * @param ended why training ended: {@link #COMPLETED}, {@link #EARLY_STOPPED} or {@link #PAUSED}
 * @param checkpointDir where the run's checkpoints are (summary.json's checkpoint_dir, without
 *     any user info of the URI), the directory a {@code --resume} names
 * @param changedOnResume every resume of the run that changed a setting, oldest first: the
 *     epoch it resumed at and the settings, {@code train.key old -> new} (summary.json's
 *     changed_on_resume; its config is the last invocation's)
 * @param master the Spark master the run used (summary.json's master: --master, spark-submit's
 *     or the caller's session's, which the config's spark.master need not be)
 */
public record RunSummary(RunConfig cfg, List<EpochMetrics> history, Evaluation test,
    int testedEpoch, EarlyStop stop, int epochsRun, long steps, int partitions, int localBatch,
    int params, double wallSeconds, List<BlasInfo> executorBlas, String ended,
    String checkpointDir, List<Map<String, Object>> changedOnResume, String master) {

  /** Every epoch of train.epochs ran. */
  public static final String COMPLETED = "completed";
  /** Early stopping ended the run before train.epochs. */
  public static final String EARLY_STOPPED = "early-stopped";
  /** The invocation stopped after the epochs it was asked to run ({@code --stop-after}). */
  public static final String PAUSED = "paused";

  /** The summary as ordered JSON-ready values. */
  public Map<String, Object> toMap() throws IOException {
    RunConfig.Train t = cfg.train();
    LrSchedule schedule = t.lrSchedule();
    double trainTime = 0;
    long trainImages = 0;
    for (EpochMetrics m : history) {
      trainTime += m.trainSeconds();
      trainImages += (long) Math.round(m.imagesPerSecond() * m.trainSeconds());
    }
    Map<String, Object> summary = new LinkedHashMap<>();
    Map<String, Object> testMap = new LinkedHashMap<>();
    testMap.put("accuracy", test == null ? null : test.accuracy());
    testMap.put("loss", test == null ? null : test.meanLoss());
    testMap.put("count", test == null ? 0 : test.count);
    testMap.put("weights_epoch", testedEpoch);
    if (test != null) {
      testMap.put("per_class_accuracy", test.perClassAccuracy());
      testMap.put("confusion", test.confusion);
    }
    summary.put("test", testMap);
    Map<String, Object> bestVal = new LinkedHashMap<>();
    bestVal.put("accuracy", stop.bestAccuracy());
    bestVal.put("loss", stop.bestLoss());
    // without validation data there is no best validation epoch (every epoch counted as the
    // best, and test.weights_epoch says which weights were tested)
    bestVal.put("epoch", stop.bestLoss() == null ? null : stop.bestEpoch());
    summary.put("best_val", bestVal);
    summary.put("ended", ended);
    summary.put("epochs_run", epochsRun);
    summary.put("steps", steps);
    summary.put("workers", partitions);
    summary.put("master", masterWithoutUserInfo(master));
    summary.put("local_batch", localBatch);
    summary.put("global_batch", t.globalBatch());
    summary.put("k", schedule.k());
    summary.put("scaling", t.scaling().name().toLowerCase());
    summary.put("scaled_lr", schedule.scaledLr());
    summary.put("warmup_epochs", t.warmupEpochs());
    summary.put("train_images_per_second", trainTime > 0 ? trainImages / trainTime : null);
    summary.put("wall_seconds", wallSeconds);
    summary.put("blas", Blas.describe());
    Map<String, Object> blasDetail = new LinkedHashMap<>();
    blasDetail.put("driver", Blas.info().toMap());
    blasDetail.put("executors", executorBlas.stream().map(BlasInfo::toMap).toList());
    summary.put("blas_detail", blasDetail);
    summary.put("seed", t.seed());
    summary.put("params", params);
    summary.put("engine", t.engine().name().toLowerCase());
    summary.put("checkpoint_dir", withoutUserInfo(checkpointDir));
    summary.put("changed_on_resume", changedOnResume);
    summary.put("config", redacted(Json.MAPPER.readTree(Settings.renderJson(cfg.raw()))));
    return summary;
  }

  /**
   * What summary.json writes for a setting whose name says it holds a credential: Spark's own
   * default {@code spark.redaction.regex}, applied to every key of the config (the properties of
   * {@code spark.conf} and {@code data.dataframe.options} are passed on as they are, and a value
   * may come from the environment through a substitution).
   */
  static final Pattern SECRET_KEY =
      Pattern.compile("(?i)secret|password|token|access[.]key");
  static final String REDACTED = "*********(redacted)";

  /**
   * {@code node} with every value whose dotted path matches {@link #SECRET_KEY} replaced, a
   * whole object or list included: HOCON nests an unquoted key ({@code
   * spark.conf.spark.hadoop.fs.s3a.secret.key = ...} is an object {@code secret} holding {@code
   * key}), and Spark still receives it as one property.
   */
  public static JsonNode redacted(JsonNode node) {
    return redacted(node, "");
  }

  private static JsonNode redacted(JsonNode node, String path) {
    if (node instanceof ObjectNode o) {
      List<String> names = new ArrayList<>();
      o.fieldNames().forEachRemaining(names::add);
      for (String k : names) {
        JsonNode v = o.get(k);
        String p = path.isEmpty() ? k : path + "." + k;
        if (SECRET_KEY.matcher(p).find() && !v.isNull()) {
          o.put(k, REDACTED);
        } else {
          redacted(v, p);
        }
      }
    } else if (node != null && node.isArray()) {
      for (JsonNode e : node) {
        redacted(e, path);
      }
    }
    return node;
  }

  /**
   * Writes {@code summary.json} into {@code dir} atomically (a failed write leaves an older
   * summary as it was) and returns what it wrote.
   */
  /** {@code uri} without the user info a URI may carry (credentials, in old S3 URIs). */
  /**
   * A Spark master URL without user info anywhere in it: {@code k8s://https://user:secret@host}
   * nests a URI, whose user info {@link #withoutUserInfo} would not see.
   */
  static String masterWithoutUserInfo(String master) {
    return master == null ? null : master.replaceAll("//[^/@]*@", "//");
  }

  static String withoutUserInfo(String uri) {
    try {
      java.net.URI u = new java.net.URI(uri);
      if (u.getRawUserInfo() == null) {
        return uri;
      }
      return new java.net.URI(u.getScheme(), null, u.getHost(), u.getPort(), u.getPath(),
          u.getQuery(), u.getFragment()).toString();
    } catch (java.net.URISyntaxException e) {
      return uri.replaceAll("//[^/@]*@", "//");
    }
  }

  public Map<String, Object> write(Path dir) throws IOException {
    Map<String, Object> m = toMap();
    AtomicFiles.writeString(dir.resolve(Trainer.SUMMARY_FILE), Json.pretty(m) + "\n");
    return m;
  }
}
