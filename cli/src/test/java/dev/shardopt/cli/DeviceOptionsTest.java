package dev.shardopt.cli;

import static dev.shardopt.cli.ReplayCommandTest.reference;
import static dev.shardopt.cli.ReplayCommandTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.embedded.OpenClHere;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --device on worker and replay: this build's opencl backend (PoCL in CI) through auto and a bad
 * index; a build without the device modules (this class path less them, in a child JVM), where
 * opencl and cuda fail with one line and exit 2 and auto falls back to cpu and says so; the memory
 * limit; bad values naming the option.
 */
class DeviceOptionsTest {
  @TempDir Path dir;

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

  /** This JVM's class path without the device modules and their bindings: a build without them. */
  static String classPathWithoutDevices() {
    List<String> all = Arrays.asList(System.getProperty("java.class.path").split(File.pathSeparator));
    List<String> kept = all.stream().filter(p -> !isDeviceEntry(p)).toList();
    // the class path did have the opencl module (target/classes in the reactor, else its jar) and its binding
    assertThat(all.size() - kept.size()).as("device entries in %s", all).isGreaterThanOrEqualTo(3);
    return String.join(File.pathSeparator, kept);
  }

  private static boolean isDeviceEntry(String entry) {
    String p = entry.replace('\\', '/');
    return p.contains("/org/bytedeco/") || p.matches(".*/device-[a-z]+/target/.*")
        || Path.of(entry).getFileName().toString().startsWith("shardopt-device-");
  }

  @Test
  void withoutTheDeviceModulesOpenclAndCudaAreNotInThisBuildAndAutoTakesCpu() throws Exception {
    Path out = dir.resolve("out.npy");
    Path cpu = dir.resolve("cpu.npy");
    Path auto = dir.resolve("auto.npy");
    List<List<String>> commands = List.of(
        replay(out, "--device", "opencl"),
        replay(out, "--device", "opencl", "--workers", "2"),
        replay(out, "--device", "cuda"),
        // the worker opens its device before it serves or calls the coordinator (none listens there)
        List.of("worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--device", "opencl"),
        replay(cpu, "--device", "cpu"),
        replay(auto, "--device", "auto"));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+UseSerialGC", "-cp", classPathWithoutDevices(), CommandSequenceMain.class.getName()));
    cmd.addAll(CommandSequenceMain.arguments(commands));
    Process p = new ProcessBuilder(cmd).redirectError(dir.resolve("stderr.txt").toFile()).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(output).as("stderr: %s", Files.readString(dir.resolve("stderr.txt"))).isEqualTo(
        "exit 2\n" + notInThisBuild("opencl")
            + "exit 2\n" + notInThisBuild("opencl")
            + "exit 2\n" + notInThisBuild("cuda")
            + "exit 2\n" + notInThisBuild("opencl")
            + "exit 0\n"
            + "exit 0\ndevice auto: chose cpu (cuda: not in this build (no shardopt-device-cuda on the class path);"
            + " opencl: not in this build (no shardopt-device-opencl on the class path))\n");
    assertThat(out).doesNotExist();
    assertThat(Files.readAllBytes(auto)).isEqualTo(Files.readAllBytes(cpu));
  }

  @Test
  void autoChoosesOpenClHereSaysSoInOneLineAndWritesTheBytesOfCpu() throws Exception {
    String name = OpenClHere.deviceName();
    Path cpu = dir.resolve("cpu.npy");
    Path auto = dir.resolve("auto.npy");
    assertThat(run(replay(cpu, "--device", "cpu").toArray(String[]::new)).status()).isZero();
    ReplayCommandTest.Run r = run(replay(auto, "--device", "auto").toArray(String[]::new));
    assertThat(r.status()).isZero();
    // why not cuda: not in this build, or with the cuda module, its library or driver missing here
    assertThat(r.err()).startsWith("device auto: chose opencl 0 \"" + name + "\" (cuda: ").endsWith(")\n");
    assertThat(r.err().lines()).hasSize(1);
    assertThat(Files.readAllBytes(auto)).isEqualTo(Files.readAllBytes(cpu));
  }

  @Test
  void anOpenClDeviceIndexThatDoesNotExistIsOneLineNamingTheDevices() throws Exception {
    String name = OpenClHere.deviceName();
    Path out = dir.resolve("out.npy");
    for (List<String> command : List.of(replay(out, "--device", "opencl", "--device-index", "9"),
        replay(out, "--device", "opencl", "--device-index", "9", "--workers", "2"),
        List.of("worker", "--port", "0", "--coordinator", "127.0.0.1:1", "--device", "opencl", "--device-index", "9"))) {
      ReplayCommandTest.Run r = run(command.toArray(String[]::new));
      assertThat(r.status()).as("%s", command).isEqualTo(2);
      assertThat(r.err()).as("%s", command)
          .startsWith("shardopt: device opencl 9 is unavailable: opencl: no device at index 9; the devices here are [0] "
              + name + " (")
          .endsWith(")\n");
      assertThat(r.err().lines()).hasSize(1);
    }
    assertThat(out).doesNotExist();
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
  void aMemoryLimitOnOpenClCountsTheGradientStagingToo() throws Exception {
    OpenClHere.deviceName();
    Path out = dir.resolve("out.npy");
    // adam over 512 floats off the heap: parameters, two state slots and one array the trainer's gradient is
    // uploaded into, 4 x 2048 bytes; the third array is the first that does not fit (6000 - 2 x 2048 = 1904)
    ReplayCommandTest.Run r = run(replay(out, "--device", "opencl", "--device-memory-limit", "6000").toArray(String[]::new));
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).isEqualTo("shardopt: the shards need 8192 bytes (1 shard of 512 floats in all, each with"
        + " parameters, 2 state slots, 1 gradient staging) on the opencl device, which has 6000 bytes free (the device"
        + " memory limit of 6000 bytes has 1904 bytes free, 2048 asked)\n");
    assertThat(out).doesNotExist();
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
