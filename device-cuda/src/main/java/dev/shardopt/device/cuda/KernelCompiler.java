package dev.shardopt.device.cuda;

/**
 * Turns the CUDA text of the kernel source into device code for one compute capability, with the
 * flags of the bitwise contract: {@code --fmad=false --prec-div=true --prec-sqrt=true --ftz=false}.
 */
interface KernelCompiler {

  /** The flags every compiler passes, after the architecture. */
  String[] CONTRACT_FLAGS = {"--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false"};

  /** "nvrtc", "nvcc" or "prebuilt". */
  String name();

  /**
   * Compiles {@code source} for {@code sm_<major><minor>}.
   *
   * @throws Unavailable when this compiler is not installed or cannot run here (another may be)
   * @throws dev.shardopt.engine.device.DeviceUnavailableException when the source does not compile
   */
  KernelImage compile(String source, int major, int minor);

  /** This compiler cannot run here; the message is one line saying why. */
  final class Unavailable extends RuntimeException {
    Unavailable(String message) {
      super(message);
    }
  }
}
