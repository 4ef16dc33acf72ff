package dev.shardopt.device.cuda;

/** A CUDA call returned an error: names the call, the error's name and its text. */
final class CudaCallException extends IllegalStateException {
  private final int code;

  CudaCallException(String call, int code, String name, String text) {
    super("cuda: " + call + " failed: " + name + " (" + code + "): " + text);
    this.code = code;
  }

  /** The cudaError_t or CUresult value. */
  int code() {
    return code;
  }
}
