package dev.shardopt.device.cuda;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * How the backend gets its device code, from system properties (a worker has no other channel for
 * them): {@value #COMPILER} = {@code auto} (NVRTC, else nvcc, else a prebuilt image) or one of
 * {@code nvrtc}, {@code nvcc}, {@code prebuilt}; {@value #NVCC} = an nvcc binary to try first;
 * {@value #KERNEL_IMAGE} = the prebuilt fatbin; {@value #COPY_THREADS} = threads for the host side
 * of uploads and downloads (default: half the cores, at most 8).
 */
record CudaOptions(String compiler, String nvcc, Path kernelImage) {
  static final String COMPILER = "shardopt.cuda.compiler";
  static final String NVCC = "shardopt.cuda.nvcc";
  static final String KERNEL_IMAGE = "shardopt.cuda.kernelImage";
  /** Threads that copy between Java arrays and the pinned staging buffers (see {@link HostCopier}). */
  static final String COPY_THREADS = "shardopt.cuda.copyThreads";

  CudaOptions {
    compiler = compiler == null ? "auto" : compiler.toLowerCase(Locale.ROOT);
    if (!List.of("auto", "nvrtc", "nvcc", "prebuilt").contains(compiler)) {
      throw new IllegalArgumentException(
          COMPILER + " must be auto, nvrtc, nvcc or prebuilt, got '" + compiler + "'");
    }
  }

  static CudaOptions fromSystemProperties() {
    String image = System.getProperty(KERNEL_IMAGE);
    return new CudaOptions(System.getProperty(COMPILER, "auto"), System.getProperty(NVCC),
        image == null || image.isBlank() ? null : Path.of(image));
  }

  /** The compilers to try, in order. */
  List<KernelCompiler> compilers() {
    KernelCompiler nvrtc = new NvrtcCompiler();
    KernelCompiler nvccCompiler = NvccCompiler.fromEnvironment(nvcc);
    KernelCompiler prebuilt = new PrebuiltKernelImage(kernelImage);
    return switch (compiler) {
      case "nvrtc" -> List.of(nvrtc);
      case "nvcc" -> List.of(nvccCompiler);
      case "prebuilt" -> List.of(prebuilt);
      default -> List.of(nvrtc, nvccCompiler, prebuilt);
    };
  }
}
