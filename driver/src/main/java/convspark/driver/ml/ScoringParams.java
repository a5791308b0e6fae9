package convspark.driver.ml;

import com.typesafe.config.Config;
import convspark.driver.config.Settings;
import java.io.Serializable;
import java.util.function.Predicate;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.param.Params;
import scala.Function1;

/**
 * The Spark ML params that {@link CnnClassifier} and {@link CnnClassificationModel} share,
 * declared once: the columns and the scoring batch. Param objects belong to a stage (their
 * parent is its uid), so each stage holds a {@link Declared} made in its constructor; the
 * getters and setters here read it. Defaults: column names follow Spark ML's conventions and
 * {@code data.dataframe.*-col}, {@code inferenceBatch} is {@code predict.inference-batch} of
 * convspark-defaults.conf.
 *
 * @param <S> the stage type the setters return
 */
public interface ScoringParams<S extends ScoringParams<S>> extends Params {

  /** The shared param objects of one stage. */
  final class Declared implements Serializable {
    private static final long serialVersionUID = 1L;
    final Param<String> featuresCol;
    final Param<String> labelCol;
    final Param<String> predictionCol;
    final Param<String> rawPredictionCol;
    final Param<String> probabilityCol;
    final IntParam inferenceBatch;

    /** Declares the params on {@code owner} and sets their defaults. */
    Declared(ScoringParams<?> owner) {
      featuresCol = new Param<>(owner, "featuresCol", "features column name: a Vector, an "
          + "array of numbers (C,H,W order) or an image struct", nonEmpty());
      labelCol = new Param<>(owner, "labelCol", "label column name: class indices 0..K-1 "
          + "(not used by the model's transform)", nonEmpty());
      predictionCol = new Param<>(owner, "predictionCol",
          "prediction column name (empty: not added)", notNull());
      rawPredictionCol = new Param<>(owner, "rawPredictionCol",
          "raw prediction (logits) column name (empty: not added)", notNull());
      probabilityCol = new Param<>(owner, "probabilityCol",
          "class probabilities column name (empty: not added)", notNull());
      inferenceBatch = new IntParam(owner, "inferenceBatch",
          "rows per forward pass when the model scores (> 0, at most 1,000,000)",
          ParamValidators.inRange(1, 1_000_000));
      Config d = Settings.defaults();
      owner.setDefault(featuresCol, d.getString("data.dataframe.features-col"));
      owner.setDefault(labelCol, d.getString("data.dataframe.label-col"));
      owner.setDefault(predictionCol, "prediction");
      owner.setDefault(rawPredictionCol, "rawPrediction");
      owner.setDefault(probabilityCol, "probability");
      owner.setDefault(inferenceBatch, d.getInt("predict.inference-batch"));
    }
  }

  /** This stage's shared param objects (not a Param: Spark's reflection skips it). */
  Declared scoring();

  /** A serializable validator: non-empty string. */
  static Function1<String, Object> nonEmpty() {
    return check(s -> s != null && !s.isEmpty());
  }

  /**
   * {@code v}, or an error in Spark's words when it is null (Spark's own validation of a null
   * value fails with a NullPointerException while it words its message).
   */
  static String given(Param<String> p, String v) {
    if (v == null) {
      throw new IllegalArgumentException(p.parent() + " parameter " + p.name()
          + " given invalid value null.");
    }
    return v;
  }

  /** A serializable validator: any string but null (empty allowed). */
  static Function1<String, Object> notNull() {
    return check(s -> s != null);
  }

  /** A serializable validator from a predicate. */
  static <T> Function1<T, Object> check(SerializablePredicate<T> p) {
    return (Function1<T, Object> & Serializable) p::test;
  }

  /** A predicate Spark can ship with a param. */
  interface SerializablePredicate<T> extends Predicate<T>, Serializable {}

  @SuppressWarnings("unchecked")
  private S self() {
    return (S) this;
  }

  default Param<String> featuresCol() {
    return scoring().featuresCol;
  }

  default Param<String> labelCol() {
    return scoring().labelCol;
  }

  default Param<String> predictionCol() {
    return scoring().predictionCol;
  }

  default Param<String> rawPredictionCol() {
    return scoring().rawPredictionCol;
  }

  default Param<String> probabilityCol() {
    return scoring().probabilityCol;
  }

  default IntParam inferenceBatch() {
    return scoring().inferenceBatch;
  }

  default String getFeaturesCol() {
    return getOrDefault(featuresCol());
  }

  default String getLabelCol() {
    return getOrDefault(labelCol());
  }

  default String getPredictionCol() {
    return getOrDefault(predictionCol());
  }

  default String getRawPredictionCol() {
    return getOrDefault(rawPredictionCol());
  }

  default String getProbabilityCol() {
    return getOrDefault(probabilityCol());
  }

  default int getInferenceBatch() {
    return (Integer) getOrDefault(inferenceBatch());
  }

  default S setFeaturesCol(String v) {
    set(featuresCol(), given(featuresCol(), v));
    return self();
  }

  default S setLabelCol(String v) {
    set(labelCol(), given(labelCol(), v));
    return self();
  }

  default S setPredictionCol(String v) {
    set(predictionCol(), given(predictionCol(), v));
    return self();
  }

  default S setRawPredictionCol(String v) {
    set(rawPredictionCol(), given(rawPredictionCol(), v));
    return self();
  }

  default S setProbabilityCol(String v) {
    set(probabilityCol(), given(probabilityCol(), v));
    return self();
  }

  default S setInferenceBatch(int v) {
    set(inferenceBatch(), v);
    return self();
  }
}
