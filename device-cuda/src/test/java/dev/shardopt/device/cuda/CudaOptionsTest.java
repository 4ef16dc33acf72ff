package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CudaOptionsTest {

  @Test
  void autoTriesNvrtcThenNvccThenThePrebuiltImage() {
    assertThat(new CudaOptions("auto", null, null).compilers())
        .extracting(KernelCompiler::name).containsExactly("nvrtc", "nvcc", "prebuilt");
    assertThat(new CudaOptions(null, null, null).compiler()).isEqualTo("auto");
  }

  @Test
  void aNamedCompilerIsTheOnlyOneTried() {
    assertThat(new CudaOptions("NVCC", null, null).compilers()).extracting(KernelCompiler::name).containsExactly("nvcc");
    assertThat(new CudaOptions("prebuilt", null, Path.of("k.fatbin")).compilers())
        .extracting(KernelCompiler::name).containsExactly("prebuilt");
  }

  @Test
  void anUnknownCompilerNamesThePropertyAndTheChoices() {
    assertThatThrownBy(() -> new CudaOptions("clang", null, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("shardopt.cuda.compiler must be auto, nvrtc, nvcc or prebuilt, got 'clang'");
  }
}
