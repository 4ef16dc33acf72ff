package dev.shardopt.bench.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;

/** What every cluster benchmark's JVM does the same way: its time limit, its exit, and reading a message. */
final class BenchProcess {
  private BenchProcess() {}

  /**
   * A daemon thread that halts the JVM when {@code benchmark} runs longer than {@code minutes};
   * interrupt it when the run is done.
   */
  static Thread startWatchdog(String benchmark, long minutes) {
    Thread watchdog = new Thread(() -> {
      try {
        Thread.sleep(TimeUnit.MINUTES.toMillis(minutes));
      } catch (InterruptedException e) {
        return;
      }
      System.err.println(benchmark + ": the run overran its " + minutes + " min limit; halting");
      Runtime.getRuntime().halt(3);
    }, "bench-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    return watchdog;
  }

  /** Runs {@code body}, then exits: gRPC's shared event loops are not daemon threads, so do not wait for them. */
  static void runAndExit(ThrowingRunnable body) {
    try {
      body.run();
    } catch (Throwable t) {
      t.printStackTrace();
      System.exit(1);
    }
    System.exit(0);
  }

  /** Reads all of {@code in} into {@code buf} (one copy) and closes it; the byte count. */
  static int readMessage(InputStream in, byte[] buf) throws IOException {
    return readMessage(in, buf, 0, buf.length);
  }

  /** Reads all of {@code in}, at most {@code max} bytes, into {@code buf} from {@code at} (one copy) and closes it; the byte count. */
  static int readMessage(InputStream in, byte[] buf, int at, int max) throws IOException {
    int n = 0;
    int r;
    while (n < max && (r = in.read(buf, at + n, max - n)) > 0) {
      n += r;
    }
    if (in.read() >= 0) {
      throw new IllegalStateException("message larger than " + max + " bytes");
    }
    in.close();
    return n;
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }
}
