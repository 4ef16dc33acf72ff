package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileNamesTest {

  /** Names that break naive file naming: separators, dots, unicode, control characters, escapes. */
  static final List<String> NASTY = List.of(
      "w", "a/b", "../../etc/passwd", ".", "..", "...", "a b", " lead", "trail ", "π/θ", "日本語", "emoji 😀",
      "%2E", "a%b", "%", "tab\there", "new\nline", "nul\0byte", "a.m", "a.m.v", "encoder.layer.0.weight",
      "CON", "-", "_", "ÄÖü", "back\\slash", "colon:star*?", "quote'\"", "~tilde", "\uD83D\uDE00\uD83D\uDE00");

  @Test
  void plainNamesStayReadable() {
    assertThat(FileNames.fileName("w", "")).isEqualTo("w.npy");
    assertThat(FileNames.fileName("w", "m")).isEqualTo("w.m.npy");
    assertThat(FileNames.fileName("layer_0-bias", "vmax")).isEqualTo("layer_0-bias.vmax.npy");
  }

  @Test
  void dotsSlashesAndPercentAreEscapedAsUtf8Bytes() {
    assertThat(FileNames.fileName("encoder.layer.0.weight", "m")).isEqualTo("encoder%2Elayer%2E0%2Eweight.m.npy");
    assertThat(FileNames.fileName("a/b c", "")).isEqualTo("a%2Fb%20c.npy");
    assertThat(FileNames.fileName("100%", "")).isEqualTo("100%25.npy");
    assertThat(FileNames.fileName("π", "")).isEqualTo("%CF%80.npy");
  }

  @Test
  void aTensorsSlotAndADottedTensorNeverCollide() {
    assertThat(FileNames.fileName("a.m", "")).isNotEqualTo(FileNames.fileName("a", "m"));
    assertThat(FileNames.fileName("a", "m.v")).isNotEqualTo(FileNames.fileName("a.m", "v"));
  }

  @Test
  void nastyNamesRoundTripAndAreSafeUniqueFileNames(@TempDir Path dir) throws Exception {
    Set<String> seen = new HashSet<>();
    for (String tensor : NASTY) {
      for (String slot : List.of("", "m", "v", "a.b", "π")) {
        String name = FileNames.fileName(tensor, slot);
        assertThat(name).matches("[A-Za-z0-9_%.-]+").endsWith(".npy").doesNotStartWith(".");
        assertThat(name.chars().filter(c -> c == '.').count()).isEqualTo(slot.isEmpty() ? 1 : 2);
        assertThat(seen.add(name)).as("unique: %s", name).isTrue();
        assertThat(FileNames.parse(name)).contains(new FileNames.TensorSlot(tensor, slot));
        // A real file of that name can be made in the directory, and only there.
        Path p = dir.resolve(name);
        Files.write(p, new byte[] {1});
        assertThat(p.getParent()).isEqualTo(dir);
      }
    }
    try (var s = Files.list(dir)) {
      assertThat(s.count()).isEqualTo(seen.size());
    }
  }

  @Test
  void escapingIsPythonsUnquote() {
    // urllib.parse.unquote decodes %XX as UTF-8: the bytes are the name's UTF-8.
    String escaped = FileNames.escape("日本.語 😀");
    assertThat(escaped).isEqualTo("%E6%97%A5%E6%9C%AC%2E%E8%AA%9E%20%F0%9F%98%80");
    assertThat(FileNames.unescape(escaped)).contains("日本.語 😀");
  }

  @Test
  void unescapeRefusesEveryNonCanonicalForm() {
    for (String bad : List.of("%2e", "%41", "a b", "%G1", "%4", "%", "a.b", "%FF", "%C3", "~x")) {
      assertThat(FileNames.unescape(bad)).as(bad).isEmpty();
    }
    assertThat(FileNames.parse("w.npz")).isEmpty();
    assertThat(FileNames.parse(".npy")).isEmpty();
    assertThat(FileNames.parse("w..npy")).isEmpty();
    assertThat(FileNames.parse("a.b.c.npy")).isEmpty();
  }

  @Test
  void longNamesAreShortenedUnder255BytesAndStayUnique() {
    String base = "π".repeat(100); // 600 escaped characters
    String a = FileNames.fileName(base + "a", "m");
    String b = FileNames.fileName(base + "b", "m");
    String c = FileNames.fileName(base + "a", "");
    String huge = FileNames.fileName("x", "s".repeat(1000));
    for (String n : List.of(a, b, c, huge)) {
      assertThat(n.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(255);
      assertThat(n).matches("[A-Za-z0-9_%.~-]+").endsWith(".npy").contains("~");
      assertThat(n).doesNotMatch(".*%[0-9A-F]?~.*"); // no %XX escape cut in half
      assertThat(FileNames.parse(n)).isEqualTo(Optional.empty());
    }
    assertThat(Set.of(a, b, c).size()).isEqualTo(3);
    assertThat(a).startsWith("%CF%80%CF%80").endsWith(".m.npy");
  }

  @Test
  void anEmptyTensorNameIsRefused() {
    assertThatThrownBy(() -> FileNames.fileName("", "m")).isInstanceOf(IllegalArgumentException.class);
  }
}
