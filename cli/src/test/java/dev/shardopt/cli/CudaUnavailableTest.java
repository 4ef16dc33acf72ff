package dev.shardopt.cli;

import static dev.shardopt.cli.ReplayCommandTest.reference;
import static dev.shardopt.cli.ReplayCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --device cuda} with the cuda module in the build on a machine without an NVIDIA driver:
 * one line naming what is missing, exit status 2, nothing written. (On the GPU machine the same
 * commands run; scripts/gpu-check.sh compares their output with --device cpu there.)
 */
class CudaUnavailableTest {
  private static final String NO_DRIVER =
      "shardopt: device cuda 0 is unavailable: cuda: no NVIDIA driver on this machine (no jnicudart:"
          + " libcuda.so.1 not found)\n";

  @TempDir Path dir;

  /** Whether the driver library is here, looked up without the code under test. */
  private static boolean driverHere() {
    return Stream.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64",
            "/usr/lib/wsl/lib")
        .anyMatch(d -> Files.exists(Path.of(d, "libcuda.so.1")));
  }

  @Test
  void replayAndWorkerWithDeviceCudaSayInOneLineThatTheDriverIsMissing() throws Exception {
    assumeFalse(driverHere(), "this machine has an NVIDIA driver");
    Path c = reference("p19_adam_warmup");
    Path out = dir.resolve("out.npy");
    for (List<String> command : List.of(
        List.of("replay", "--pipeline", "adam(0.01).warmup(10)", "--params", c.resolve("init.npy").toString(),
            "--grads", c.resolve("grads.npy").toString(), "--out", out.toString(), "--device", "cuda"),
        List.of("worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--device", "cuda"))) {
      ReplayCommandTest.Run r = run(command.toArray(String[]::new));
      assertThat(r.status()).as("%s", command).isEqualTo(2);
      assertThat(r.err()).as("%s", command).isEqualTo(NO_DRIVER);
    }
    assertThat(out).doesNotExist();
  }
}
