package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;

/**
 * Fuzzes {@link NpyHeader#read} with arbitrary bytes (seeded with real headers under
 * {@code NpyHeaderFuzzTestInputs/read}). Invariants: a header or {@link NpyFormatException}, nothing
 * else; an accepted header has no negative dimension, its length is what it consumed, and
 * {@link NpyHeader#encode} of its shape reads back as the same shape.
 */
class NpyHeaderFuzzTest {

  @FuzzTest(maxDuration = "8s")
  void read(byte[] input) throws IOException, NpyFormatException {
    ByteArrayInputStream in = new ByteArrayInputStream(input);
    NpyHeader h;
    try {
      h = NpyHeader.read(in);
    } catch (NpyFormatException e) {
      assertThat(e.getMessage()).isNotBlank();
      return;
    }
    assertThat(java.util.Arrays.stream(h.shape()).min().orElse(0)).isNotNegative();
    assertThat(h.length()).isEqualTo(input.length - in.available());
    NpyHeader again = NpyHeader.read(new ByteArrayInputStream(NpyHeader.encode(h.shape())));
    assertThat(again.shape()).isEqualTo(h.shape());
  }
}
