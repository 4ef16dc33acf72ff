package dev.shardopt.cli.train;

import static dev.shardopt.cli.train.TrainCheckpointTest.assertSameCheckpoint;
import static dev.shardopt.cli.train.TrainCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.train.TrainCommandTest.Result;
import dev.shardopt.embedded.OpenClHere;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shardopt train --device opencl}: the embedded workers on this build's opencl backend (PoCL
 * in CI), in the JVM that runs ND4J, end bitwise where the cpu run ends.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class TrainOnDevicesTest {
  @TempDir Path dir;

  private Result train(String device, Path checkpoints) {
    Result r = run("train", "--batch", "32", "--hidden", "16", "--trainers", "2", "--seed", "7", "--steps", "12",
        "--workers", "2", "--device", device, "--checkpoint-dir", checkpoints.toString(),
        "--plot", dir.resolve(device + ".png").toString());
    assertThat(r.status()).as("stdout: %s%nstderr: %s", r.out(), r.err()).isZero();
    return r;
  }

  @Test
  void trainingOnOpenClEndsBitwiseWhereTheCpuRunEnds() throws Exception {
    OpenClHere.deviceName();
    Path cpu = dir.resolve("cpu");
    Path opencl = dir.resolve("opencl");
    Result onCpu = train("cpu", cpu);
    Result onOpenCl = train("opencl", opencl); // an explicit kind never falls back: this ran on opencl
    // every parameter and optimizer state file, and the trainers' state, byte for byte
    assertSameCheckpoint(cpu, opencl, 12);
    assertThat(line(onOpenCl, "final train loss")).isEqualTo(line(onCpu, "final train loss"));
    assertThat(line(onOpenCl, "test accuracy").replaceAll(" in \\d+\\.\\d s$", ""))
        .isEqualTo(line(onCpu, "test accuracy").replaceAll(" in \\d+\\.\\d s$", ""));
  }

  private static String line(Result r, String prefix) {
    return r.out().lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError(r.out()));
  }
}
