package dev.shardopt.engine.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The kernel file ships in the jar, defines every kernel it announces, and each prelude its macros. */
class KernelSourceTest {

  private static final List<String> NAMES = List.of(KernelSource.SGD, KernelSource.MOMENTUM,
      KernelSource.NESTEROV, KernelSource.ADAGRAD, KernelSource.RMSPROP, KernelSource.ADAM,
      KernelSource.LION, KernelSource.ADD, KernelSource.DIV, KernelSource.ADD_DIV, KernelSource.FILL,
      KernelSource.BLOCK_REDUCE);

  private static final List<String> MACROS = List.of("KERNEL", "FUNC", "GLOBAL", "LOCAL", "GID", "LID",
      "GROUP_ID", "BARRIER()", "FLOAT_BITS(x)", "BITS_FLOAT(u)");

  @Test
  void everyAnnouncedKernelIsDefinedOnce() {
    String body = KernelSource.body();
    for (String name : NAMES) {
      assertThat(body).containsOnlyOnce("KERNEL void " + name + "(");
    }
    assertThat(body.split("KERNEL void ", -1)).hasSize(NAMES.size() + 1);
  }

  @Test
  void thePreludesDefineTheMacrosAndTheOpenClOneTurnsContractionOff() {
    for (String prelude : List.of(KernelSource.OPENCL_PRELUDE, KernelSource.CUDA_PRELUDE)) {
      for (String macro : MACROS) {
        assertThat(prelude).containsPattern("(?m)^#define " + java.util.regex.Pattern.quote(macro) + "( |$)");
      }
      assertThat(prelude).endsWith("#line 1 \"shardopt_kernels.c\"\n");
    }
    assertThat(KernelSource.OPENCL_PRELUDE).contains("#pragma OPENCL FP_CONTRACT OFF\n")
        .contains("#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n");
    assertThat(KernelSource.openCl()).isEqualTo(KernelSource.OPENCL_PRELUDE + KernelSource.body());
    assertThat(KernelSource.cuda()).isEqualTo(KernelSource.CUDA_PRELUDE + KernelSource.body());
  }
}
