package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shardopt.engine.device.KernelSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The three ways to device code, as far as a machine without a GPU allows: the engine's CUDA text
 * compiled for sm_90 (the H200) by the real nvcc with the contract's flags, where nvcc is installed;
 * NVRTC's absence reported in one line; the prebuilt image's digest check.
 */
class KernelCompilersTest {

  private static boolean nvccInstalled() {
    return NvccCompiler.fromEnvironment(null).compileable();
  }

  @Test
  void theKernelSourceCompilesForSm90WithNvccAndTheContractFlags() {
    assumeTrue(nvccInstalled(), "no nvcc here");
    KernelImage image = NvccCompiler.fromEnvironment(null).compile(KernelSource.cuda(), 9, 0);
    String text = new String(image.bytes(), StandardCharsets.ISO_8859_1);
    assertThat(image.producedBy()).contains("sm_90");
    assertThat(text).startsWith("\u007fELF"); // a CUBIN is an ELF image
    for (String kernel : CudaModule.KERNELS) {
      assertThat(text).as("kernel %s in the CUBIN", kernel).contains(kernel + "\0");
    }
  }

  @Test
  void theBenchmarksAdamVariantsCompileForSm90Too() {
    assumeTrue(nvccInstalled(), "no nvcc here");
    KernelImage image = NvccCompiler.fromEnvironment(null).compile(AdamVariants.source(), 9, 0);
    String text = new String(image.bytes(), StandardCharsets.ISO_8859_1);
    for (String kernel : AdamVariants.KERNELS) {
      assertThat(text).as("kernel %s in the CUBIN", kernel).contains(kernel + "\0");
    }
  }

  @Test
  void aSourceThatDoesNotCompileIsReportedWithNvccsFirstError() {
    assumeTrue(nvccInstalled(), "no nvcc here");
    assertThatThrownBy(() -> NvccCompiler.fromEnvironment(null).compile(
        KernelSource.CUDA_PRELUDE + "KERNEL void broken(int n) { undefined_name(n); }\n", 9, 0))
        .isInstanceOf(KernelCompiler.Unavailable.class)
        .hasMessageContaining("-arch=sm_90 failed (exit")
        .hasMessageContaining("undefined_name");
  }

  @Test
  void withoutNvccTheCompilerIsUnavailable() {
    NvccCompiler none = new NvccCompiler(List.of(Path.of("/nonexistent/bin/nvcc")));
    assertThatThrownBy(() -> none.compile(KernelSource.cuda(), 9, 0))
        .isInstanceOf(KernelCompiler.Unavailable.class)
        .hasMessageStartingWith("no nvcc found (looked for 1 paths");
  }

  @Test
  void withoutNvrtcTheCompilerIsUnavailableWithOneLine() {
    assumeFalse(CudaAvailability.nvrtc(), "this machine has libnvrtc.so.13");
    // NVRTC's bindings load after the runtime's: without a driver, that is the line.
    String expected = CudaAvailability.driver()
        ? "NVRTC is not installed (no jninvrtc: libnvrtc.so.13 not found; put the directory that holds it on"
            + " LD_LIBRARY_PATH)"
        : "no NVIDIA driver on this machine (no jnicudart: libcuda.so.1 not found)";
    assertThatThrownBy(() -> new NvrtcCompiler().compile(KernelSource.cuda(), 9, 0))
        .isInstanceOf(KernelCompiler.Unavailable.class)
        .hasMessage(expected);
  }

  @Test
  void thePrebuiltImageIsUsedOnlyForTheSourceItWasBuiltFrom(@TempDir Path dir) throws IOException {
    Path image = dir.resolve("k.fatbin");
    Files.write(image, new byte[] {1, 2, 3});
    Files.writeString(dir.resolve("k.fatbin.sha256"), PrebuiltKernelImage.sha256(KernelSource.cuda()) + "\n");
    KernelImage got = new PrebuiltKernelImage(image).compile(KernelSource.cuda(), 9, 0);
    assertThat(got.bytes()).containsExactly(1, 2, 3);

    assertThatThrownBy(() -> new PrebuiltKernelImage(image).compile(KernelSource.cuda() + " ", 9, 0))
        .isInstanceOf(KernelCompiler.Unavailable.class)
        .hasMessageContaining("was built from another kernel source");
    assertThatThrownBy(() -> new PrebuiltKernelImage(null).compile(KernelSource.cuda(), 9, 0))
        .isInstanceOf(KernelCompiler.Unavailable.class)
        .hasMessage("no prebuilt kernel image given (-Dshardopt.cuda.kernelImage=FILE)");
  }

  @Test
  void theDigestIsSha256OfTheUtf8Text() {
    // FIPS 180-2's test vector for "abc".
    assertThat(PrebuiltKernelImage.sha256("abc"))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }
}
