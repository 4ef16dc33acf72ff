package dev.shardopt.train;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.function.Supplier;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * ND4J settings for this module's small graphs, applied once before the first graph is built.
 *
 * <ul>
 *   <li><b>One native thread per op.</b> The matrices are tiny (a few dozen rows by 64..128 columns) and
 *       several trainer threads run graphs at once: ND4J's default OpenMP/BLAS pools (one thread per core
 *       per op) only contend with each other and with the parameter server's threads. Measured on 2 cores:
 *       3-4 ms of CPU per forward/backward pass with one thread against 6-60 ms with the default pools.
 *   <li><b>Quiet logs.</b> Unless the user has set them, ND4J's and JavaCPP's slf4j loggers are set to
 *       {@code warn}, and two that warn about M2.1's own op tables on every run (duplicate TF op mappings,
 *       a missing {@code labelsSmoothing} field when a loss op is cloned) to {@code error} (slf4j-simple reads
 *       these system properties when a logger is created).
 * </ul>
 *
 * <p>{@link #quietly} runs code with {@code System.out} silenced: SameDiff 1.0.0-M2.1 prints one
 * "Added differentiated op …" line per op to stdout when it builds a gradient function.
 */
public final class Nd4jRuntime {
  private static boolean initialized;

  private Nd4jRuntime() {}

  /** Applies the settings (idempotent). */
  public static synchronized void init() {
    if (initialized) {
      return;
    }
    setIfAbsent("org.slf4j.simpleLogger.log.org.nd4j", "warn");
    setIfAbsent("org.slf4j.simpleLogger.log.org.nd4j.imports.converters.ImportClassMapping", "error");
    setIfAbsent("org.slf4j.simpleLogger.log.org.bytedeco", "warn");
    // "No fields found for property name labelsSmoothing" when M2.1 clones a softmax cross-entropy op
    setIfAbsent("org.slf4j.simpleLogger.log.org.nd4j.autodiff.functions.DifferentialFunction", "error");
    Nd4j.getEnvironment().setMaxMasterThreads(1);
    Nd4j.getEnvironment().setMaxThreads(1);
    NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(1);
    Nd4j.factory().blas().setMaxThreads(1);
    initialized = true;
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }

  /** Runs {@code body} with {@code System.out} discarding what is printed; one caller at a time. */
  public static synchronized <T> T quietly(Supplier<T> body) {
    PrintStream saved = System.out;
    System.setOut(new PrintStream(OutputStream.nullOutputStream()));
    try {
      return body.get();
    } finally {
      System.setOut(saved);
    }
  }
}
