package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DurableFilesTest {
  @TempDir
  Path dir;

  @Test
  void replaceWritesAndOverwritesAndLeavesNoTemporaryFile() throws IOException {
    Path f = dir.resolve("state");
    DurableFiles.replace(f, "one".getBytes(StandardCharsets.UTF_8));
    assertThat(Files.readString(f)).isEqualTo("one");
    DurableFiles.replace(f, "two, longer".getBytes(StandardCharsets.UTF_8));
    assertThat(Files.readString(f)).isEqualTo("two, longer");
    try (var listing = Files.list(dir)) {
      assertThat(listing).containsExactly(f);
    }
  }

  @Test
  void aFailedReplaceLeavesTheTargetAndNoTemporaryFile() throws IOException {
    // a non-empty directory where the file should go: the rename fails
    Path f = dir.resolve("state");
    Files.createDirectory(f);
    Files.writeString(f.resolve("inside"), "kept");
    assertThatThrownBy(() -> DurableFiles.replace(f, new byte[] {1, 2, 3})).isInstanceOf(IOException.class);
    assertThat(Files.readString(f.resolve("inside"))).isEqualTo("kept");
    assertThat(f.resolveSibling("state" + DurableFiles.TEMP_SUFFIX)).doesNotExist();
  }
}
