package dev.shardopt.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Runs shardopt command lines one after another in one JVM, for a test's child JVM on a class path
 * the test chose (one JVM start instead of one per command). Its arguments are the command lines
 * separated by {@code --then}; for each it prints {@code exit N} and then what the command wrote to
 * its error stream.
 */
public final class CommandSequenceMain {
  static final String THEN = "--then";

  private CommandSequenceMain() {}

  public static void main(String[] args) {
    List<String> command = new ArrayList<>();
    for (String a : args) {
      if (a.equals(THEN)) {
        run(command);
        command.clear();
      } else {
        command.add(a);
      }
    }
    run(command);
    System.out.flush();
    System.exit(0);
  }

  private static void run(List<String> command) {
    StringWriter err = new StringWriter();
    int status = ShardoptCli.run(new PrintWriter(new StringWriter()), new PrintWriter(err), command.toArray(String[]::new));
    System.out.print("exit " + status + "\n" + err);
  }

  /** The arguments for {@link #main} that run {@code commands}. */
  static List<String> arguments(List<List<String>> commands) {
    List<String> out = new ArrayList<>();
    for (List<String> c : commands) {
      if (!out.isEmpty()) {
        out.add(THEN);
      }
      out.addAll(c);
    }
    return out;
  }

  static List<String> of(String... command) {
    return Arrays.asList(command);
  }
}
