package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.nvrtc.NVRTC_SUCCESS;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCompileProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcCreateProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcDestroyProgram;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBIN;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetCUBINSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetErrorString;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLog;
import static org.bytedeco.cuda.global.nvrtc.nvrtcGetProgramLogSize;
import static org.bytedeco.cuda.global.nvrtc.nvrtcVersion;

import dev.shardopt.engine.device.DeviceUnavailableException;
import java.nio.charset.StandardCharsets;
import org.bytedeco.cuda.nvrtc._nvrtcProgram;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

/**
 * The issue's way: NVRTC in process, {@code --gpu-architecture=sm_XX} for the device's own compute
 * capability, so the driver never JIT-compiles PTX, and the CUBIN loaded as is.
 */
final class NvrtcCompiler implements KernelCompiler {

  @Override
  public String name() {
    return "nvrtc";
  }

  @Override
  public KernelImage compile(String source, int major, int minor) {
    CudaNatives.loadNvrtc();
    int[] versionMajor = new int[1];
    int[] versionMinor = new int[1];
    String version = nvrtcVersion(versionMajor, versionMinor) == NVRTC_SUCCESS
        ? versionMajor[0] + "." + versionMinor[0]
        : "(unknown version)";
    String arch = "sm_" + major + minor;
    String[] options = new String[CONTRACT_FLAGS.length + 1];
    options[0] = "--gpu-architecture=" + arch;
    System.arraycopy(CONTRACT_FLAGS, 0, options, 1, CONTRACT_FLAGS.length);

    _nvrtcProgram program = new _nvrtcProgram();
    try (BytePointer text = new BytePointer(source, StandardCharsets.UTF_8);
        BytePointer name = new BytePointer("shardopt_kernels.cu", StandardCharsets.UTF_8)) {
      check(nvrtcCreateProgram(program, text, name, 0, (PointerPointer<?>) null, (PointerPointer<?>) null),
          "nvrtcCreateProgram", version);
      int rc;
      try (PointerPointer<BytePointer> opts = new PointerPointer<>(options)) {
        rc = nvrtcCompileProgram(program, options.length, opts);
      }
      if (rc != NVRTC_SUCCESS) {
        throw new DeviceUnavailableException("cuda: the kernel source does not compile for " + arch
            + " with NVRTC " + version + ": " + firstError(log(program)));
      }
      long size;
      try (SizeTPointer sizeOut = new SizeTPointer(1)) {
        check(nvrtcGetCUBINSize(program, sizeOut), "nvrtcGetCUBINSize", version);
        size = sizeOut.get();
      }
      if (size <= 0 || size > Integer.MAX_VALUE) {
        throw new Unavailable("NVRTC " + version + " gave no CUBIN for " + arch + " (size " + size + ")");
      }
      byte[] cubin = new byte[(int) size];
      check(nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN", version);
      return new KernelImage(cubin, "NVRTC " + version + ", " + arch);
    } finally {
      if (!program.isNull()) {
        nvrtcDestroyProgram(program);
      }
    }
  }

  private static String log(_nvrtcProgram program) {
    try (SizeTPointer sizeOut = new SizeTPointer(1)) {
      if (nvrtcGetProgramLogSize(program, sizeOut) != NVRTC_SUCCESS || sizeOut.get() <= 1) {
        return "";
      }
      byte[] bytes = new byte[(int) Math.min(sizeOut.get(), 1 << 20)];
      if (nvrtcGetProgramLog(program, bytes) != NVRTC_SUCCESS) {
        return "";
      }
      int end = 0;
      while (end < bytes.length && bytes[end] != 0) {
        end++;
      }
      return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }
  }

  /** The first line of the log that says "error", else its first line. */
  static String firstError(String log) {
    String first = null;
    for (String line : log.split("\\R")) {
      if (line.isBlank()) {
        continue;
      }
      if (first == null) {
        first = line.trim();
      }
      if (line.contains("error")) {
        return line.trim();
      }
    }
    return first == null ? "(no log)" : first;
  }

  private static void check(int rc, String call, String version) {
    if (rc != NVRTC_SUCCESS) {
      BytePointer text = nvrtcGetErrorString(rc);
      throw new Unavailable("NVRTC " + version + ": " + call + " failed: "
          + (text == null || text.isNull() ? "error " + rc : text.getString()));
    }
  }
}
