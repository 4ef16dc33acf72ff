package dev.shardopt.device.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The fallback where NVRTC is not installed but the toolkit's {@code nvcc} is (pip's CUDA wheels
 * ship nvcc without NVRTC): the same source and flags, {@code nvcc -cubin -arch=sm_XX}, run as a
 * process in a temporary directory. nvcc and NVRTC share the front end (NVVM) and ptxas, so with the
 * contract's flags the arithmetic is the same.
 */
final class NvccCompiler implements KernelCompiler {
  private static final long TIMEOUT_SECONDS = 180;

  private final List<Path> candidates;

  /** @param candidates nvcc binaries to try, in order; the first that exists is used */
  NvccCompiler(List<Path> candidates) {
    this.candidates = List.copyOf(candidates);
  }

  /** $CUDA_HOME/bin/nvcc, $CUDA_PATH/bin/nvcc, /usr/local/cuda/bin/nvcc, then every PATH entry. */
  static NvccCompiler fromEnvironment(String explicitNvcc) {
    List<Path> c = new ArrayList<>();
    if (explicitNvcc != null && !explicitNvcc.isBlank()) {
      c.add(Path.of(explicitNvcc));
    }
    for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
      String v = System.getenv(env);
      if (v != null && !v.isBlank()) {
        c.add(Path.of(v, "bin", "nvcc"));
      }
    }
    c.add(Path.of("/usr/local/cuda/bin/nvcc"));
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(":")) {
        if (!dir.isBlank()) {
          c.add(Path.of(dir, "nvcc"));
        }
      }
    }
    return new NvccCompiler(c);
  }

  @Override
  public String name() {
    return "nvcc";
  }

  /** Whether one of the candidates exists and is executable. */
  boolean compileable() {
    return candidates.stream().anyMatch(Files::isExecutable);
  }

  @Override
  public KernelImage compile(String source, int major, int minor) {
    Path nvcc = candidates.stream().filter(Files::isExecutable).findFirst()
        .orElseThrow(() -> new Unavailable("no nvcc found (looked for " + candidates.size()
            + " paths: $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin, PATH)"));
    String arch = "sm_" + major + minor;
    Path dir = null;
    try {
      dir = Files.createTempDirectory("shardopt-nvcc");
      Path src = dir.resolve("shardopt_kernels.cu");
      Path out = dir.resolve("shardopt_kernels.cubin");
      Files.writeString(src, source, StandardCharsets.UTF_8);
      List<String> cmd = new ArrayList<>(List.of(nvcc.toString(), "-cubin", "-arch=" + arch));
      cmd.addAll(List.of(CONTRACT_FLAGS));
      cmd.addAll(List.of("-o", out.toString(), src.toString()));
      Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
          .redirectOutput(dir.resolve("nvcc.log").toFile()).start();
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new Unavailable(nvcc + " did not finish in " + TIMEOUT_SECONDS + " s");
      }
      String log = Files.readString(dir.resolve("nvcc.log"), StandardCharsets.UTF_8);
      if (p.exitValue() != 0 || !Files.isRegularFile(out)) {
        throw new Unavailable(nvcc + " -arch=" + arch + " failed (exit " + p.exitValue() + "): "
            + NvrtcCompiler.firstError(log));
      }
      return new KernelImage(Files.readAllBytes(out), "nvcc " + nvcc + ", " + arch);
    } catch (IOException e) {
      throw new Unavailable("cannot run " + nvcc + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Unavailable("interrupted while " + nvcc + " ran");
    } finally {
      deleteQuietly(dir);
    }
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // a temporary directory left behind is harmless
    }
  }
}
