package dev.shardopt.device.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The one line for each way bytedeco's JNI library fails to load, from the errors' real shapes. */
class NativeLoadFailureTest {

  private static UnsatisfiedLinkError loaderError(String cause) {
    UnsatisfiedLinkError outer = new UnsatisfiedLinkError(
        "no jnicudart in java.library.path: /usr/java/packages/lib:/usr/lib/x86_64-linux-gnu/jni");
    outer.initCause(new UnsatisfiedLinkError(
        "/root/.javacpp/cache/cuda-13.1-9.19-1.5.13-linux-x86_64.jar/org/bytedeco/cuda/linux-x86_64/libjnicudart.so: "
            + cause));
    return outer;
  }

  @Test
  void noDriver() {
    assertThat(NativeLoadFailure.describe("jnicudart",
        loaderError("libcuda.so.1: cannot open shared object file: No such file or directory")))
        .isEqualTo("no NVIDIA driver on this machine (no jnicudart: libcuda.so.1 not found)");
  }

  @Test
  void noRuntime() {
    assertThat(NativeLoadFailure.describe("jnicudart",
        loaderError("libcudart.so.13: cannot open shared object file: No such file or directory")))
        .isEqualTo("the CUDA runtime is not installed (no jnicudart: libcudart.so.13 not found;"
            + " put the directory that holds it on LD_LIBRARY_PATH)");
  }

  @Test
  void noNvrtc() {
    assertThat(NativeLoadFailure.describe("jninvrtc",
        loaderError("libnvrtc.so.13: cannot open shared object file: No such file or directory")))
        .isEqualTo("NVRTC is not installed (no jninvrtc: libnvrtc.so.13 not found;"
            + " put the directory that holds it on LD_LIBRARY_PATH)");
  }

  @Test
  void anotherLibraryIsNamed() {
    assertThat(NativeLoadFailure.describe("jnicudart",
        loaderError("libstdc++.so.6: cannot open shared object file: No such file or directory")))
        .isEqualTo("a library that jnicudart needs is missing (libstdc++.so.6 not found)");
  }

  @Test
  void anythingElseKeepsTheDeepestMessageOnOneLine() {
    UnsatisfiedLinkError e = loaderError("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found\n"
        + "  (required by libjnicudart.so)");
    String line = NativeLoadFailure.describe("jnicudart", e);
    assertThat(line).startsWith("cannot load jnicudart (UnsatisfiedLinkError: ")
        .contains("version `GLIBC_2.38' not found | (required by libjnicudart.so)")
        .doesNotContain("\n");
  }

  @Test
  void aFailedClassInitializationLaterIsDescribedToo() {
    NoClassDefFoundError later = new NoClassDefFoundError("Could not initialize class org.bytedeco.cuda.global.cudart");
    later.initCause(new ExceptionInInitializerError(
        "Exception java.lang.UnsatisfiedLinkError: /tmp/x/libjnicudart.so: libcuda.so.1: cannot open shared"
            + " object file: No such file or directory [in thread \"main\"]"));
    assertThat(NativeLoadFailure.describe("jnicudart", later))
        .isEqualTo("no NVIDIA driver on this machine (no jnicudart: libcuda.so.1 not found)");
  }
}
