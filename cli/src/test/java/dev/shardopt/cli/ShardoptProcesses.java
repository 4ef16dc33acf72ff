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

/** {@code shardopt} commands run as their own JVMs by a test, each killed by {@link #killAll}. */
final class ShardoptProcesses {
  private static final Pattern SERVING = Pattern.compile("serving on (127\\.0\\.0\\.1:\\d+)");
  final List<Process> processes = new ArrayList<>();

  /** A started process and the address it logged it serves on. */
  record Started(Process process, String address) {}

  /** Starts {@code shardopt ARGS}, adding its output lines to {@code output}; returns once it logs its address. */
  Started start(List<String> output, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-XX:+UseSerialGC",
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
    return new Started(p, address.get(60, TimeUnit.SECONDS));
  }

  void killAll() throws InterruptedException {
    for (Process p : processes) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }
}
