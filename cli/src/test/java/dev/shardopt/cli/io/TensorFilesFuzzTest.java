package dev.shardopt.cli.io;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the cli's NPY/NPZ reader, {@link TensorFiles#read}, on arbitrary file bytes: the first
 * byte's low bit picks {@code .npy} or {@code .npz}, the rest is the file (seeds under
 * {@code TensorFilesFuzzTestInputs/read}: numpy-written files). Invariants: tensors or
 * {@link TensorFileException}, nothing else; no allocation larger than the data the file holds, so
 * that a header claiming two billion elements in a 100-byte file is refused without a 8 GiB array
 * (the campaign's 256 MiB heap turns one into an OutOfMemoryError); accepted tensors write and read
 * back bitwise equal.
 */
class TensorFilesFuzzTest {
  static Path dir;

  @BeforeAll
  static void tempDir() throws IOException {
    dir = Files.createTempDirectory("npy-fuzz");
  }

  @AfterAll
  static void removeIt() throws IOException {
    try (var paths = Files.list(dir)) {
      for (Path p : paths.toList()) {
        Files.delete(p);
      }
    }
    Files.delete(dir);
  }

  @FuzzTest(maxDuration = "8s")
  void read(byte[] input) throws IOException {
    if (input.length == 0) {
      return;
    }
    Path file = dir.resolve((input[0] & 1) == 0 ? "t.npy" : "t.npz");
    Files.write(file, java.util.Arrays.copyOfRange(input, 1, input.length));
    LinkedHashMap<String, Tensor> tensors;
    try {
      tensors = TensorFiles.read(file);
    } catch (TensorFileException e) {
      assertThat(e.getMessage()).isNotBlank();
      return;
    }
    if (file.toString().endsWith(".npy")) {
      // an .npy's data is stored, not compressed: no tensor can be larger than the file
      assertThat((long) tensors.get(TensorFiles.NPY_NAME).data().length * 4).isLessThanOrEqualTo(input.length);
    }
    if (file.toString().endsWith(".npz") && !tensors.isEmpty()) {
      Path copy = dir.resolve("copy.npz");
      TensorFiles.write(copy, tensors);
      Map<String, Tensor> back = TensorFiles.read(copy);
      assertThat(back.keySet()).containsExactlyElementsOf(tensors.keySet());
      tensors.forEach((name, t) -> {
        assertThat(back.get(name).shape()).isEqualTo(t.shape());
        assertThat(bits(back.get(name).data())).isEqualTo(bits(t.data()));
      });
    }
  }

  private static int[] bits(float[] v) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Float.floatToRawIntBits(v[i]);
    }
    return out;
  }
}
