package convspark.peers;

import java.util.Properties;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * conf/fashion-mnist.conf's network in Deeplearning4j, layer for layer:
 * conv 32 3x3 pad 1 -> batchnorm -> maxpool 2 -> relu -> conv 64 3x3 pad 1 -> batchnorm ->
 * maxpool 2 -> relu -> dropout 0.2 -> flatten -> dense 128 -> relu -> dropout 0.25 -> dense 10,
 * float32, conv/dense weights He-normal N(0, 2/fanIn) ({@code WeightInit.RELU}), biases 0, batch
 * norm eps 1e-5 and running-average momentum 0.1 (DL4J decay 0.9), SGD with Nesterov momentum
 * 0.9, L2 1e-3 on weights only ({@code .l2}: added to the gradient before the updater, like
 * PyTorch's weight_decay; convspark's l2 = 5e-4 penalty l2*sum w^2 has the same gradient).
 *
 * <p>Differences DL4J imposes: dropout is configured on the layer that follows it (DL4J applies
 * a layer's dropout to its input, and takes the retain probability: 0.8 and 0.75); the flatten
 * is DL4J's implicit CNN-to-feed-forward preprocessor; dense 128 + relu is one DenseLayer with a
 * relu activation; DL4J has no label smoothing option, so the benchmark feeds smoothed target
 * vectors (0.91 on the true class, 0.01 elsewhere) to MCXENT, which is the same loss; DL4J's
 * Nesterovs is the Sutskever form (same trajectory as PyTorch's at a constant rate).
 */
final class Dl4jNet {
  static final double SMOOTHING = 0.1;
  static final int CLASSES = 10;

  private Dl4jNet() {}

  static MultiLayerConfiguration conf(long seed, double lr) {
    return new NeuralNetConfiguration.Builder()
        .seed(seed)
        .dataType(DataType.FLOAT)
        .updater(new Nesterovs(lr, 0.9))
        .weightInit(WeightInit.RELU)
        .biasInit(0)
        .l2(1e-3)
        .convolutionMode(ConvolutionMode.Truncate)
        .list()
        .layer(new ConvolutionLayer.Builder(3, 3).nIn(1).nOut(32).stride(1, 1).padding(1, 1)
            .activation(Activation.IDENTITY).build())
        .layer(new BatchNormalization.Builder().eps(1e-5).decay(0.9).build())
        .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
            .kernelSize(2, 2).stride(2, 2).build())
        .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
        .layer(new ConvolutionLayer.Builder(3, 3).nOut(64).stride(1, 1).padding(1, 1)
            .activation(Activation.IDENTITY).build())
        .layer(new BatchNormalization.Builder().eps(1e-5).decay(0.9).build())
        .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
            .kernelSize(2, 2).stride(2, 2).build())
        .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
        .layer(new DenseLayer.Builder().nOut(128).activation(Activation.RELU)
            .dropOut(0.8).build())                     // dropout 0.2 on its input
        .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(CLASSES)
            .activation(Activation.SOFTMAX).dropOut(0.75).build()) // dropout 0.25 on its input
        .setInputType(InputType.convolutional(28, 28, 1))
        .build();
  }

  /** A DataSet of {@code n} samples from x (n x 784) with label-smoothed targets. */
  static DataSet dataSet(float[] x, int xOff, int[] labels, int lOff, int n) {
    float[] feat = new float[n * FashionMnist.PIXELS];
    System.arraycopy(x, xOff * FashionMnist.PIXELS, feat, 0, feat.length);
    INDArray f = Nd4j.create(feat, new long[] {n, 1, 28, 28}, DataType.FLOAT);
    float off = (float) (SMOOTHING / CLASSES);
    float on = (float) (1 - SMOOTHING + SMOOTHING / CLASSES);
    float[] lab = new float[n * CLASSES];
    java.util.Arrays.fill(lab, off);
    for (int i = 0; i < n; i++) {
      lab[i * CLASSES + labels[lOff + i]] = on;
    }
    INDArray l = Nd4j.create(lab, new long[] {n, CLASSES}, DataType.FLOAT);
    return new DataSet(f, l);
  }

  /** Which native code DL4J runs: backend, BLAS vendor, OpenBLAS core, libnd4j build flags. */
  static String describe() {
    StringBuilder b = new StringBuilder();
    try {
      Properties p = Nd4j.getExecutioner().getEnvironmentInformation();
      b.append("ND4J backend ").append(p.get("backend"))
          .append(", BLAS vendor ").append(p.get("blas.vendor"))
          .append(", libnd4j threads ").append(p.get("omp.threads"))
          .append(", BLAS threads ").append(p.get("blas.threads"));
      if (Boolean.getBoolean("peers.debug")) {
        System.err.println("ND4J environment: " + p);
      }
    } catch (RuntimeException e) {
      b.append("ND4J environment unknown (").append(e).append(")");
    }
    b.append(", OpenBLAS ").append(loadedOpenblas());
    try {
      Object ops = Class.forName("org.nd4j.nativeblas.NativeOpsHolder")
          .getMethod("getInstance").invoke(null);
      Object native_ = ops.getClass().getMethod("getDeviceNativeOps").invoke(ops);
      String info = String.valueOf(native_.getClass().getMethod("buildInfo").invoke(native_));
      StringBuilder flags = new StringBuilder();
      for (String f : new String[] {"HAVE_ONEDNN", "HAVE_MKLDNN", "HAVE_OPENBLAS",
          "HAVE_ARMCOMPUTE", "HAVE_CUDNN"}) {
        if (info.contains(f)) {
          flags.append(flags.length() == 0 ? "" : " ").append(f);
        }
      }
      if (info.contains("-mavx512")) {
        flags.append(" avx512");
      } else if (info.contains("-mavx2")) {
        flags.append(" avx2");
      }
      b.append(", libnd4j build: ").append(flags.length() == 0 ? "no helpers" : flags);
    } catch (ReflectiveOperationException | RuntimeException e) {
      b.append(", libnd4j build info unavailable");
    }
    return b.toString();
  }

  /** Paths of the OpenBLAS libraries mapped into this process (from /proc/self/maps). */
  static String loadedOpenblas() {
    try {
      java.util.Set<String> libs = new java.util.TreeSet<>();
      java.nio.file.Path maps = java.nio.file.Path.of("/proc/self/maps");
      for (String line : java.nio.file.Files.readAllLines(maps)) {
        int i = line.indexOf('/');
        if (i >= 0 && line.substring(i).matches(".*/libopenblas[^/]*\\.so[^/]*")) {
          libs.add(line.substring(i).trim());
        }
      }
      return libs.isEmpty() ? "not loaded" : String.join(" ", libs);
    } catch (java.io.IOException | RuntimeException e) {
      return "unknown";
    }
  }
}
