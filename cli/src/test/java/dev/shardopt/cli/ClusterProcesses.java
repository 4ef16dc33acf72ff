package dev.shardopt.cli;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The processes of a multi-process test, each {@code shardopt ...} in its own JVM: coordinators
 * and workers on loopback ports ({@link #start}), or any command ({@link #launch}); {@link #close}
 * kills every one still running. Shared with cli-train's tests through this module's test jar.
 */
public final class ClusterProcesses implements AutoCloseable {
  private static final Pattern SERVING = Pattern.compile("serving on (\\d+\\.\\d+\\.\\d+\\.\\d+:\\d+)");
  private final String heap;
  private final List<String> prefix;
  private final List<Process> processes = new ArrayList<>();

  /** A loopback port free now, for a server started later (a proxy in front of it, an advertised address). */
  public static int freePort() throws java.io.IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** @param heap the JVMs' -Xmx, e.g. "256m" */
  public ClusterProcesses(String heap) {
    this(heap, List.of());
  }

  /**
   * @param heap the JVMs' -Xmx, e.g. "256m"
   * @param prefix a command that runs the JVM, e.g. {@code ip netns exec NS} (empty: run it directly)
   */
  public ClusterProcesses(String heap, List<String> prefix) {
    this.heap = heap;
    this.prefix = List.copyOf(prefix);
  }

  /** The processes started, in order. */
  public Process get(int i) {
    return processes.get(i);
  }

  /** The process started last. */
  public Process last() {
    return processes.get(processes.size() - 1);
  }

  /**
   * Starts {@code shardopt ARGS} in a new JVM and returns its address once it logs it; its
   * output lines are added to {@code output}, under that list's lock.
   */
  public String start(List<String> output, String... args) throws Exception {
    CompletableFuture<String> address = new CompletableFuture<>();
    Process p = launch(output, line -> {
      Matcher m = SERVING.matcher(line);
      if (m.find()) {
        address.complete(m.group(1));
      }
    }, args);
    p.onExit().thenRun(() -> address.completeExceptionally(new IllegalStateException("process ended: " + output)));
    return address.get(60, TimeUnit.SECONDS);
  }

  /**
   * Starts {@code shardopt ARGS} in a new JVM and returns it at once; its output lines are added to
   * {@code output}, under that list's lock, and then given to {@code onLine} (on the reader's thread).
   */
  public Process launch(List<String> output, Consumer<String> onLine, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx" + heap, "-XX:+UseSerialGC",
        "-cp", System.getProperty("java.class.path"), "dev.shardopt.cli.ShardoptCli"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    processes.add(p);
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          synchronized (output) {
            output.add(line);
          }
          onLine.accept(line);
        }
      } catch (Exception e) {
        // the process was killed: its output ends here
      }
    });
    reader.setDaemon(true);
    reader.start();
    return p;
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
