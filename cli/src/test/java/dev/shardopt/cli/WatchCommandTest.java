package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.uniform;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.client.Trainer;
import dev.shardopt.dsl.Pipeline;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shardopt watch} against a real cluster (a coordinator and two workers, each its own JVM)
 * while one trainer pushes a step every 40 ms: in a real terminal (tmux runs it; {@code tmux
 * capture-pane} reads the screen; {@code resize-window} makes it smaller; {@code q} and Ctrl-C end it) and with its
 * output in a pipe (plain lines).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WatchCommandTest {
  private static final String MODEL = "models/watched";
  private static final Pattern MODEL_ROW = Pattern.compile(
      "^models/watched\\s+SYNC\\s+READY\\s+(\\d+)\\s+(\\S+)\\s+(\\d+)\\s+(\\d+)\\s*$", Pattern.MULTILINE);
  private final ClusterProcesses processes = new ClusterProcesses("256m");
  private final AtomicLong pushed = new AtomicLong();
  private volatile boolean stop;
  private Thread training;
  private ShardoptCluster client;
  private String coordinator;

  @TempDir Path dir;

  @BeforeAll
  void clusterAndTraining() throws Exception {
    coordinator = processes.start(new ArrayList<>(), "coordinator", "--port", "0", "--heartbeat-ms", "100");
    for (int i = 0; i < 2; i++) {
      processes.start(new ArrayList<>(), "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1");
    }
    client = Shardopt.connect(coordinator);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (client.status().getWorkersCount() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    int n = 3 * 8192 + 11; // more than one shard, so that both workers hold some
    RemoteModel m = client.createModel(ModelOptions.named("watched").pipeline(Pipeline.parse("adam(0.01)")).trainers(1)
        .tensors(Tensors.of("w", n).init(uniform(-1, 1, 5))));
    Trainer trainer = m.trainer(0, 1);
    Random rnd = new Random(3);
    training = new Thread(() -> {
      float[] g = new float[n];
      for (long s = 0; !stop; s++) {
        float scale = 1 + rnd.nextInt(8); // norms that differ from step to step, for the sparkline
        for (int i = 0; i < n; i++) {
          g[i] = scale * (rnd.nextFloat() - 0.5f);
        }
        trainer.push(s, Map.of("w", g));
        pushed.incrementAndGet();
        try {
          Thread.sleep(40);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "trainer");
    training.start();
  }

  @AfterAll
  void stopAll() throws Exception {
    stop = true;
    if (training != null) {
      training.join(10_000);
    }
    if (client != null) {
      client.close();
    }
    processes.close();
  }

  @Test
  void fullScreenInTmuxShowsTheClusterLiveAndQuitsOnQ() throws Exception {
    try (Tmux tmux = Tmux.start(dir, coordinator, "q")) {
      String first = tmux.awaitScreen(s -> modelStep(s).filter(step -> step >= 3).isPresent(), 60);
      assertThat(first).contains("coordinator " + coordinator + "  2 workers (2 healthy)  1 model  ");
      assertThat(first.lines().filter(l -> l.matches("^workers/w[12]\\s+127\\.0\\.0\\.1:\\d+\\s+healthy\\s+\\d+ms\\s+\\d+\\s*$")))
          .hasSize(2);
      long step1 = modelStep(first).orElseThrow();
      // adam's constant rate, shown as %.4g; the norms vary, so the sparkline uses more than one block height
      String lr = line(first, "  lr ");
      assertThat(lr).matches("  lr\\s+▁+\\s+last 0\\.01000");
      String norms = line(first, "  grad norm ");
      assertThat(norms).matches("  grad norm\\s+[▁▂▃▄▅▆▇█]+\\s+last \\d+\\.\\d+");
      assertThat(norms.chars().filter(c -> c >= '▁' && c <= '█').distinct().count()).isGreaterThan(1);

      String later = tmux.awaitScreen(s -> modelStep(s).filter(step -> step > step1 + 5).isPresent(), 30);
      long step2 = modelStep(later).orElseThrow();
      assertThat(step2).isLessThanOrEqualTo(pushed.get());
      Matcher row = MODEL_ROW.matcher(later);
      assertThat(row.find()).isTrue();
      // steps are being decided (WatchStateTest checks the rate's arithmetic exactly)
      assertThat(Double.parseDouble(row.group(2))).isGreaterThan(0);
      assertThat(row.group(3)).isEqualTo("0"); // no skipped steps
      assertThat(row.group(4)).isEqualTo("0"); // no duplicates

      // a smaller terminal (SIGWINCH): 10 lines do not fit in 6, every line is cut to 60 columns
      tmux.run("resize-window", "-t", "watch", "-x", "60", "-y", "6");
      String small = tmux.awaitScreen(s -> s.contains("more lines: make the terminal taller"), 20);
      List<String> rows = small.lines().toList();
      assertThat(rows).hasSize(6);
      assertThat(rows.get(0)).hasSize(60).startsWith("shardopt watch  coordinator " + coordinator);
      assertThat(rows.get(5)).isEqualTo("(5 more lines: make the terminal taller)");
      assertThat(rows).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(60));

      assertThat(tmux.quitWith("q", 20)).isEqualTo(0);
    }
  }

  @Test
  void ctrlCEndsItToo() throws Exception {
    try (Tmux tmux = Tmux.start(dir, coordinator, "c")) {
      tmux.awaitScreen(s -> s.contains(MODEL), 60);
      assertThat(tmux.quitWith("C-c", 20)).isEqualTo(0);
    }
  }

  @Test
  void plainLinesWhenTheOutputIsAPipe() throws Exception {
    List<String> output = new ArrayList<>();
    Process p = processes.launch(output, line -> { }, "watch", "--coordinator", coordinator, "--interval-ms", "300",
        "--count", "5");
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("watch --count 5 ended").isTrue();
    assertThat(p.exitValue()).isEqualTo(0);
    List<String> lines;
    synchronized (output) {
      lines = List.copyOf(output);
    }
    Pattern cluster = Pattern.compile("^time=\\S+Z coordinator=" + Pattern.quote(coordinator)
        + " refresh=(\\d) workers=2 healthy=2 models=1$");
    Pattern model = Pattern.compile("^time=\\S+Z model=models/watched mode=SYNC state=READY step=(\\d+) steps_per_s=(\\S+)"
        + " skipped=0 duplicates=0 grad_norm=\\d+\\.\\d+ lr=0\\.01000$");
    assertThat(lines).hasSize(10);
    List<Long> steps = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Matcher c = cluster.matcher(lines.get(2 * i));
      assertThat(c.matches()).as(lines.get(2 * i)).isTrue();
      assertThat(c.group(1)).isEqualTo(String.valueOf(i + 1));
      Matcher m = model.matcher(lines.get(2 * i + 1));
      assertThat(m.matches()).as(lines.get(2 * i + 1)).isTrue();
      steps.add(Long.parseLong(m.group(1)));
      if (i == 0) {
        assertThat(m.group(2)).isEqualTo("-"); // no rate from one sample
      } else {
        assertThat(Double.parseDouble(m.group(2))).isGreaterThanOrEqualTo(0);
      }
    }
    assertThat(steps).isSorted();
    assertThat(steps.get(4)).isGreaterThan(steps.get(0));
  }

  @Test
  void badOptionsNameTheFieldAndTheValue() {
    for (String[] args : List.of(new String[] {"watch", "--interval-ms", "10"}, new String[] {"watch", "--history", "0"},
        new String[] {"watch", "--count", "-1"})) {
      StringWriter err = new StringWriter();
      int code = ShardoptCli.run(new PrintWriter(new StringWriter()), new PrintWriter(err), args);
      assertThat(code).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
      assertThat(err.toString().strip()).startsWith("shardopt: " + args[1] + " must be").endsWith("got " + args[2]);
    }
  }

  private static Optional<Long> modelStep(String screen) {
    Matcher m = MODEL_ROW.matcher(screen);
    return m.find() ? Optional.of(Long.parseLong(m.group(1))) : Optional.empty();
  }

  private static String line(String screen, String prefix) {
    return screen.lines().filter(l -> l.startsWith(prefix)).findFirst()
        .orElseThrow(() -> new AssertionError("no line starting with '" + prefix + "' on\n" + screen));
  }

  /**
   * {@code shardopt watch} in a detached tmux session of its own tmux server (its own socket, so
   * that nobody else's sessions are touched), 120 x 40, UTF-8; the command's exit status lands in a
   * file. It runs the JVM the launcher would, on this test's classpath (the launcher itself would
   * build with {@code mvn install}, which a test must not).
   */
  private static final class Tmux implements AutoCloseable {
    private final String socket;
    private final Path exitFile;
    private final Path errFile;

    private Tmux(String socket, Path exitFile, Path errFile) {
      this.socket = socket;
      this.exitFile = exitFile;
      this.errFile = errFile;
    }

    private String stderr() throws IOException {
      return Files.exists(errFile) ? Files.readString(errFile) : "(none)";
    }

    static Tmux start(Path dir, String coordinator, String name) throws Exception {
      Path classpath = dir.resolve(name + ".classpath");
      Files.writeString(classpath, System.getProperty("java.class.path"));
      Path exitFile = dir.resolve(name + ".exit");
      Path script = dir.resolve(name + ".sh");
      Files.writeString(script, String.join("\n",
          "#!/bin/sh",
          // Ctrl-C reaches the whole foreground group: the shell survives it to write the exit status (a trap with
          // a command, unlike an ignored signal, is reset to the default in java, which must see SIGINT itself)
          "trap true INT",
          "'" + Path.of(System.getProperty("java.home"), "bin", "java") + "' -Xmx128m -XX:+UseSerialGC -cp \"$(cat '"
              + classpath + "')\" dev.shardopt.cli.ShardoptCli watch --coordinator " + coordinator + " --interval-ms 200 2> '"
              + dir.resolve(name + ".err") + "'",
          "echo $? > '" + exitFile + ".tmp' && mv '" + exitFile + ".tmp' '" + exitFile + "'", ""));
      Tmux tmux = new Tmux("shardopt-watch-test-" + ProcessHandle.current().pid() + "-" + name, exitFile,
          dir.resolve(name + ".err"));
      tmux.run("new-session", "-d", "-s", "watch", "-x", "120", "-y", "40", "sh '" + script + "'");
      return tmux;
    }

    /** Captures the pane every 200 ms until {@code done} holds for its text; fails with the last screen after {@code seconds}. */
    String awaitScreen(java.util.function.Predicate<String> done, int seconds) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      String screen = "";
      while (System.nanoTime() < deadline) {
        screen = run("capture-pane", "-p", "-t", "watch");
        if (done.test(screen)) {
          return screen;
        }
        Thread.sleep(200);
      }
      return fail("the screen did not show what was awaited within " + seconds + " s; it showed:\n" + screen
          + "\nwatch's stderr: " + stderr());
    }

    /** Sends {@code key} and returns the watch's exit status once it has ended (fails after {@code seconds}). */
    int quitWith(String key, int seconds) throws Exception {
      run("send-keys", "-t", "watch", key);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      while (!Files.exists(exitFile)) {
        if (System.nanoTime() > deadline) {
          fail("watch did not end within " + seconds + " s of " + key + "; the screen:\n" + run("capture-pane", "-p", "-t", "watch"));
        }
        Thread.sleep(100);
      }
      int status = Integer.parseInt(Files.readString(exitFile).strip());
      if (status != 0) {
        System.err.println("watch ended with " + status + "; its stderr: " + stderr());
      }
      return status;
    }

    private String run(String... args) throws IOException, InterruptedException {
      List<String> cmd = new ArrayList<>(List.of("tmux", "-u", "-f", "/dev/null", "-L", socket));
      cmd.addAll(Arrays.asList(args));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
      pb.environment().put("LANG", "C.UTF-8");
      pb.environment().put("TERM", "xterm-256color");
      pb.environment().remove("TMUX");
      Process p;
      try {
        p = pb.start();
      } catch (IOException e) {
        throw new AssertionError("this test needs tmux (Debian package tmux; .ci/run installs it): " + e.getMessage(), e);
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new AssertionError("tmux " + String.join(" ", args) + " failed: " + out + "; watch's stderr: " + stderr());
      }
      return out;
    }

    @Override
    public void close() throws Exception {
      List<String> cmd = List.of("tmux", "-f", "/dev/null", "-L", socket, "kill-server"); // this test's own server
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      p.waitFor(20, TimeUnit.SECONDS);
    }
  }
}
