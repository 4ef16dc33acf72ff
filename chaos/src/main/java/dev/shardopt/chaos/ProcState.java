package dev.shardopt.chaos;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** A process's state letter from Linux's {@code /proc/<pid>/stat}: R, S, D, T (stopped), Z, ... */
final class ProcState {
  private ProcState() {
  }

  /**
   * The state letter, or {@code '?'} when the process is gone or there is no /proc. The field after
   * the command name in parentheses, found after the last ')' since the name may hold spaces and ')'.
   */
  static char of(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      int close = stat.lastIndexOf(')');
      return close < 0 || close + 2 >= stat.length() ? '?' : stat.charAt(close + 2);
    } catch (NoSuchFileException e) {
      return '?';
    } catch (IOException e) {
      return '?';
    }
  }
}
