package dev.shardopt.cli;

import dev.shardopt.cli.io.TensorFileException;
import dev.shardopt.engine.device.DeviceUnavailableException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code shardopt} command line (run by the {@code ./shardopt} launcher at the repository root).
 *
 * <p>Exit status: {@value #EXIT_OK} on success; {@value #EXIT_USER_ERROR} for a usage error or a
 * {@link UserErrorException} / {@link TensorFileException} from a command, after one line
 * {@code shardopt: <message>} on stderr; {@value #EXIT_INTERNAL} for anything else (a bug), after a stack
 * trace on stderr.
 *
 * <p><b>Adding a subcommand:</b> write a picocli {@code @Command} class in this package (e.g.
 * {@code ReplayCommand implements Callable<Integer>}), add it to the {@code subcommands} list below
 * (or, in a module that this one must not depend on, implement {@link ExtensionCommand}), and
 * throw {@link UserErrorException} (or let a {@link TensorFileException} through) for the user's mistakes.
 * Use {@code spec.commandLine().getOut()/getErr()} rather than {@code System.out/err} so that tests can
 * capture the output.
 */
@Command(
    name = "shardopt",
    mixinStandardHelpOptions = true,
    versionProvider = ShardoptVersion.class,
    description = "Shardopt: optimizer pipelines and their parameter server, from the command line.",
    synopsisSubcommandLabel = "COMMAND",
    // Subcommands register here, one class each (e.g. ReplayCommand.class, DescribeCommand.class);
    // extensions, then version and help, are added in commandLine().
    subcommands = {
      ReplayCommand.class,
      DescribeCommand.class,
      CoordinatorCommand.class,
      WorkerCommand.class,
      StatusCommand.class,
      WatchCommand.class,
      CheckpointCommand.class,
    })
public final class ShardoptCli implements Callable<Integer> {

  public static final int EXIT_OK = 0;
  public static final int EXIT_INTERNAL = 1;
  public static final int EXIT_USER_ERROR = 2;

  @Spec CommandSpec spec;

  /** {@code shardopt} without a command: the usage on stderr, and a usage error's status. */
  @Override
  public Integer call() {
    CommandLine cmd = spec.commandLine();
    cmd.usage(cmd.getErr());
    cmd.getErr().flush();
    return EXIT_USER_ERROR;
  }

  public static void main(String[] args) {
    if (System.getProperty("java.awt.headless") == null) {
      System.setProperty("java.awt.headless", "true"); // charts are drawn off-screen
    }
    System.exit(run(args));
  }

  /** Runs the command line on {@code args} with System.out/err and returns the exit status. */
  public static int run(String... args) {
    return commandLine().execute(args);
  }

  /** Runs the command line with the given output streams (for tests) and returns the exit status. */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cmd = commandLine();
    cmd.setOut(out);
    cmd.setErr(err);
    try {
      return cmd.execute(args);
    } finally {
      out.flush();
      err.flush();
    }
  }

  /** The configured command line: all subcommands, and the error handling described in the class comment. */
  public static CommandLine commandLine() {
    CommandLine cmd = new CommandLine(new ShardoptCli());
    for (ExtensionCommand extension : ServiceLoader.load(ExtensionCommand.class)) {
      cmd.addSubcommand(extension);
    }
    cmd.addSubcommand(new VersionCommand());
    cmd.addSubcommand(new CommandLine.HelpCommand());
    cmd.setParameterExceptionHandler(ShardoptCli::handleParameterException);
    cmd.setExecutionExceptionHandler(ShardoptCli::handleExecutionException);
    return cmd;
  }

  private static int handleParameterException(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    StringBuilder msg = new StringBuilder(oneLine(ex.getMessage(), ex));
    if (ex instanceof UnmatchedArgumentException u) {
      List<String> suggestions = u.getSuggestions();
      if (!suggestions.isEmpty()) {
        msg.append("; did you mean ").append(String.join(" or ", suggestions.stream().map(s -> "'" + s + "'").toList()))
            .append('?');
      }
    }
    msg.append(" (see '").append(cmd.getCommandSpec().qualifiedName()).append(" --help')");
    PrintWriter err = cmd.getErr();
    err.println("shardopt: " + msg);
    err.flush();
    return EXIT_USER_ERROR;
  }

  private static int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
    PrintWriter err = cmd.getErr();
    Throwable t = unwrap(ex);
    if (isUserError(t)) {
      err.println("shardopt: " + oneLine(t.getMessage(), t));
      err.flush();
      return EXIT_USER_ERROR;
    }
    err.println("shardopt: internal error (a bug; please report it with the trace below): " + oneLine(String.valueOf(ex), ex));
    ex.printStackTrace(err);
    err.flush();
    return EXIT_INTERNAL;
  }

  /**
   * True for the exceptions that mean the user did something wrong, or asked for what this machine
   * has not (a device that cannot open here): one line, no trace, status 2.
   */
  static boolean isUserError(Throwable t) {
    return t instanceof UserErrorException || t instanceof TensorFileException || t instanceof DeviceUnavailableException
        || t instanceof dev.shardopt.rpc.security.SecurityConfigException;
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof UncheckedIOException || t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static String oneLine(String message, Throwable t) {
    String m = message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
    return m.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
