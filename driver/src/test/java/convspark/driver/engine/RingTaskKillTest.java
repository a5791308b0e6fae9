package convspark.driver.engine;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.driver.SparkTestSession;
import convspark.worker.SampleBlock;
import convspark.worker.ring.ReplicaRound;
import convspark.worker.ring.RingRendezvous;
import convspark.worker.ring.RingSecret;
import java.net.InetAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * A ring task whose peer fails before the ring forms ends as soon as Spark kills it, not after
 * train.ring.timeout-seconds: Spark marks the tasks of a failed barrier stage killed without
 * interrupting them, so a task waiting in the rendezvous for a peer that will never register
 * held its slot (and held up the round's rerun) for the whole timeout.
 */
class RingTaskKillTest {
  private static final int TIMEOUT_MS = 60_000;

  @Test
  void aTaskWaitingForAFailedPeerEndsWhenSparkKillsIt() throws Exception {
    SparkSession spark = SparkTestSession.start();
    byte[] secret = RingSecret.generate();
    try (RingRendezvous.Server meet =
        RingRendezvous.Server.start(InetAddress.getLoopbackAddress(), secret)) {
      JavaSparkContext jsc = SparkTestSession.jsc(spark);
      CompletableFuture<String> rank0Ended = new CompletableFuture<>();
      jsc.sc().addSparkListener(new SparkListener() {
        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
          if (end.taskInfo().index() == 0) {
            rank0Ended.complete(end.reason().toString());
          }
        }
      });
      // rank 1 fails before it registers; rank 0 registers and waits for it
      JavaRDD<SampleBlock> blocks = jsc.parallelize(List.of(0, 1), 2)
          .mapPartitionsWithIndex((p, it) -> {
            if (p == 1) {
              throw new IllegalStateException("rank 1 failed before forming the ring");
            }
            return List.of(new SampleBlock(0, 4, new float[0], new int[0])).iterator();
          }, false);
      meet.expect(7, 2);
      RingTask task = new RingTask(null, null, secret, 7, TIMEOUT_MS, meet.address(), false, false,
          0, null, false);
      ClassTag<ReplicaRound.Output> tag = ClassTag$.MODULE$.apply(ReplicaRound.Output.class);
      long t0 = System.nanoTime();
      Exception e = assertThrows(Exception.class, () -> new JavaRDD<>(
          blocks.rdd().barrier().mapPartitions(task, false, tag), tag).collect());
      assertTrue(RingEngine.firstLine(e).contains("rank 1 failed before forming the ring"),
          RingEngine.firstLine(e));
      String reason = rank0Ended.get(20, TimeUnit.SECONDS);
      double secs = (System.nanoTime() - t0) / 1e9;
      assertTrue(secs < 20, "rank 0 ended after " + secs + " s");
      assertTrue(reason.startsWith("TaskKilled"), reason);
    } finally {
      spark.stop();
    }
  }
}
