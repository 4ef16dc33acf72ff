package dev.shardopt.cli.train;

import dev.shardopt.cli.ClusterProcesses;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The processes of a {@code shardopt train --coordinator} fault test: the servers (coordinator,
 * workers) and the train process, each in its own JVM, with their output lines; {@link #close}
 * kills every one still running.
 */
final class TrainAgainstProcesses implements AutoCloseable {
  final ClusterProcesses servers = new ClusterProcesses("256m");
  private final ClusterProcesses trainers = new ClusterProcesses("768m");
  /** The servers' output lines (guarded by the list). */
  final List<String> serverLog = new ArrayList<>();
  private final List<String> trainLog = new ArrayList<>();

  /**
   * The small train run of these tests, {@code steps} steps with a checkpoint every 10 (the last 2
   * kept): an MLP of width 16, batch 32, 2 trainers, seed 7; a few seconds on 2 cores.
   */
  static List<String> smallRun(int steps) {
    return List.of("train", "--batch", "32", "--hidden", "16", "--trainers", "2", "--seed", "7",
        "--steps", String.valueOf(steps), "--checkpoint-every", "10", "--keep", "2");
  }

  /** Starts {@code shardopt ARGS} (a train command); {@code seen} counts down at a line starting with {@code prefix}. */
  Process train(List<String> args, String prefix, CountDownLatch seen) throws Exception {
    return trainers.launch(trainLog, line -> {
      if (line.startsWith(prefix)) {
        seen.countDown();
      }
    }, args.toArray(String[]::new));
  }

  /** The train process's output so far. */
  String trainOutput() {
    synchronized (trainLog) {
      return String.join("\n", trainLog);
    }
  }

  /** The servers' output so far. */
  String serverOutput() {
    synchronized (serverLog) {
      return String.join("\n", serverLog);
    }
  }

  /** The "test accuracy" line of a train output, without its timing. */
  static String accuracy(String out) {
    return out.lines().filter(l -> l.startsWith("test accuracy")).findFirst().orElseThrow(() -> new AssertionError(out))
        .replaceAll(" in \\d+\\.\\d s$", "");
  }

  /** Whether a line of {@code lines} (guarded by the list) starts with {@code prefix}. */
  static boolean printed(List<String> lines, String prefix) {
    synchronized (lines) {
      return lines.stream().anyMatch(l -> l.startsWith(prefix));
    }
  }

  @Override
  public void close() throws InterruptedException {
    trainers.close();
    servers.close();
  }
}
