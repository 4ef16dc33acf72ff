package dev.shardopt.device.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The last resort for a machine with neither NVRTC nor nvcc: a fatbin that {@code
 * scripts/gpu-check.sh --build} compiled elsewhere with nvcc from the same source and flags (SASS for
 * the listed architectures plus PTX). It is used only if the file next to it, {@code <image>.sha256},
 * holds the SHA-256 of exactly the CUDA text this engine would compile: a stale image is refused.
 */
final class PrebuiltKernelImage implements KernelCompiler {
  private final Path image;

  /** @param image the fatbin or cubin; null when none was given */
  PrebuiltKernelImage(Path image) {
    this.image = image;
  }

  @Override
  public String name() {
    return "prebuilt";
  }

  @Override
  public KernelImage compile(String source, int major, int minor) {
    if (image == null) {
      throw new Unavailable("no prebuilt kernel image given (-D" + CudaOptions.KERNEL_IMAGE + "=FILE)");
    }
    Path digestFile = image.resolveSibling(image.getFileName() + ".sha256");
    try {
      String recorded = Files.readString(digestFile, StandardCharsets.US_ASCII).trim().split("\\s+")[0];
      String actual = sha256(source);
      if (!recorded.equalsIgnoreCase(actual)) {
        throw new Unavailable("the prebuilt kernel image " + image + " was built from another kernel"
            + " source (sha256 " + recorded + ", this engine's is " + actual + ")");
      }
      return new KernelImage(Files.readAllBytes(image), "prebuilt " + image + " (nvcc elsewhere; SASS or"
          + " PTX chosen by the driver for sm_" + major + minor + ")");
    } catch (IOException e) {
      throw new Unavailable("cannot read the prebuilt kernel image: " + e);
    }
  }

  /** Hex SHA-256 of the UTF-8 bytes of {@code text}: what {@code sha256sum} prints for that file. */
  static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
