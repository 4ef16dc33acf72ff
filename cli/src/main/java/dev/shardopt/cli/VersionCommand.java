package dev.shardopt.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code shardopt version}: the same lines as {@code shardopt --version}. */
@Command(name = "version", description = "Print the version of shardopt and of the Java runtime.")
public final class VersionCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    for (String line : new ShardoptVersion().getVersion()) {
      out.println(line);
    }
    out.flush();
    return 0;
  }
}
