package dev.shardopt.device.opencl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * open() on a machine without an OpenCL driver or without the binding's natives, shown in real
 * child JVMs (the ICD loader reads its environment once per process): one line, exit code 3.
 */
class UnavailableProcessTest {

  /** The child: opens device 0 through the provider and prints the outcome. */
  public static final class OpenDeviceZero {
    public static void main(String[] args) {
      try (var b = new OpenClBackendProvider().open(0)) {
        System.out.println("opened " + b.info().name());
      } catch (dev.shardopt.engine.device.DeviceUnavailableException e) {
        System.out.println(e.getMessage());
        System.exit(3);
      }
    }
  }

  private static List<String> run(List<String> jvmOptions, String vendorsDir) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(OpenDeviceZero.class.getName());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    if (vendorsDir != null) {
      pb.environment().put("OCL_ICD_VENDORS", vendorsDir); // where the ICD loader looks for drivers
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("child did not finish: " + out);
    }
    assertEquals(3, p.exitValue(), out);
    return out.lines().toList();
  }

  @Test
  void noDriverInstalled(@TempDir Path empty) throws Exception {
    List<String> out = run(List.of(), empty.toString());
    assertThat(out).containsExactly("opencl: no OpenCL platform is installed (the ICD loader found no "
        + "driver; e.g. install Debian's pocl-opencl-icd)");
  }

  @Test
  void bindingNativesMissing(@TempDir Path cache) throws IOException, Exception {
    // Asking for another platform's natives, which the class path does not have.
    Files.createDirectories(cache);
    List<String> out = run(List.of("-Dorg.bytedeco.javacpp.platform=linux-arm64",
        "-Dorg.bytedeco.javacpp.cachedir=" + cache), null);
    assertEquals(1, out.size(), out.toString());
    assertThat(out.get(0)).startsWith("opencl: the OpenCL binding does not load here (")
        .endsWith("it needs the org.bytedeco:opencl linux-x86_64 natives on the class path, on x86-64 Linux");
  }
}
