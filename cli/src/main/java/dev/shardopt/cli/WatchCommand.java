package dev.shardopt.cli;

import dev.shardopt.cli.watch.ClusterView;
import dev.shardopt.cli.watch.CoordinatorSampler;
import dev.shardopt.cli.watch.PlainLines;
import dev.shardopt.cli.watch.ScreenLayout;
import dev.shardopt.cli.watch.Sparkline;
import dev.shardopt.cli.watch.TerminalScreen;
import dev.shardopt.cli.watch.WatchState;
import dev.shardopt.v1.CoordinatorGrpc;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shardopt watch}: {@code status}, live. On a terminal it takes the screen and redraws it in
 * place every interval until {@code q} or Ctrl-C; otherwise (output to a file or a pipe, or
 * {@code --plain}) it prints {@link PlainLines} every interval. The coordinator going away is shown,
 * not fatal: the watch keeps asking.
 */
@Command(name = "watch", mixinStandardHelpOptions = true,
    description = "A live view of the cluster: workers and their health, models, steps per second, gradient-norm and"
        + " learning-rate sparklines, skipped steps and duplicate pushes. q or Ctrl-C quits. When the output is not"
        + " a terminal, prints one line for the cluster and one per model every interval instead.")
public final class WatchCommand implements Callable<Integer> {
  /** How far back steps per second looks. */
  static final long RATE_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(10);

  @Spec CommandSpec spec;

  @Option(names = "--coordinator", defaultValue = "127.0.0.1:7070", paramLabel = "HOST:PORT",
      description = "The coordinator's address (default: ${DEFAULT-VALUE}).")
  String coordinator;

  @Option(names = "--interval-ms", defaultValue = "1000", paramLabel = "MS",
      description = "Time between refreshes (default: ${DEFAULT-VALUE}; at least 50).")
  long intervalMillis;

  @Option(names = "--history", defaultValue = "120", paramLabel = "STEPS",
      description = "Steps each sparkline remembers (default: ${DEFAULT-VALUE}; 1 to 100000).")
  int history;

  @Option(names = "--count", defaultValue = "0", paramLabel = "N",
      description = "Stop after N refreshes (default: ${DEFAULT-VALUE}, never).")
  long count;

  @Mixin SecurityOptions security = new SecurityOptions();

  @Option(names = "--plain", description = "Print plain lines even on a terminal.")
  boolean plain;

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (intervalMillis < 50) {
      throw new UserErrorException("--interval-ms must be at least 50, got " + intervalMillis);
    }
    if (history < 1 || history > 100_000) {
      throw new UserErrorException("--history must be in [1, 100000], got " + history);
    }
    if (count < 0) {
      throw new UserErrorException("--count must be 0 (never stop) or more, got " + count);
    }
    ManagedChannel channel = security.security(null).channel(coordinator).build();
    try {
      CoordinatorSampler sampler = new CoordinatorSampler(CoordinatorGrpc.newBlockingStub(channel),
          Math.max(10_000, intervalMillis), System::nanoTime);
      WatchState state = new WatchState(coordinator, history, RATE_WINDOW_NANOS);
      // System.console() is there only when both stdin and stdout are terminals (Java 17).
      if (plain || System.console() == null) {
        return plainLines(sampler, state);
      }
      return fullScreen(sampler, state);
    } finally {
      channel.shutdownNow();
    }
  }

  private int plainLines(CoordinatorSampler sampler, WatchState state) throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PlainLines lines = new PlainLines();
    Clock clock = Clock.systemUTC();
    for (long n = 1; count == 0 || n <= count; n++) {
      long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(intervalMillis);
      state.add(sampler.sample(state));
      lines.lines(state.view(), clock.instant()).forEach(out::println);
      out.flush();
      if (count != 0 && n == count) {
        break;
      }
      TimeUnit.NANOSECONDS.sleep(Math.max(0, next - System.nanoTime()));
    }
    return ShardoptCli.EXIT_OK;
  }

  private int fullScreen(CoordinatorSampler sampler, WatchState state) throws IOException, InterruptedException {
    Terminal terminal;
    try {
      terminal = TerminalBuilder.builder().system(true).dumb(false).build();
    } catch (IOException | IllegalStateException e) {
      // no way to drive this terminal (no stty, say): the plain lines still work
      spec.commandLine().getErr().println("shardopt watch: cannot use the terminal (" + e.getMessage() + "); printing lines");
      spec.commandLine().getErr().flush();
      return plainLines(sampler, state);
    }
    try (TerminalScreen screen = new TerminalScreen(terminal)) {
      ScreenLayout layout = new ScreenLayout(screen.showsBlocks() ? Sparkline.BLOCKS : Sparkline.ASCII);
      for (long n = 1; count == 0 || n <= count; n++) {
        long next = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(intervalMillis);
        state.add(sampler.sample(state));
        ClusterView view = state.view();
        screen.followResize();
        screen.draw(layout.lines(view, screen.width(), screen.height()));
        TerminalScreen.Input input;
        while ((input = screen.awaitKey(Math.max(0, (next - System.nanoTime()) / 1_000_000L)))
            == TerminalScreen.Input.RESIZED) {
          screen.followResize();
          screen.draw(layout.lines(view, screen.width(), screen.height()));
        }
        if (input == TerminalScreen.Input.QUIT) {
          break;
        }
      }
    }
    return ShardoptCli.EXIT_OK;
  }
}
