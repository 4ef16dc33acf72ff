package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.Arrays;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.nvrtc;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.annotation.ByPtrPtr;
import org.junit.jupiter.api.Test;

/**
 * How bytedeco passes each pointer argument of the overloads this backend calls, read from the
 * bindings' annotations (reflection only: no native library is loaded). {@code @ByPtrPtr} means
 * "pass the address of a variable holding the pointer, and write the pointer back": right for the
 * out-parameters (cudaMalloc, cuModuleLoadData, …), wrong for cuLaunchKernel's kernelParams, where
 * it made the first GPU run fail with CUDA_ERROR_INVALID_VALUE.
 */
class BindingContractTest {

  private static boolean[] byPtrPtr(Class<?> owner, String name, Class<?>... types) throws NoSuchMethodException {
    Method m = owner.getMethod(name, types);
    Annotation[][] annotations = m.getParameterAnnotations();
    boolean[] out = new boolean[annotations.length];
    for (int i = 0; i < annotations.length; i++) {
      out[i] = Arrays.stream(annotations[i]).anyMatch(a -> a.annotationType() == ByPtrPtr.class);
    }
    return out;
  }

  private static final Class<?>[] LAUNCH_PREFIX = {
      CUfunc_st.class, int.class, int.class, int.class, int.class, int.class, int.class, int.class, CUstream_st.class};

  private static Class<?>[] launch(Class<?> params, Class<?> extra) {
    Class<?>[] t = Arrays.copyOf(LAUNCH_PREFIX, 11);
    t[9] = params;
    t[10] = extra;
    return t;
  }

  @Test
  void theLaunchOverloadInUsePassesKernelParamsAndExtraAsIs() throws Exception {
    boolean[] used = byPtrPtr(cudart.class, "cuLaunchKernel", launch(PointerPointer.class, PointerPointer.class));
    assertThat(used[9]).as("kernelParams by pointer to pointer").isFalse();
    assertThat(used[10]).as("extra by pointer to pointer").isFalse();
    boolean[] avoided = byPtrPtr(cudart.class, "cuLaunchKernel", launch(Pointer.class, Pointer.class));
    assertThat(avoided[9]).as("the Pointer overload, which LaunchArguments must not use").isTrue();
  }

  @Test
  void theOutParametersAreWrittenBackAndTheDataPointersPassedAsIs() throws Exception {
    assertThat(byPtrPtr(cudart.class, "cudaMalloc", Pointer.class, long.class)).containsExactly(true, false);
    assertThat(byPtrPtr(cudart.class, "cudaMallocHost", Pointer.class, long.class)).containsExactly(true, false);
    assertThat(byPtrPtr(cudart.class, "cudaEventCreate", CUevent_st.class)).containsExactly(true);
    assertThat(byPtrPtr(cudart.class, "cuModuleLoadData", CUmod_st.class, Pointer.class)).containsExactly(true, false);
    assertThat(byPtrPtr(cudart.class, "cuModuleGetFunction", CUfunc_st.class, CUmod_st.class, String.class))
        .containsExactly(true, false, false);
    assertThat(byPtrPtr(cudart.class, "cudaFree", Pointer.class)).containsExactly(false);
    assertThat(byPtrPtr(cudart.class, "cudaFreeHost", Pointer.class)).containsExactly(false);
    assertThat(byPtrPtr(cudart.class, "cudaMemset", Pointer.class, int.class, long.class))
        .containsExactly(false, false, false);
    assertThat(byPtrPtr(cudart.class, "cudaMemcpy", Pointer.class, Pointer.class, long.class, int.class))
        .containsExactly(false, false, false, false);
    assertThat(byPtrPtr(cudart.class, "cudaMemcpyAsync", Pointer.class, Pointer.class, long.class, int.class,
        CUstream_st.class)).containsExactly(false, false, false, false, false);
    assertThat(byPtrPtr(cudart.class, "cudaMemGetInfo", SizeTPointer.class, SizeTPointer.class))
        .containsExactly(false, false);
    assertThat(byPtrPtr(cudart.class, "cuGetErrorName", int.class, PointerPointer.class)).containsExactly(false, false);
  }

  @Test
  void nvrtcsProgramIsAnOutParameterAndItsOptionsAnArray() throws Exception {
    assertThat(byPtrPtr(nvrtc.class, "nvrtcCreateProgram", _nvrtcProgram.class, BytePointer.class, BytePointer.class,
        int.class, PointerPointer.class, PointerPointer.class)).containsExactly(true, false, false, false, false, false);
    assertThat(byPtrPtr(nvrtc.class, "nvrtcCompileProgram", _nvrtcProgram.class, int.class, PointerPointer.class))
        .containsExactly(false, false, false);
    assertThat(byPtrPtr(nvrtc.class, "nvrtcGetCUBIN", _nvrtcProgram.class, byte[].class)).containsExactly(false, false);
    assertThat(byPtrPtr(nvrtc.class, "nvrtcDestroyProgram", _nvrtcProgram.class)).containsExactly(true);
  }
}
