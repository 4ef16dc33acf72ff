package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes {@link CheckpointReader} on a real checkpoint (the {@link Fixtures} model) whose
 * {@code manifest.json} gets a few fuzzer-chosen edits per input: a run of bytes replaced, deleted
 * or inserted, a number swapped for an extreme one, a string for arbitrary unicode. Invariants:
 * open, verify and read either succeed or throw {@link CheckpointException}, nothing else (no NPE,
 * no number or index exception, no OutOfMemoryError under the campaign's small heap); a manifest
 * that still verifies reads every file back bitwise equal to what was written.
 */
class CheckpointReaderFuzzTest {
  private static final String[] NUMBERS = {
    "-1", "0", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e308", "NaN",
    "2147483648", "4294967296", "1.5", "\"\"", "null", "[]", "{}"
  };

  static Path root;
  static Path dir;
  static String manifest;
  static Map<String, float[]> values;

  @BeforeAll
  static void writeACheckpoint() throws Exception {
    root = Files.createTempDirectory("ckpt-fuzz");
    dir = Fixtures.checkpoint(root, 50, 50);
    manifest = Files.readString(dir.resolve("manifest.json"));
    values = Fixtures.values(Fixtures.plan(), 50);
  }

  @AfterAll
  static void removeIt() throws IOException {
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @FuzzTest(maxDuration = "8s")
  void openMutatedManifest(FuzzedDataProvider data) throws IOException {
    Files.write(dir.resolve("manifest.json"), mutate(manifest, data).getBytes(StandardCharsets.UTF_8));
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      r.verify();
      for (CheckpointFile f : r.plan().files()) {
        float[] expected = values.get(f.path());
        float[] got = r.readAll(f.tensor(), f.slot());
        if (expected != null) {
          assertThat(floatBits(got)).as(f.path()).isEqualTo(floatBits(expected));
        }
      }
    } catch (CheckpointException e) {
      assertThat(e.getMessage()).isNotBlank();
    }
  }

  static String mutate(String text, FuzzedDataProvider d) {
    StringBuilder s = new StringBuilder(text);
    int edits = d.consumeInt(1, 4);
    for (int i = 0; i < edits && s.length() > 0; i++) {
      int at = d.consumeInt(0, s.length() - 1);
      int len = d.consumeInt(0, Math.min(16, s.length() - at));
      switch (d.consumeInt(0, 3)) {
        case 0 -> s.replace(at, at + len, d.consumeString(16));
        case 1 -> s.delete(at, at + len);
        case 2 -> {
          // a number token (a run of digits, '-', '.', 'e') at or after `at` becomes an extreme value
          int start = at;
          while (start < s.length() && "-0123456789".indexOf(s.charAt(start)) < 0) {
            start++;
          }
          int end = start;
          while (end < s.length() && "-0123456789.eE+".indexOf(s.charAt(end)) >= 0) {
            end++;
          }
          s.replace(start, end, NUMBERS[d.consumeInt(0, NUMBERS.length - 1)]);
        }
        default -> {
          // the string literal at or after `at` becomes arbitrary text, quotes kept
          int open = s.indexOf("\"", at);
          int close = open < 0 ? -1 : s.indexOf("\"", open + 1);
          if (close > open) {
            s.replace(open + 1, close, d.consumeString(24).replace("\\", "\\\\").replace("\"", "\\\""));
          }
        }
      }
    }
    return s.toString();
  }

  private static int[] floatBits(float[] v) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Float.floatToRawIntBits(v[i]);
    }
    return out;
  }
}
