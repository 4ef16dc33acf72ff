package dev.shardopt.worker.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SentRangesTest {
  @Test
  void chunksInOrderAreOneRange() {
    SentRanges r = new SentRanges();
    for (int at = 0; at < 1000; at += 100) {
      assertThat(r.add(at, at + 100)).isTrue();
    }
    assertThat(r.elements()).isEqualTo(1000);
    assertThat(r.firstMissing()).isEqualTo(1000);
    assertThat(r.add(999, 1001)).as("element 999 again").isFalse();
    assertThat(r.add(0, 1)).as("element 0 again").isFalse();
    assertThat(r.elements()).as("a refused range changes nothing").isEqualTo(1000);
    assertThat(r.add(1000, 1001)).isTrue();
  }

  @Test
  void gapsAndOverlapsAreSeenWhereverTheyAre() {
    SentRanges r = new SentRanges();
    assertThat(r.firstMissing()).isZero();
    assertThat(r.add(10, 20)).isTrue();
    assertThat(r.firstMissing()).as("nothing from 0").isZero();
    assertThat(r.add(30, 40)).isTrue();
    assertThat(r.add(19, 21)).isFalse();
    assertThat(r.add(29, 31)).isFalse();
    assertThat(r.add(5, 45)).as("covers both").isFalse();
    assertThat(r.add(0, 10)).isTrue();
    assertThat(r.firstMissing()).isEqualTo(20);
    assertThat(r.add(20, 30)).as("fills the gap, joining both sides").isTrue();
    assertThat(r.firstMissing()).isEqualTo(40);
    assertThat(r.elements()).isEqualTo(40);
    assertThat(r.add(7, 7)).as("an empty range overlaps nothing").isTrue();
    assertThatThrownBy(() -> r.add(5, 4)).hasMessageContaining("[5, 4)");
  }

  /** Against a bit per element, the representation this replaces: chunks in random order, some sent twice. */
  @Test
  void agreesWithABitPerElementOnRandomChunks() {
    Random random = new Random(11);
    for (int round = 0; round < 300; round++) {
      int length = 1 + random.nextInt(5_000);
      List<int[]> chunks = new ArrayList<>();
      for (int at = 0; at < length; ) {
        int n = Math.min(length - at, 1 + random.nextInt(200));
        chunks.add(new int[] {at, at + n});
        at += n;
      }
      for (int k = random.nextInt(5); k > 0; k--) { // resent or overlapping pieces
        int from = random.nextInt(length);
        chunks.add(new int[] {from, Math.min(length, from + 1 + random.nextInt(300))});
      }
      if (random.nextBoolean()) {
        Collections.shuffle(chunks, random);
      }
      int leftOut = random.nextInt(4) == 0 ? random.nextInt(chunks.size()) : -1;
      SentRanges ranges = new SentRanges();
      BitSet bits = new BitSet(length);
      for (int c = 0; c < chunks.size(); c++) {
        if (c == leftOut) {
          continue;
        }
        int from = chunks.get(c)[0];
        int to = chunks.get(c)[1];
        int seen = bits.nextSetBit(from);
        boolean fresh = seen < 0 || seen >= to;
        assertThat(ranges.add(from, to)).as("round %d, [%d, %d)", round, from, to).isEqualTo(fresh);
        if (fresh) {
          bits.set(from, to);
        }
        assertThat(ranges.elements()).isEqualTo(bits.cardinality());
        assertThat(ranges.firstMissing()).isEqualTo(bits.nextClearBit(0));
      }
    }
  }
}
