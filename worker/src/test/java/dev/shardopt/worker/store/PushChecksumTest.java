package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
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
}
