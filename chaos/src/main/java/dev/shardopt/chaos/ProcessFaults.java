package dev.shardopt.chaos;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Process faults for the chaos tests, by signal: pause (SIGSTOP), resume (SIGCONT) and kill -9
 * (SIGKILL), sent with {@code kill -STOP|-CONT|-KILL <pid>}. Every wait is bounded by the timeout
 * given at construction. Linux (and other Unix) only.
 */
public final class ProcessFaults {
  private final Duration timeout;

  /** @param timeout the longest any one operation waits (for kill itself, for the state, for the exit) */
  public ProcessFaults(Duration timeout) {
    if (timeout == null || timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("process faults: timeout must be > 0, got " + timeout);
    }
    this.timeout = timeout;
  }

  /**
   * Stops the process (SIGSTOP) and returns once it is stopped ({@code T} in /proc/PID/stat, where
   * there is a /proc): it then answers nothing, its sockets stay open.
   */
  public void pause(long pid) throws IOException, InterruptedException, TimeoutException {
    signal("STOP", pid);
    awaitState(pid, true);
  }

  /** Continues a paused process (SIGCONT) and returns once it is no longer stopped (where there is a /proc). */
  public void resume(long pid) throws IOException, InterruptedException, TimeoutException {
    signal("CONT", pid);
    awaitState(pid, false);
  }

  /**
   * Kills the process with SIGKILL and waits for it to end.
   *
   * @return its exit value: 137 (128 + 9) for a process killed by the signal
   * @throws TimeoutException when it has not ended within the timeout
   */
  public int kill9(Process process) throws IOException, InterruptedException, TimeoutException {
    signal("KILL", process.pid());
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new TimeoutException("process " + process.pid() + " still runs " + timeout.toMillis() + " ms after SIGKILL");
    }
    return process.exitValue();
  }

  /**
   * Kills a process that is not this JVM's child with SIGKILL and waits for it to end (its exit value
   * is its parent's to read).
   */
  public void kill9(ProcessHandle process) throws IOException, InterruptedException, TimeoutException {
    signal("KILL", process.pid());
    try {
      process.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("waiting for process " + process.pid() + " to end", e);
    } catch (TimeoutException e) {
      throw new TimeoutException("process " + process.pid() + " still runs " + timeout.toMillis() + " ms after SIGKILL");
    }
  }

  public void pause(Process p) throws IOException, InterruptedException, TimeoutException {
    pause(p.pid());
  }

  public void resume(Process p) throws IOException, InterruptedException, TimeoutException {
    resume(p.pid());
  }

  private void signal(String signal, long pid) throws IOException, InterruptedException, TimeoutException {
    if (pid <= 0) {
      throw new IllegalArgumentException("process faults: pid must be > 0, got " + pid);
    }
    if (pid == ProcessHandle.current().pid()) {
      throw new IllegalArgumentException("process faults: pid " + pid + " is this JVM itself");
    }
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).redirectErrorStream(true).start();
    if (!kill.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      kill.destroyForcibly();
      throw new TimeoutException("kill -" + signal + " " + pid + " did not return within " + timeout.toMillis() + " ms");
    }
    if (kill.exitValue() != 0) {
      String out = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
      throw new IOException("kill -" + signal + " " + pid + " failed (exit " + kill.exitValue() + "): " + out);
    }
  }

  private void awaitState(long pid, boolean stopped) throws InterruptedException, TimeoutException {
    if (!java.nio.file.Files.isDirectory(java.nio.file.Path.of("/proc", Long.toString(pid)))) {
      return; // no /proc here: the signal was delivered, its effect cannot be watched
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      char s = ProcState.of(pid);
      if (s == '?' || (s == 'T') == stopped) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("process " + pid + " is in state " + s + ", not " + (stopped ? "stopped" : "running")
            + ", " + timeout.toMillis() + " ms after the signal");
      }
      Thread.sleep(5);
    }
  }
}
