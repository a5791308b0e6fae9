package convspark.driver.metrics;

import convspark.common.io.AtomicFiles;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG plots of training curves (XChart), each written atomically ({@link AtomicFiles}). */
public final class Plots {
  private Plots() {}

  /** Writes loss and accuracy against epoch, train and validation, side by side in one PNG. */
  public static void trainingCurves(List<EpochMetrics> history, Path png) throws IOException {
    XYChart loss = chart("Loss", "loss");
    XYChart acc = chart("Accuracy", "accuracy");
    List<Double> x = new ArrayList<>();
    List<Double> tl = new ArrayList<>();
    List<Double> ta = new ArrayList<>();
    List<Double> vx = new ArrayList<>();
    List<Double> vl = new ArrayList<>();
    List<Double> va = new ArrayList<>();
    for (EpochMetrics m : history) {
      x.add((double) m.epoch());
      tl.add(m.trainLoss());
      ta.add(m.trainAccuracy());
      if (!Double.isNaN(m.valLoss())) {
        vx.add((double) m.epoch());
        vl.add(m.valLoss());
        va.add(m.valAccuracy());
      }
    }
    if (x.isEmpty()) {
      return;
    }
    loss.addSeries("train", x, tl).setMarker(SeriesMarkers.CIRCLE);
    acc.addSeries("train", x, ta).setMarker(SeriesMarkers.CIRCLE);
    if (!vx.isEmpty()) {
      loss.addSeries("validation", vx, vl).setMarker(SeriesMarkers.DIAMOND);
      acc.addSeries("validation", vx, va).setMarker(SeriesMarkers.DIAMOND);
    }
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    BitmapEncoder.saveBitmap(List.of(loss, acc), 1, 2, b, BitmapEncoder.BitmapFormat.PNG);
    AtomicFiles.write(png, b.toByteArray());
  }

  /** One line per named series of (x, y) points, e.g. validation accuracy per k. */
  public static void lines(String title, String xTitle, String yTitle,
      List<String> names, List<double[]> xs, List<double[]> ys, Path png) throws IOException {
    XYChart c = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xTitle)
        .yAxisTitle(yTitle).build();
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    for (int i = 0; i < names.size(); i++) {
      c.addSeries(names.get(i), xs.get(i), ys.get(i));
    }
    AtomicFiles.write(png, BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG));
  }

  private static XYChart chart(String title, String y) {
    XYChart c = new XYChartBuilder().width(600).height(400).title(title).xAxisTitle("epoch")
        .yAxisTitle(y).build();
    c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
    return c;
  }
}
