package dev.shardopt.cli.io;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.checkpoint.NpyHeader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One test per input the fuzzers found in the cli's tensor files (docs/fuzzing.md lists them). */
class NpyFuzzFindingsTest {

  @TempDir Path dir;

  @Test
  void npyHeaderClaiming2147483639ElementsWith8DataBytesIsTruncatedNotAn8GiBArray() throws Exception {
    // The reader allocated float[n] from the header's shape before reading any data: 8 GiB for a
    // 136-byte file, an OutOfMemoryError under any heap smaller than that.
    long n = TensorFiles.MAX_ELEMENTS;
    byte[] header = NpyHeader.encode(new long[] {n});
    byte[] file = new byte[header.length + 8];
    System.arraycopy(header, 0, file, 0, header.length);
    Path npy = dir.resolve("claims-2g.npy");
    Files.write(npy, file);
    assertThatThrownBy(() -> TensorFiles.read(npy))
        .isInstanceOf(TensorFileException.class)
        .hasMessageContaining("truncated data: expected " + (n * 4) + " bytes of data for shape [" + n + "], got 8");
  }
}
