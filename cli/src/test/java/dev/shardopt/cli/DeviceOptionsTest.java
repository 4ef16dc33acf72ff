package dev.shardopt.cli;

import static dev.shardopt.cli.ReplayCommandTest.reference;
import static dev.shardopt.cli.ReplayCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import dev.shardopt.engine.device.Devices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * --device on worker and replay, in this build, whose class path has no device module: opencl and
 * cuda fail with one line and exit 2, auto falls back to cpu and says so, and bad values name the
 * option. (With the device modules on the class path the kinds they provide open instead; those
 * cases are then skipped here and tested in the modules.)
 */
class DeviceOptionsTest {
  @TempDir Path dir;

  private static void assumeNotInThisBuild(String kind) {
    assumeFalse(Devices.installed().providedKinds().contains(kind), kind + " is in this build");
  }

  private static String notInThisBuild(String kind) {
    return "shardopt: device " + kind + " 0 is unavailable: not in this build (no shardopt-device-" + kind
        + " on the class path)\n";
  }

  private List<String> replay(Path out, String... extra) throws Exception {
    Path c = reference("p19_adam_warmup");
    List<String> args = new ArrayList<>(List.of("replay", "--pipeline", "adam(0.01).warmup(10)",
        "--params", c.resolve("init.npy").toString(), "--grads", c.resolve("grads.npy").toString(),
        "--out", out.toString(), "--threads", "1"));
    args.addAll(List.of(extra));
    return args;
  }

  @ParameterizedTest
  @ValueSource(strings = {"opencl", "cuda"})
  void aDeviceNotInThisBuildFailsReplayAndWorkerWithOneLine(String kind) throws Exception {
    assumeNotInThisBuild(kind);
    Path out = dir.resolve("out.npy");
    ReplayCommandTest.Run local = run(replay(out, "--device", kind).toArray(String[]::new));
    assertThat(local.status()).isEqualTo(2);
    assertThat(local.err()).isEqualTo(notInThisBuild(kind));
    ReplayCommandTest.Run cluster = run(replay(out, "--device", kind, "--workers", "2").toArray(String[]::new));
    assertThat(cluster.status()).isEqualTo(2);
    assertThat(cluster.err()).isEqualTo(notInThisBuild(kind));
    assertThat(out).doesNotExist();

    // the worker opens its device before it serves or calls the coordinator (none listens there)
    ReplayCommandTest.Run worker = run("worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--device", kind);
    assertThat(worker.status()).isEqualTo(2);
    assertThat(worker.err()).isEqualTo(notInThisBuild(kind));
  }

  @Test
  void autoFallsBackToCpuSaysWhyAndWritesTheSameBytes() throws Exception {
    assumeNotInThisBuild("cuda");
    assumeNotInThisBuild("opencl");
    Path cpu = dir.resolve("cpu.npy");
    Path auto = dir.resolve("auto.npy");
    assertThat(run(replay(cpu, "--device", "cpu").toArray(String[]::new)).status()).isZero();
    ReplayCommandTest.Run r = run(replay(auto, "--device", "auto").toArray(String[]::new));
    assertThat(r.status()).isZero();
    assertThat(r.err()).isEqualTo("device auto: chose cpu (cuda: not in this build (no shardopt-device-cuda on the class"
        + " path); opencl: not in this build (no shardopt-device-opencl on the class path))\n");
    assertThat(Files.readAllBytes(auto)).isEqualTo(Files.readAllBytes(cpu));
  }

  @Test
  void aMemoryLimitTooSmallForTheModelIsOneLineNamingTheSizes() throws Exception {
    Path out = dir.resolve("out.npy");
    // adam over 512 floats: parameters and two state slots, 3 x 2048 bytes
    ReplayCommandTest.Run r = run(replay(out, "--device-memory-limit", "6000").toArray(String[]::new));
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("shardopt: the shards need 6144 bytes (1 shard of 512 floats in all, each with"
        + " parameters, 2 state slots) on the cpu device, which has 6000 bytes free (the device memory limit of 6000"
        + " bytes has 1904 bytes free, 2048 asked)\n");
    assertThat(out).doesNotExist();
    assertThat(run(replay(out, "--device-memory-limit", "6144").toArray(String[]::new)).status()).isZero();
  }

  @Test
  void badDeviceOptionsNameTheOptionTheValueAndWhatIsAllowed() throws Exception {
    Path out = dir.resolve("out.npy");
    assertThat(run(replay(out, "--device", "gpu").toArray(String[]::new)).err())
        .isEqualTo("shardopt: --device must be one of cpu, opencl, cuda, auto, got 'gpu'\n");
    assertThat(run(replay(out, "--device", "cuda", "--device-index", "-1").toArray(String[]::new)).err())
        .isEqualTo("shardopt: --device-index must be >= 0, got -1\n");
    assertThat(run(replay(out, "--device-index", "1").toArray(String[]::new)).err())
        .isEqualTo("shardopt: --device-index 1 with --device cpu: the cpu backend has one device, 0\n");
    ReplayCommandTest.Run zero = run("worker", "--coordinator", "127.0.0.1:1", "--device-memory-limit", "0");
    assertThat(zero.status()).isEqualTo(2);
    assertThat(zero.err()).isEqualTo("shardopt: --device-memory-limit must be > 0 bytes, got 0\n");
    assertThat(out).doesNotExist();
  }
}
