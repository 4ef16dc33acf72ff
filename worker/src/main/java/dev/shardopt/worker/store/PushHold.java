package dev.shardopt.worker.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The hold an ASYNC checkpoint puts on one model's pushes on this worker, and the cut it waits
 * for. Only the state and its transitions: {@link AsyncSteps} drives it, always under the model's
 * shards monitor, which guards every field here.
 *
 * <p>While a hold is on and its cut is not known yet, every push that would be applied is held
 * instead ({@link #defers}). Once the cut is named ({@link #cut}), pushes below it are applied as
 * usual and those at or beyond it stay held; when every trainer's next push is the cut's, the copy
 * is taken and the hold ends ({@link #end}), handing the held pushes back to be applied.
 */
final class PushHold {

  /** A push held back, the generation it was admitted under, and its caller's acknowledgement. */
  record Held(GradientPush push, PipelineTimeline.Generation at, CompletableFuture<PushAck> ack) {}

  /**
   * What a hold hands back when it ends or is replaced: the pushes to apply, and the copy's future
   * with its outcome. Both are dealt with outside the monitor (the future's dependants answer RPCs).
   */
  record Ended(List<Held> held, CompletableFuture<ShardSnapshot> copy, ShardSnapshot taken, RuntimeException failure) {
    static final Ended NOTHING = new Ended(List.of(), null, null, null);

    /** Completes the copy's future with the copy taken, or fails it. */
    void completeCopy() {
      if (copy == null) {
        return;
      }
      if (failure != null) {
        copy.completeExceptionally(failure);
      } else {
        copy.complete(taken);
      }
    }
  }

  private long number; // the hold on, or 0 for none
  private long[] cut; // null until SnapshotShards names it
  private Path dir; // where the copy is written, with the cut
  private CompletableFuture<ShardSnapshot> copy;
  private final List<Held> held = new ArrayList<>();

  /** The hold on (as {@link #start} numbered it), or 0 when none is. */
  long number() {
    return number;
  }

  /** The cut, or null while it is not known (or no hold is on). */
  long[] cut() {
    return cut;
  }

  /** Whether trainer {@code trainer}'s push {@code step} must wait: it is not known to be below the cut. */
  boolean defers(int trainer, long step) {
    return number != 0 && (cut == null || step >= cut[trainer]);
  }

  /** Holds {@code push} (see {@link #defers}); the future completes once it is applied after the hold. */
  CompletableFuture<PushAck> defer(GradientPush push, PipelineTimeline.Generation at) {
    Held h = new Held(push, at, new CompletableFuture<>());
    held.add(h);
    return h.ack();
  }

  /**
   * Starts hold {@code n}. A hold still on (its coordinator gave up, or died) is replaced: its copy
   * fails with {@code replaced}, its pushes stay held for the new one.
   */
  Ended start(long n, RuntimeException replaced) {
    Ended old = number == 0 ? Ended.NOTHING : new Ended(List.of(), copy, null, replaced);
    number = n;
    cut = null;
    dir = null;
    copy = new CompletableFuture<>();
    return old;
  }

  /**
   * Names the cut of the hold on, and the checkpoint attempt directory the copy is written into;
   * the future completes with the copy taken there.
   */
  CompletableFuture<ShardSnapshot> cut(long[] cut, Path dir) {
    this.cut = cut.clone();
    this.dir = dir;
    return copy;
  }

  /** The directory named with the cut, or null. */
  Path dir() {
    return dir;
  }

  /** Takes the held pushes below the cut out of the hold: they are to be applied now. */
  List<Held> belowCut() {
    List<Held> below = new ArrayList<>();
    held.removeIf(h -> {
      boolean free = !defers(h.push().trainer(), h.push().step());
      if (free) {
        below.add(h);
      }
      return free;
    });
    return below;
  }

  /**
   * Ends the hold on with the copy {@code taken} at the cut, or with {@code failure}; hands back
   * every held push.
   */
  Ended end(ShardSnapshot taken, RuntimeException failure) {
    Ended e = new Ended(List.copyOf(held), copy, taken, failure);
    held.clear();
    number = 0;
    cut = null;
    dir = null;
    copy = null;
    return e;
  }
}
