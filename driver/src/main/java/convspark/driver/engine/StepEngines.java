package convspark.driver.engine;

import convspark.common.nn.Network;
import convspark.driver.config.RunConfig;
import convspark.driver.exec.Distributed;
import convspark.worker.update.UpdateRule;
import org.apache.spark.api.java.JavaSparkContext;

/** Opens the engine that config key {@code train.engine} names. */
public final class StepEngines {
  private StepEngines() {}

  /**
   * What every engine is built from.
   *
   * @param jsc the Spark context
   * @param train the cached training blocks, one per partition
   * @param partitions number of partitions (= train's partitions)
   * @param net the model
   * @param rule the update rule
   * @param checkpointDir where checkpoints go (named in the divergence error)
   */
  public record Setup(JavaSparkContext jsc, Distributed.Blocks train, int partitions,
      Network net, UpdateRule rule, String checkpointDir) {}

  public static StepEngine open(RunConfig.Engine kind, Setup setup) {
    return open(kind, new RunConfig.RingSettings(3, 120), setup);
  }

  /** Opens the engine {@code kind}; {@code ring} configures the ring engine. */
  public static StepEngine open(RunConfig.Engine kind, RunConfig.RingSettings ring, Setup setup) {
    return switch (kind) {
      case DRIVER -> new BroadcastEngine(setup);
      case RING -> new RingEngine(setup, ring);
    };
  }
}
