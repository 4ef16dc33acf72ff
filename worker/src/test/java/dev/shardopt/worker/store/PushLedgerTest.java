package dev.shardopt.worker.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.rpc.ApiException;
import io.grpc.Status;
import org.junit.jupiter.api.Test;

class PushLedgerTest {
  @Test
  void knowsEachTrainersReceivedStepsAndTheirChecksums() {
    PushLedger l = new PushLedger("models/m", 2, 4);
    assertThat(l.seen(0, 0, 11)).isEqualTo(PushLedger.Seen.NEW);
    l.record(0, 0, 11);
    l.record(0, 1, 12);
    assertThat(l.seen(0, 1, 12)).isEqualTo(PushLedger.Seen.DUPLICATE);
    assertThat(l.seen(1, 0, 99)).isEqualTo(PushLedger.Seen.NEW);
    assertThat(l.next(0)).isEqualTo(2);
    assertThat(l.slowest()).isZero();
    assertThatThrownBy(() -> l.seen(0, 0, 12))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(Status.Code.ALREADY_EXISTS))
        .hasMessage("trainer 0's push of step 0 of models/m was already received with other data; a retry must"
            + " resend the same gradient, chunked the same way");
    assertThatThrownBy(() -> l.record(0, 5, 1)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aRetryOlderThanTheRetainedChecksumsIsADuplicateWithoutComparison() {
    PushLedger l = new PushLedger("models/m", 1, 4);
    for (long s = 0; s < 6; s++) {
      l.record(0, s, 100 + s);
    }
    assertThat(l.seen(0, 1, 0)).isEqualTo(PushLedger.Seen.DUPLICATE); // step 1's checksum was overwritten by step 5's
    assertThatThrownBy(() -> l.seen(0, 2, 0)).isInstanceOf(ApiException.class);
    assertThat(l.seen(0, 2, 102)).isEqualTo(PushLedger.Seen.DUPLICATE);
  }

  @Test
  void aLedgerStartingAtARestoredStepTakesEarlierStepsAsReceived() {
    PushLedger l = new PushLedger("models/m", 2, 4, 10);
    assertThat(l.next(1)).isEqualTo(10);
    assertThat(l.slowest()).isEqualTo(10);
    // no checksum is known from before the checkpoint, so none is compared, even inside the ring's reach
    assertThat(l.seen(0, 9, 123)).isEqualTo(PushLedger.Seen.DUPLICATE);
    assertThat(l.seen(1, 0, 0)).isEqualTo(PushLedger.Seen.DUPLICATE);
    assertThat(l.seen(0, 10, 5)).isEqualTo(PushLedger.Seen.NEW);
    l.record(0, 10, 5);
    assertThatThrownBy(() -> l.seen(0, 10, 6)).isInstanceOf(ApiException.class);
    assertThatThrownBy(() -> l.record(1, 0, 1)).isInstanceOf(IllegalStateException.class);
  }
}
