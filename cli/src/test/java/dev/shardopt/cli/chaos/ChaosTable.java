package dev.shardopt.cli.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Locale;

/**
 * One row of docs/reliability.md's "Scenarios tested" table from a scenario's runs: runs, faults
 * injected, steps completed, acknowledged pushes lost, steps applied twice, the largest difference
 * from the fault-free run, and the duplicates the workers acknowledged without applying.
 */
final class ChaosTable {
  static final String HEADER = "| scenario | runs | faults injected | steps completed | acknowledged pushes lost"
      + " | steps applied twice | max difference from the fault-free run | duplicates seen by the workers |";

  private ChaosTable() {}

  static String row(String label, List<RunResult> runs) {
    long faults = runs.stream().mapToLong(RunResult::faults).sum();
    long completed = runs.stream().mapToLong(RunResult::pulledStep).sum();
    long planned = runs.stream().mapToLong(RunResult::steps).sum();
    long lost = runs.stream().mapToLong(RunResult::acknowledgedLost).sum();
    long twice = runs.stream().mapToLong(RunResult::appliedTwice).sum();
    double maxDiff = runs.stream().mapToDouble(RunResult::maxDifference).max().orElse(0);
    long differing = runs.stream().mapToLong(RunResult::differingElements).sum();
    long duplicates = runs.stream().mapToLong(RunResult::duplicates).sum();
    return String.format(Locale.ROOT, "| %s | %d | %d | %d of %d | %d | %d | %s | %d |", label, runs.size(), faults,
        completed, planned, lost, twice, differing == 0 ? "0 (bitwise)" : maxDiff + " (" + differing + " elements)",
        duplicates);
  }

  /** Prints the row and appends it to {@code file} (target/chaos-table.md when run by Maven). */
  static void record(Path file, String label, List<RunResult> runs) throws IOException {
    String row = row(label, runs);
    System.out.println("chaos: " + row);
    Files.createDirectories(file.toAbsolutePath().getParent());
    Files.writeString(file, row + System.lineSeparator(), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
  }
}
