package dev.shardopt.worker.store;

import dev.shardopt.rpc.ApiException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Exactly-once pushes: which (trainer, step) pairs were received, with their checksums, and the
 * push counters. A trainer's pushes are received in order, so what it has sent is the range
 * [0, next). Checksums are kept for its last {@code retained} steps; a retry of an older one is
 * acknowledged as a duplicate without the comparison, as is one of a step before the trainer's
 * start (received before the checkpoint this model was restored from).
 */
final class PushLedger {
  enum Seen {
    NEW,
    DUPLICATE
  }

  private final String model;
  private final long[] start;
  private final long[] next;
  private final long[][] checksums;
  private final AtomicLong received = new AtomicLong();
  private final AtomicLong duplicates = new AtomicLong();

  PushLedger(String model, int trainers, int retained) {
    this(model, trainers, retained, 0);
  }

  /** @param start every trainer's steps before it count as received (a restored SYNC model's next step) */
  PushLedger(String model, int trainers, int retained, long start) {
    this(model, retained, filled(trainers, start));
  }

  /**
   * @param start per trainer, its steps before it count as received (a restored ASYNC model's
   *     next push of each trainer)
   */
  PushLedger(String model, int retained, long[] start) {
    this.model = model;
    this.start = start.clone();
    this.next = start.clone();
    this.checksums = new long[start.length][retained];
  }

  private static long[] filled(int trainers, long value) {
    long[] a = new long[trainers];
    Arrays.fill(a, value);
    return a;
  }

  /**
   * Whether {@code (trainer, step)} was received already.
   *
   * @throws ApiException ALREADY_EXISTS when it was, with another checksum
   */
  synchronized Seen seen(int trainer, long step, long checksum) {
    if (step >= next[trainer]) {
      return Seen.NEW;
    }
    long[] ring = checksums[trainer];
    if (step >= start[trainer] && next[trainer] - step <= ring.length && ring[(int) (step % ring.length)] != checksum) {
      throw ApiException.alreadyExists("trainer " + trainer + "'s push of step " + step + " of " + model
          + " was already received with other data; a retry must resend the same gradient, chunked the same way");
    }
    return Seen.DUPLICATE;
  }

  /** Records the push; {@code step} is the trainer's next one. */
  synchronized void record(int trainer, long step, long checksum) {
    if (step != next[trainer]) {
      throw new IllegalStateException("trainer " + trainer + " recorded step " + step + " but is at " + next[trainer]);
    }
    checksums[trainer][(int) (step % checksums[trainer].length)] = checksum;
    next[trainer]++;
  }

  /** The trainer's next step: every earlier one was received. */
  synchronized long next(int trainer) {
    return next[trainer];
  }

  /** Every trainer's next step, by trainer. */
  synchronized long[] nexts() {
    return next.clone();
  }

  /** The slowest trainer's next step. */
  synchronized long slowest() {
    long m = Long.MAX_VALUE;
    for (long n : next) {
      m = Math.min(m, n);
    }
    return m;
  }

  void countReceived() {
    received.incrementAndGet();
  }

  void countDuplicate() {
    duplicates.incrementAndGet();
  }

  long received() {
    return received.get();
  }

  long duplicates() {
    return duplicates.get();
  }
}
