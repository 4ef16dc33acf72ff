package dev.shardopt.bench;

import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.AdamUpdater;
import org.nd4j.linalg.learning.config.Adam;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * ND4J's Adam on a 16M-element fp32 INDArray, one thread, the way DL4J applies it: {@code
 * AdamUpdater.applyUpdater} (the native {@code adam_updater} op: reads g, m, v and writes the update
 * into g, m, v) and then {@code params.subi(update)} (reads p, g, writes p). Two passes, 36 bytes
 * per parameter, for the same 28 bytes of useful work as {@code AdamKernel}.
 *
 * <p>libnd4j's threads: {@code OMP_NUM_THREADS=1} in the environment (inherited by JMH's fork) and
 * {@code Environment.setMaxThreads(1)} / {@code setMaxMasterThreads(1)} below.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-Dorg.bytedeco.javacpp.maxbytes=2g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class Nd4jAdamBench {

  private INDArray params;
  private INDArray grad;
  private AdamUpdater updater;
  private int iteration;

  @Setup(Level.Trial)
  public void setUp() {
    Nd4j.getEnvironment().setMaxThreads(1);
    Nd4j.getEnvironment().setMaxMasterThreads(1);
    Nd4j.setDefaultDataTypes(DataType.FLOAT, DataType.FLOAT);
    int n = KernelBench.N;
    Nd4j.getRandom().setSeed(42);
    params = Nd4j.randn(DataType.FLOAT, 1, n).muli(0.02);
    grad = Nd4j.randn(DataType.FLOAT, 1, n);
    updater = new AdamUpdater(new Adam(1e-3, 0.9, 0.999, 1e-8));
    INDArray view = Nd4j.zeros(DataType.FLOAT, 1, 2L * n);
    updater.setStateViewArray(view, new long[] {1, n}, 'c', true);
    iteration = 1;
  }

  @Benchmark
  public INDArray update() {
    // applyUpdater overwrites grad with the update; the next call treats that as its gradient,
    // which keeps the values bounded (Adam normalises) and costs nothing extra.
    updater.applyUpdater(grad, iteration++, 0);
    return params.subi(grad);
  }
}
