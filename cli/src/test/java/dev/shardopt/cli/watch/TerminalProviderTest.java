package dev.shardopt.cli.watch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import org.jline.terminal.TerminalBuilder;
import org.jline.terminal.spi.SystemStream;
import org.jline.terminal.spi.TerminalProvider;
import org.junit.jupiter.api.Test;

/**
 * {@code watch} drives the terminal through JLine's JNI provider, which asks the kernel (isatty, ioctl)
 * instead of running {@code stty}: a Ctrl-C reaches the whole foreground group, and an {@code stty} it
 * killed made the terminal's size unreadable (exit 1 on CI; WatchCommandTest#ctrlCEndsItToo).
 */
class TerminalProviderTest {
  @Test
  void theJniProviderLoadsItsNativeLibraryAndComesBeforeExec() throws Exception {
    TerminalProvider jni = TerminalProvider.load(TerminalBuilder.PROP_PROVIDER_JNI);
    assertThat(jni.name()).isEqualTo("jni");
    // a native isatty: throws UnsatisfiedLinkError when libjlinenative cannot load; surefire's stdin is no terminal
    assertThat(jni.isSystemStream(SystemStream.Input)).isFalse();
    List<String> order = Arrays.asList(TerminalBuilder.PROP_PROVIDERS_DEFAULT.split(","));
    assertThat(order).contains("jni", "exec");
    assertThat(order.indexOf("jni")).isLessThan(order.indexOf("exec"));
  }
}
