package dev.shardopt.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Coordinator and worker processes of a test, each {@code shardopt ...} in its own JVM on a
 * loopback port; {@link #close} kills every one still running.
 */
final class ClusterProcesses implements AutoCloseable {
  private static final Pattern SERVING = Pattern.compile("serving on (127\\.0\\.0\\.1:\\d+)");
  private final String heap;
  private final List<Process> processes = new ArrayList<>();

  /** @param heap the JVMs' -Xmx, e.g. "256m" */
  ClusterProcesses(String heap) {
    this.heap = heap;
  }

  /** The processes started, in order. */
  Process get(int i) {
    return processes.get(i);
  }

  /** The process started last. */
  Process last() {
    return processes.get(processes.size() - 1);
  }

  /**
   * Starts {@code shardopt ARGS} in a new JVM and returns its address once it logs it; its
   * output lines are added to {@code output}, under that list's lock.
   */
  String start(List<String> output, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx" + heap, "-XX:+UseSerialGC",
        "-cp", System.getProperty("java.class.path"), "dev.shardopt.cli.ShardoptCli"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    processes.add(p);
    CompletableFuture<String> address = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          synchronized (output) {
            output.add(line);
          }
          Matcher m = SERVING.matcher(line);
          if (m.find()) {
            address.complete(m.group(1));
          }
        }
      } catch (Exception e) {
        address.completeExceptionally(e);
      }
      address.completeExceptionally(new IllegalStateException("process ended: " + output));
    });
    reader.setDaemon(true);
    reader.start();
    return address.get(60, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    for (Process p : processes) {
      p.destroyForcibly();
    }
    for (Process p : processes) {
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
