package dev.shardopt.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Pause, resume and kill -9 of a real child process, watched in /proc. */
class ProcessFaultsTest {
  private final ProcessFaults faults = new ProcessFaults(Duration.ofSeconds(5));
  private Process child;

  @AfterEach
  void killChild() throws InterruptedException {
    if (child != null) {
      child.destroyForcibly();
      child.waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void pauseStopsTheProcessResumeContinuesItAndKill9EndsItWithSignal9() throws Exception {
    child = new ProcessBuilder("sleep", "60").start();
    long pid = child.pid();
    assertThat(ProcState.of(pid)).isIn('S', 'R');

    faults.pause(child);
    assertThat(ProcState.of(pid)).isEqualTo('T');
    assertThat(child.isAlive()).isTrue();

    faults.resume(child);
    assertThat(ProcState.of(pid)).isNotEqualTo('T').isNotEqualTo('?');

    faults.pause(child); // killed while stopped: SIGKILL needs no SIGCONT
    assertThat(faults.kill9(child)).isEqualTo(128 + 9);
    assertThat(child.isAlive()).isFalse();
    assertThat(ProcState.of(pid)).isEqualTo('?');
  }

  @Test
  void aStoppedChildOfAnotherProcessIsKilledThroughItsHandle() throws Exception {
    // sh starts sleep and waits for it: sleep is sh's child, not this JVM's
    child = new ProcessBuilder("sh", "-c", "sleep 60; echo $?").start();
    ProcessHandle sleep = awaitChild(child.toHandle());
    faults.pause(sleep.pid());
    assertThat(ProcState.of(sleep.pid())).isEqualTo('T');
    faults.kill9(sleep);
    assertThat(sleep.isAlive()).isFalse();
    assertThat(child.waitFor(5, TimeUnit.SECONDS)).isTrue();
    // the shell saw its child end by signal 9: status 128 + 9
    assertThat(new String(child.getInputStream().readAllBytes()).trim()).isEqualTo("137");
  }

  private static ProcessHandle awaitChild(ProcessHandle parent) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (System.nanoTime() < deadline) {
      var c = parent.children().findFirst();
      if (c.isPresent()) {
        return c.get();
      }
      Thread.sleep(5);
    }
    throw new AssertionError("no child of " + parent.pid() + " within 5 s");
  }

  @Test
  void signallingAProcessThatIsGoneFailsNamingThePid() throws Exception {
    child = new ProcessBuilder("true").start();
    assertThat(child.waitFor(5, TimeUnit.SECONDS)).isTrue();
    long pid = child.pid();
    assertThatThrownBy(() -> faults.pause(pid)).isInstanceOf(IOException.class)
        .hasMessageStartingWith("kill -STOP " + pid + " failed (exit 1)");
    assertThatThrownBy(() -> faults.pause(ProcessHandle.current().pid()))
        .hasMessage("process faults: pid " + ProcessHandle.current().pid() + " is this JVM itself");
    assertThatThrownBy(() -> new ProcessFaults(Duration.ZERO)).hasMessage("process faults: timeout must be > 0, got PT0S");
  }
}
