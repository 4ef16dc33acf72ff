package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

class PushChecksumTest {
  private static long of(Object... tensorOffsetData) {
    PushChecksum c = new PushChecksum();
    for (int i = 0; i < tensorOffsetData.length; i += 3) {
      c.add((Integer) tensorOffsetData[i], (Long) tensorOffsetData[i + 1], ByteString.copyFromUtf8((String) tensorOffsetData[i + 2]));
    }
    return c.value();
  }

  @Test
  void chunkOrderDoesNotMatterButDataTensorAndOffsetDo() {
    long ab = of(0, 0L, "aaaa", 1, 0L, "bbbb");
    assertThat(of(1, 0L, "bbbb", 0, 0L, "aaaa")).isEqualTo(ab);
    assertThat(of(0, 0L, "aaab", 1, 0L, "bbbb")).isNotEqualTo(ab);
    assertThat(of(1, 0L, "aaaa", 0, 0L, "bbbb")).isNotEqualTo(ab); // data swapped between tensors
    assertThat(of(0, 4L, "aaaa", 1, 0L, "bbbb")).isNotEqualTo(ab);
    assertThat(of()).isZero();
  }

  /** SplitMix64's finalizer, written out from its published constants. */
  private static long splitMix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  @Test
  void aChunkAddsTheMixOfItsCrc32cWithItsTensorAndOffset() {
    // The value is compared across retries and may be persisted: it must not change with the code.
    byte[] data = new byte[100_003];
    new Random(3).nextBytes(data);
    CRC32C crc = new CRC32C();
    crc.update(data);
    long want = splitMix(crc.getValue() ^ splitMix((5L << 40) ^ 123_456_789L));
    PushChecksum c = new PushChecksum();
    c.add(5, 123_456_789L, ByteString.copyFrom(data));
    assertThat(c.value()).isEqualTo(want);
  }

  @Test
  void aChunkFedInPiecesAsItIsDecodedGivesTheSameValueAsTheWholeChunk() {
    byte[] data = new byte[300_001];
    Random r = new Random(4);
    r.nextBytes(data);
    PushChecksum whole = new PushChecksum();
    whole.add(2, 77L, ByteString.copyFrom(data));
    for (int round = 0; round < 20; round++) {
      List<ByteBuffer> pieces = new ArrayList<>();
      PushChecksum.Chunk fed = new PushChecksum.Chunk();
      for (int at = 0; at < data.length; ) {
        int n = Math.min(data.length - at, round % 2 == 0 ? 1 + r.nextInt(9) : 1 + r.nextInt(70_000));
        ByteBuffer piece = ByteBuffer.allocateDirect(n).put(data, at, n).flip();
        pieces.add(piece.duplicate());
        fed.update(piece);
        at += n;
      }
      PushChecksum byPieces = new PushChecksum();
      byPieces.add(2, 77L, fed);
      assertThat(byPieces.value()).isEqualTo(whole.value());
      PushChecksum asList = new PushChecksum();
      asList.add(2, 77L, pieces);
      assertThat(asList.value()).isEqualTo(whole.value());
    }
  }
}
