package convspark.driver.interop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import convspark.common.nn.Network;
import convspark.driver.config.RunConfig;
import convspark.driver.config.Settings;
import convspark.driver.interop.TorchModel.Entry;
import convspark.driver.interop.TorchModel.Source;
import convspark.worker.ModelState;
import convspark.worker.PartitionStep;
import convspark.worker.SampleBlock;
import convspark.worker.StepPlan;
import convspark.worker.StepResult;
import convspark.worker.update.UpdateRule;
import convspark.worker.update.Updater;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Multi-step training parity with PyTorch: twelve steps of a small CNN (conv without bias, batch
 * norm, relu, max-pool, dense, relu, dense) on the fixed batches of {@code
 * scripts/make-torch-trajectory.py} (resources {@code torch-trajectory/}), under each optimizer
 * setting of the fixture: plain SGD; SGD with momentum and L2; Nesterov; L1; label smoothing;
 * gradient-norm clipping with L2; linear-scaled rate with warmup and cosine decay; a rate scaled
 * down (global batch below base-batch: warmup holds it) with step decay, Nesterov; two workers
 * (per-partition batch norm, uneven partitions, a global count of 7 at each epoch's end); Adam
 * (non-default betas and epsilon); Adam with coupled L2 and sqrt scaling; AdamW.
 *
 * <p>Every setting is a convspark config file (the model and the user-facing train keys), parsed
 * by {@link Settings#load} and {@link RunConfig#parse} as a run parses it; the steps run through
 * the production code: {@link PartitionStep#compute} for each partition, {@link
 * StepResult#merge} in partition order (the driver engine's ordered allreduce), then {@link
 * Updater#apply} (divide by the global count, clip, regularise, optimizer step with the scheduled
 * rate, running statistics). The same steps are also applied through the ring engine's sharded
 * update ({@link Updater#beginOwned}, two owners, {@link Updater#endOwned}) where the rule allows
 * it, which must give the same bits.
 *
 * <p>Compared: the learning rate of every step ({@link Updater#learningRate}) with the one the
 * PyTorch run used (relative 1e-12); the mean loss of every step (which depends on the
 * parameters after the step before) and, after steps 1 and 12, every parameter and batch-norm
 * running statistic, as the state-dict tensors of {@link TorchModel#layout}.
 *
 * <p>Tolerance. The references are PyTorch's float64 run from the float32 initial state and
 * inputs. For each tensor T with reference b and our float32 result a we require {@code max_i
 * |a_i - b_i| <= RTOL * max_i |b_i|}, and {@code |a - b| <= RTOL * |b|} of every step's mean
 * loss. Rounding grows along the trajectory: PyTorch's own float32 run of the same settings is
 * at most 8.5e-8 from the reference after step 1 and at most 6.0e-7 after step 12 (the fixture
 * script prints it per setting); this float32 run was measured at most 4.1e-7 (sgd-clip-l2;
 * 1.8e-7 to 3.0e-7 in the other settings; the test prints every tensor). RTOL = 1e-5 leaves a
 * margin of about 20x, while every deliberate perturbation tried fails by 10x or more above it:
 * Adam beta2 0.999 for 0.99 (2.4e-3), Nesterov momentum 0.79 for 0.8 (2.7e-2), l2 = d for
 * PyTorch's weight_decay d instead of d / 2 (0.19), regularize-all (0.51), label smoothing 0.09
 * (2.9e-2), l1 0.011 (2.9e-2), clip-grad-norm 0.33 (3.7e-2), AdamW decay 0.45 (8.8e-3),
 * momentum 0.89 with two workers (5.6e-2); and in the code: Adam's epsilon added before the
 * bias correction (1.2e-4 to 1.2e-2), Nesterov's look-ahead with the old velocity (0.18),
 * dividing by the configured global batch instead of the step's sample count (two workers, 7
 * samples at each epoch's end: 8.5e-2, and the sharded update then differs). A base-lr or
 * min-lr off by 1-5% fails the learning-rate check.
 */
class TorchTrajectoryTest {
  static final double RTOL = 1e-5;

  static Path resource(String name) {
    return TorchParityTest.resource("torch-trajectory/", name,
        "scripts/make-torch-trajectory.py");
  }

  /** The values of an F64 (or F32) tensor, without rounding F64 to float. */
  static double[] doubles(Tensor t) {
    if (t.dtype() == Tensor.DType.F64) {
      ByteBuffer b = ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN);
      double[] d = new double[(int) t.numel()];
      b.asDoubleBuffer().get(d);
      return d;
    }
    float[] f = t.toFloats();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  @ParameterizedTest
  @ValueSource(strings = {"sgd", "sgd-momentum-l2", "sgd-nesterov", "sgd-l1",
      "sgd-label-smoothing", "sgd-clip-l2", "sgd-warmup-cosine", "sgd-halved-step-decay",
      "sgd-two-workers", "adam",
      "adam-l2-sqrt", "adamw"})
  void trajectoryMatchesPyTorch(String setting) {
    RunConfig cfg = RunConfig.parse(Settings.load(resource(setting + ".conf").toString(),
        List.of()));
    Network net = new Network(cfg.model());
    TorchModel.Loaded init = TorchModel.load(net, resource("model.safetensors"));
    Map<String, Tensor> batches = SafeTensors.read(resource("batches.safetensors")).tensors();
    SafeTensors.Contents fixture = SafeTensors.read(resource(setting + ".safetensors"));
    Map<String, Tensor> expected = fixture.tensors();
    int stepsPerEpoch = Integer.parseInt(fixture.metadata().get("steps_per_epoch"));
    int[][] parts = Arrays.stream(fixture.metadata().get("partitions").split(";"))
        .map(p -> Arrays.stream(p.split(",")).mapToInt(Integer::parseInt).toArray())
        .toArray(int[][]::new);
    List<Integer> record = Arrays.stream(fixture.metadata().get("record").split(","))
        .map(Integer::valueOf).toList();

    long[] xs = batches.get("x").shape();
    int steps = (int) xs[0];
    int batch = (int) xs[1];
    int sampleSize = (int) (xs[2] * xs[3] * xs[4]);
    float[] x = batches.get("x").toFloats();
    long[] y = batches.get("y").toLongs();
    assertEquals(steps, parts.length);
    assertEquals(cfg.train().epochs() * stepsPerEpoch, steps, "the config's epochs");
    for (int[] p : parts) {
      assertEquals(cfg.train().workers(), p.length, "train.workers");
      assertTrue(Arrays.stream(p).sum() <= cfg.train().globalBatch());
    }
    int localBatch = cfg.train().globalBatch() / cfg.train().workers();

    UpdateRule rule = cfg.train().updateRule();
    Updater updater = new Updater(rule, net, "(none)");
    ModelState m = Updater.start(rule, net, init.params().clone(), init.state().clone());
    Updater sharded = updater.elementwise() ? new Updater(rule, net, "(none)") : null;
    ModelState ms = Updater.start(rule, net, init.params().clone(), init.state().clone());
    StepPlan plan = new StepPlan(net, localBatch, 0, 0, 0, cfg.train().seed(),
        cfg.train().labelSmoothing(), cfg.train().augment());

    double[] refLr = doubles(expected.get("lr"));
    double[] refLoss = doubles(expected.get("loss"));
    Map<String, Double> err = new LinkedHashMap<>();
    String shardedDiffers = null;
    for (int s = 0; s < steps; s++) {
      int epoch = s / stepsPerEpoch;
      StepResult total = null;
      int start = s * batch;
      for (int p = 0; p < parts[s].length; p++) {
        int n = parts[s][p];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
          labels[i] = (int) y[start + i];
        }
        SampleBlock block = new SampleBlock(n, sampleSize,
            Arrays.copyOfRange(x, start * sampleSize, (start + n) * sampleSize), labels);
        // the block holds exactly this step's samples: step 0 of its epoch takes them all
        StepResult r = PartitionStep.compute(block, p, plan.at(epoch, 0, s), m.params(),
            m.state());
        assertEquals(n, r.count);
        total = total == null ? r : total.merge(r);
        start += n;
      }
      double lr = updater.learningRate(s, stepsPerEpoch);
      assertEquals(refLr[s], lr, 1e-12 * refLr[s], setting + ": learning rate of step " + s);
      err.merge("loss", Math.abs(total.lossSum / total.count - refLoss[s]) / Math.abs(refLoss[s]),
          Math::max);

      float[] sums = total.gradSum.clone();
      float[] bn = total.bnStats.clone();
      updater.apply(total.gradSum, total.count, total.lossSum, total.bnStats, m, s, epoch,
          stepsPerEpoch);
      if (sharded != null) {
        int mid = net.paramCount() / 2 + 1;
        sharded.beginOwned(total.count, ms, s, stepsPerEpoch);
        sharded.applyOwned(sums, mid, net.paramCount(), ms);
        sharded.applyOwned(sums, 0, mid, ms);
        sharded.endOwned(sums, total.count, total.lossSum, bn, ms, s, epoch, stepsPerEpoch);
        if (shardedDiffers == null && (!Arrays.equals(m.params(), ms.params())
            || !Arrays.equals(m.state(), ms.state()))) {
          shardedDiffers = setting + ": the sharded update differs from apply at step " + s;
        }
      }

      if (record.contains(s + 1)) {
        for (Entry e : TorchModel.layout(net)) {
          float[] src = e.source() == Source.PARAMS ? m.params()
              : e.source() == Source.STATE ? m.state() : null;
          if (src == null) {
            continue;
          }
          String name = "step" + (s + 1) + "." + e.name();
          Tensor t = expected.get(name);
          assertNotNull(t, setting + ": fixture has " + name);
          double[] ref = doubles(t);
          assertEquals(e.numel(), ref.length, name);
          double own = 0;
          double diff = 0;
          for (int i = 0; i < ref.length; i++) {
            own = Math.max(own, Math.abs(ref[i]));
            diff = Math.max(diff, Math.abs(src[e.offset() + i] - ref[i]));
          }
          err.put(name, diff / own);
        }
      }
    }
    List<String> missing = new ArrayList<>();
    for (String k : expected.keySet()) {
      if (k.startsWith("step") && !err.containsKey(k)) {
        missing.add(k);
      }
    }
    assertTrue(missing.isEmpty(), setting + ": not compared: " + missing);

    StringBuilder report = new StringBuilder("torch trajectory " + setting
        + " (max|a-b| / max|b|; loss: worst step):");
    double worst = 0;
    for (Map.Entry<String, Double> e : err.entrySet()) {
      report.append(String.format("%n  %-28s %.2e", e.getKey(), e.getValue()));
      worst = Math.max(worst, e.getValue());
    }
    System.out.println(report.append(String.format("%n  worst %.2e (tolerance %.0e)", worst,
        RTOL)));
    for (Map.Entry<String, Double> e : err.entrySet()) {
      assertTrue(e.getValue() <= RTOL, setting + ": " + e.getKey() + ": relative error "
          + e.getValue() + " above " + RTOL + "\n" + report);
    }
    assertNull(shardedDiffers, shardedDiffers);
  }
}
