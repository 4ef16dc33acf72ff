package dev.shardopt.device.cuda;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether this machine has the CUDA driver and NVRTC, found by looking for the files (independently
 * of the code under test), so that tests can expect the exact failure where they are absent.
 */
final class CudaAvailability {
  private CudaAvailability() {}

  static boolean hasLibrary(String fileName) {
    List<String> dirs = new ArrayList<>(List.of("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64",
        "/lib/x86_64-linux-gnu", "/usr/local/nvidia/lib64", "/usr/local/cuda/lib64", "/usr/local/cuda/lib",
        "/usr/lib/wsl/lib"));
    String ld = System.getenv("LD_LIBRARY_PATH");
    if (ld != null) {
      dirs.addAll(List.of(ld.split(File.pathSeparator)));
    }
    return dirs.stream().filter(d -> !d.isBlank()).anyMatch(d -> Files.exists(Path.of(d, fileName)));
  }

  static boolean driver() {
    return hasLibrary("libcuda.so.1");
  }

  static boolean nvrtc() {
    return hasLibrary("libnvrtc.so.13");
  }
}
