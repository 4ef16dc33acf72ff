package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.TensorFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

class ShardoptCliTest {

  @TempDir Path dir;

  record Result(int status, String out, String err) {}

  static Result run(CommandLine cmd, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int status = cmd.execute(args);
    return new Result(status, out.toString(), err.toString());
  }

  static Result run(String... args) {
    return run(withTestCommands(), args);
  }

  /** The real command line plus a few commands that fail in the ways real commands can. */
  static CommandLine withTestCommands() {
    CommandLine cmd = ShardoptCli.commandLine();
    cmd.addSubcommand("fail", new FailCommand());
    return cmd;
  }

  @Command(name = "fail")
  static final class FailCommand implements Callable<Integer> {
    @Parameters(index = "0") String how;
    @Option(names = "--file") Path file;

    @Override
    public Integer call() throws Exception {
      switch (how) {
        case "user":
          throw new UserErrorException("--steps must be >= 1, got 0");
        case "multiline":
          throw new UserErrorException("first line\nsecond line");
        case "file":
          TensorFiles.read(file);
          return 0;
        case "bug":
          throw new IllegalStateException("invariant broken");
        default:
          return 0;
      }
    }
  }

  @Test
  void versionOptionAndCommand() {
    Result opt = run("--version");
    assertThat(opt.status()).isZero();
    assertThat(opt.out()).startsWith("shardopt " + ShardoptVersion.version() + System.lineSeparator());
    assertThat(opt.out()).contains("Java " + System.getProperty("java.version"));
    assertThat(ShardoptVersion.version()).isNotEqualTo("unknown").doesNotContain("${");

    Result cmd = run("version");
    assertThat(cmd.status()).isZero();
    assertThat(cmd.out()).isEqualTo(opt.out());
    assertThat(cmd.err()).isEmpty();
  }

  @Test
  void helpListsTheCommands() {
    Result r = ShardoptCliTest.run(ShardoptCli.commandLine(), "--help");
    assertThat(r.status()).isZero();
    assertThat(r.out()).contains("Usage: shardopt", "version", "help");
    assertThat(ShardoptCliTest.run(ShardoptCli.commandLine(), "help", "version").out()).contains("Usage: shardopt version");
  }

  @Test
  void noCommandPrintsUsageAndExits2() {
    Result r = run();
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).contains("Usage: shardopt");
  }

  @Test
  void usageErrorsAreOneLineAndExit2() {
    Result r = run("--frobnicate");
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("shardopt: Unknown option: '--frobnicate' (see 'shardopt --help')" + System.lineSeparator());

    Result typo = run("verison");
    assertThat(typo.status()).isEqualTo(2);
    assertThat(typo.err().lines()).hasSize(1);
    assertThat(typo.err()).startsWith("shardopt: ").contains("'verison'", "did you mean 'version'");

    Result missing = run("fail");
    assertThat(missing.status()).isEqualTo(2);
    assertThat(missing.err().lines()).hasSize(1);
    assertThat(missing.err()).startsWith("shardopt: Missing required parameter").contains("(see 'shardopt fail --help')");
  }

  @Test
  void userErrorsAreOneLineAndExit2() {
    Result r = run("fail", "user");
    assertThat(r.status()).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
    assertThat(r.err()).isEqualTo("shardopt: --steps must be >= 1, got 0" + System.lineSeparator());

    Result m = run("fail", "multiline");
    assertThat(m.status()).isEqualTo(2);
    assertThat(m.err()).isEqualTo("shardopt: first line second line" + System.lineSeparator());
  }

  @Test
  void tensorFileErrorsAreUserErrors() {
    Path missing = dir.resolve("missing.npz");
    Result r = run("fail", "file", "--file", missing.toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("shardopt: " + missing + ": no such file" + System.lineSeparator());
  }

  @Test
  void bugsPrintAStackTraceAndExit1() {
    Result r = run("fail", "bug");
    assertThat(r.status()).isEqualTo(ShardoptCli.EXIT_INTERNAL);
    assertThat(r.err()).startsWith("shardopt: internal error")
        .contains("java.lang.IllegalStateException: invariant broken")
        .contains("at dev.shardopt.cli.ShardoptCliTest$FailCommand.call");
  }

  @Test
  void successExits0() {
    assertThat(run("fail", "nothing").status()).isZero();
  }
}
