package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.KernelSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the exact CUDA text the backend compiles ({@link KernelSource#cuda()}) to a file, for
 * {@code scripts/gpu-check.sh --build}'s prebuilt fatbin and its SHA-256 (checked by {@link
 * PrebuiltKernelImage} before the image is used).
 */
public final class KernelSourceDump {
  private KernelSourceDump() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: KernelSourceDump OUT.cu");
      System.exit(64);
    }
    Files.writeString(Path.of(args[0]), KernelSource.cuda(), StandardCharsets.UTF_8);
  }
}
