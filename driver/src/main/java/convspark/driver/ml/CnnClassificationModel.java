package convspark.driver.ml;

import com.fasterxml.jackson.databind.JsonNode;
import convspark.common.BadInputException;
import convspark.common.io.Checkpoint;
import convspark.common.io.CheckpointFormatException;
import convspark.common.nn.ModelValues;
import convspark.common.nn.Network;
import convspark.common.spec.Shape;
import convspark.common.nn.Workspace;
import convspark.common.spec.ModelSpec;
import convspark.driver.config.Preflight;
import convspark.driver.data.Frames;
import convspark.driver.data.Normalization;
import convspark.driver.exec.Scorer;
import convspark.driver.exec.Weights;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Model;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A trained convspark CNN as a Spark ML {@link Model}: {@link #transform} appends {@code
 * rawPrediction} (the logits shifted to mean zero, a Vector), {@code probability} (their
 * softmax, a Vector) and
 * {@code prediction} (the index of the largest logit, a double), as Spark's probabilistic
 * classifiers do; an empty column name leaves that column out. The shift changes neither the
 * softmax nor the argmax; with two classes it makes element 1 of rawPrediction half the logit
 * difference, monotone in the probability of class 1, as in LogisticRegression's rawPrediction,
 * so that {@code BinaryClassificationEvaluator}, which ranks rows by element 1, measures the
 * model's AUC (with the raw logits it did not: softmax ignores a common shift of the logits).
 *
 * <p>Scoring runs on the executors in batches of {@link #inferenceBatch()} rows: each partition
 * gathers a batch, normalises it exactly as in training, runs one forward pass through the same
 * BLAS kernel as training (a pooled {@link Workspace}) and emits the rows. The weights are
 * broadcast once per {@code transform}; the result is lazy, so the broadcast is not destroyed
 * there: Spark's ContextCleaner removes it once the returned DataFrame is garbage collected
 * (as for MLlib's own models).
 *
 * <p>The features column holds unscaled features, like the training data: an ML Vector, an
 * array of numbers (C,H,W order) or an image struct of {@code spark.read.format("image")}.
 *
 * <p>Saved with {@code write().save(path)} (Spark ML metadata in {@code path/metadata}, the
 * convspark checkpoint, including the normalisation, in {@code path/data/model.ckpt}); loaded
 * with {@link #load} or as a stage of {@code PipelineModel.load}.
 */
public final class CnnClassificationModel extends Model<CnnClassificationModel>
    implements ScoringParams<CnnClassificationModel>, MLWritable {
  private static final long serialVersionUID = 1L;

  /** Version of the saved layout this build writes and the newest it reads. */
  static final int FORMAT = 1;

  static final String DATA_FILE = "data/model.ckpt";

  private final String uid;
  private transient Checkpoint checkpoint;
  private final Network net;
  private final Normalization norm;
  private transient Map<String, Object> summary;

  private final ScoringParams.Declared scoring;

  /**
   * A model of checkpoint {@code c}: its model spec, weights and normalisation.
   *
   * @throws BadInputException when the checkpoint's parameters do not fit its spec, a weight or
   *     running statistic is not finite, or it has no normalisation metadata
   */
  public CnnClassificationModel(String uid, Checkpoint c) {
    this(uid, c, "CnnClassificationModel checkpoint");
  }

  /** As above; {@code source} names the checkpoint in messages (e.g. the saved model's file). */
  CnnClassificationModel(String uid, Checkpoint c, String source) {
    this.uid = uid;
    this.checkpoint = c;
    this.net = new Network(ModelSpec.parse(c.modelSpec()));
    if (c.params().length != net.paramCount() || c.state().length != net.stateCount()) {
      throw new BadInputException("checkpoint holds " + c.params().length + " parameters and "
          + c.state().length + " state values but its model has " + net.paramCount() + " and "
          + net.stateCount());
    }
    // a NaN weight would score every row as class 0, silently
    ModelValues.check(net, c.params(), c.state(), source);
    try {
      this.norm = Normalization.fromMeta(c.meta(), net.inputShape().channels());
    } catch (BadInputException e) {
      throw new BadInputException(source + ": " + e.getMessage(), e);
    }
    this.scoring = new ScoringParams.Declared(this);
  }

  /** The model of a convspark checkpoint (as written by training), with a new uid. */
  public static CnnClassificationModel fromCheckpoint(Checkpoint c) {
    return new CnnClassificationModel(Identifiable.randomUID("cnnClassificationModel"), c);
  }

  @Override
  public String uid() {
    return uid;
  }

  @Override
  public ScoringParams.Declared scoring() {
    return scoring;
  }

  // ------------------------------------------------------------------------------ model

  /** Number of classes (size of rawPrediction and probability). */
  public int numClasses() {
    return net.classes();
  }

  /** Number of features per row: channels x height x width of the model input. */
  public int numFeatures() {
    return net.inputShape().size();
  }

  public Shape inputShape() {
    return net.inputShape();
  }

  /** The network (spec and layers); its weights are in {@link #checkpoint()}. */
  public Network network() {
    return net;
  }

  /** The normalisation applied to the features before the forward pass. */
  public Normalization normalization() {
    return norm;
  }

  /** The checkpoint this model scores with (spec, weights, normalisation metadata). */
  public Checkpoint checkpoint() {
    return checkpoint;
  }

  /** Whether {@link #trainingSummary()} is available (only on a model fitted in this JVM). */
  public boolean hasSummary() {
    return summary != null;
  }

  /**
   * What training reported, as its {@code summary.json} (best validation metrics, epochs run,
   * the master, learning rate, images/s, resolved config, ...) less the test block (fit runs no
   * test), with {@code run_dir}, the fit's directory under param outputDir, where one was set
   * (without it the checkpoint directory, deleted after fit, is left out too). A copy: changing
   * it changes nothing of this model or of its copies.
   *
   * @throws IllegalStateException when the model was loaded rather than fitted
   */
  @SuppressWarnings("unchecked")
  public Map<String, Object> trainingSummary() {
    if (summary == null) {
      throw new IllegalStateException("no training summary: the model was loaded, not fitted");
    }
    return (Map<String, Object>) deepCopy(summary);
  }

  CnnClassificationModel withSummary(Map<String, Object> s) {
    this.summary = Collections.unmodifiableMap(new LinkedHashMap<>(s));
    return this;
  }

  /** {@code v} with every map, list, array and JSON tree in it copied. */
  private static Object deepCopy(Object v) {
    if (v instanceof Map<?, ?> m) {
      Map<Object, Object> c = new LinkedHashMap<>();
      m.forEach((k, x) -> c.put(k, deepCopy(x)));
      return c;
    }
    if (v instanceof List<?> l) {
      List<Object> c = new ArrayList<>(l.size());
      l.forEach(x -> c.add(deepCopy(x)));
      return c;
    }
    if (v instanceof JsonNode j) {
      return j.deepCopy();
    }
    if (v instanceof Object[] a) {
      Object[] c = a.clone();
      for (int i = 0; i < c.length; i++) {
        c[i] = deepCopy(c[i]);
      }
      return c;
    }
    if (v != null && v.getClass().isArray()) { // an array of primitives
      int n = java.lang.reflect.Array.getLength(v);
      Object c = java.lang.reflect.Array.newInstance(v.getClass().getComponentType(), n);
      System.arraycopy(v, 0, c, 0, n);
      return c;
    }
    return v; // a String, number, boolean or null
  }

  @Override
  public StructType transformSchema(StructType schema) {
    FeatureColumns.featuresKind(schema, getFeaturesCol());
    FeatureColumns.checkSize(schema, getFeaturesCol(), net.inputShape());
    // checked here, on the driver: on the executors it would fail as an array size overflow
    Preflight.batch(net, getInferenceBatch(), "CnnClassificationModel param inferenceBatch", 1);
    return FeatureColumns.withOutputs(schema, getRawPredictionCol(), getProbabilityCol(),
        getPredictionCol(), net.classes());
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType in = dataset.schema();
    StructType out = transformSchema(in);
    Frames.Kind kind = FeatureColumns.featuresKind(in, getFeaturesCol());
    Dataset<Row> df = dataset.toDF();
    SparkContext sc = df.sparkSession().sparkContext();
    Broadcast<Weights> weights = JavaSparkContext.fromSparkContext(sc)
        .broadcast(new Weights(checkpoint.params(), checkpoint.state()));
    Scorer scorer = new Scorer(net, norm, weights, kind, in.fieldIndex(getFeaturesCol()),
        getFeaturesCol(), in.size(), getInferenceBatch(), !getRawPredictionCol().isEmpty(),
        !getProbabilityCol().isEmpty(), !getPredictionCol().isEmpty());
    Dataset<Row> scored = df.mapPartitions(scorer, Encoders.row(out));
    // mapPartitions drops column metadata (StringIndexer labels, attribute groups): restore it
    Column[] cols = new Column[out.size()];
    for (int i = 0; i < cols.length; i++) {
      StructField f = out.fields()[i];
      cols[i] = scored.col("`" + f.name().replace("`", "``") + "`").as(f.name(), f.metadata());
    }
    return scored.select(cols);
  }

  @Override
  public CnnClassificationModel copy(ParamMap extra) {
    CnnClassificationModel m = copyValues(new CnnClassificationModel(uid, checkpoint), extra);
    m.summary = summary;
    return m.setParent(parent());
  }

  @Override
  public String toString() {
    return "CnnClassificationModel: uid=" + uid + ", input=" + net.inputShape() + ", classes="
        + net.classes() + ", params=" + net.paramCount();
  }



  // ------------------------------------------------------------------------------ persistence

  @Override
  public MLWriter write() {
    return new Writer(this);
  }

  /** The reader {@code PipelineModel.load} calls (via reflection) for this stage. */
  public static MLReader<CnnClassificationModel> read() {
    return new Reader();
  }

  /** Loads a model saved with {@code write().save(path)}. */
  public static CnnClassificationModel load(String path) {
    return read().load(path);
  }

  /** Writes metadata and checkpoint. */
  static final class Writer extends MLWriter {
    private final CnnClassificationModel model;

    Writer(CnnClassificationModel model) {
      this.model = model;
    }

    @Override
    public void saveImpl(String path) {
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put(MlPersistence.FORMAT_KEY, FORMAT);
      extra.put("numClasses", model.numClasses());
      extra.put("inputShape", model.inputShape().toString());
      MlPersistence.saveMetadata(model, path, sc(), extra);
      Path p = new Path(path, DATA_FILE);
      try {
        FileSystem fs = p.getFileSystem(sc().hadoopConfiguration());
        try (OutputStream out = fs.create(p, true)) {
          model.checkpoint.write(out);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(p + ": cannot write: " + e.getMessage(), e);
      }
    }
  }

  /** Reads metadata and checkpoint, checking the class and format version. */
  static final class Reader extends MLReader<CnnClassificationModel> {
    @Override
    public CnnClassificationModel load(String path) {
      JsonNode meta = MlPersistence.loadMetadata(path, sc(), CnnClassificationModel.class);
      MlPersistence.checkFormat(meta, FORMAT, path);
      Path p = new Path(path, DATA_FILE);
      Checkpoint c;
      try {
        FileSystem fs = p.getFileSystem(sc().hadoopConfiguration());
        if (!fs.exists(p)) {
          throw new BadInputException(path + ": incomplete saved model: " + DATA_FILE
              + " is missing");
        }
        try (InputStream in = fs.open(p)) {
          c = Checkpoint.read(in, p.toString());
        }
      } catch (CheckpointFormatException e) {
        throw new BadInputException(e.getMessage(), e);
      } catch (IOException e) {
        throw new UncheckedIOException(p + ": cannot read: " + e.getMessage(), e);
      }
      CnnClassificationModel m = new CnnClassificationModel(meta.get("uid").asText(), c,
          p.toString());
      MlPersistence.applyParams(m, meta, path);
      return m;
    }
  }

  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    out.writeObject(checkpoint.toBytes());
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    checkpoint = Checkpoint.fromBytes((byte[]) in.readObject(), "serialized model");
  }
}
