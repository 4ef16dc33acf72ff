package dev.shardopt.client;

import dev.shardopt.rpc.wire.FloatChunk;
import dev.shardopt.rpc.wire.Outbound;
import dev.shardopt.rpc.wire.Received;
import dev.shardopt.rpc.wire.WorkerWire;
import dev.shardopt.v1.PullRequest;
import dev.shardopt.v1.ShardStart;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.PushResponse;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.v1.WriteParametersResponse;
import io.grpc.Context;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The data-plane calls of a trainer, each sent to every worker of a shard map in parallel:
 * {@link #push} (with its bounded retry), {@link #pull} and {@link #upload}.
 *
 * <p>Every worker's stream has the deadline {@link ClientOptions#rpcDeadline()}. The calls of one
 * operation run in one cancellable gRPC context: when one worker's pull fails, or the calling
 * thread is interrupted, the others are cancelled.
 */
final class WorkerCalls {
  private static final Logger log = LoggerFactory.getLogger(WorkerCalls.class);
  /** How often a call to a replicated model's worker that has not answered checks the shard map. */
  private static final Duration MOVED_POLL = Duration.ofSeconds(1);
  private static final Duration MAX_BACKOFF = Duration.ofSeconds(1);

  /**
   * Pulls that find the workers at different steps (ASYNC: pushes keep landing) are completed this
   * often in all: each time only the workers behind are pulled again, at the step of the one ahead.
   */
  static final int PULL_ATTEMPTS = 8;

  private final ChannelPool channels;
  private final ClientOptions options;
  /** The data-plane methods: chunks written from the floats, pulled chunks decoded from gRPC's buffers. */
  private final WorkerWire wire = new WorkerWire();
  private final MethodDescriptor<Outbound<PushRequest>, PushResponse> pushMethod = wire.pushClient();
  private final MethodDescriptor<Outbound<TensorChunk>, WriteParametersResponse> writeMethod = wire.writeParametersClient();
  private final MethodDescriptor<PullRequest, Received<PullResponse>> pullMethod = wire.pullClient();

  WorkerCalls(ChannelPool channels, ClientOptions options) {
    this.channels = channels;
    this.options = options;
  }

  /** Pulled messages whose gRPC buffers are not released yet (0 between pulls). */
  int wireBuffersHeld() {
    return wire.held();
  }

  /** Pulled messages parsed over gRPC's buffers without a copy. */
  long aliasedParses() {
    return wire.aliasedParses();
  }

  private WorkerGrpc.WorkerStub stub(String address) {
    return WorkerGrpc.newStub(channels.get(address))
        .withDeadlineAfter(options.rpcDeadline().toMillis(), TimeUnit.MILLISECONDS);
  }

  // ------------------------------------------------------------------------------------ push

  /**
   * Pushes {@code gradient} (checked by the caller to hold every tensor of the layout) to every
   * worker: a header message, then the chunks of exactly that worker's shards.
   *
   * <p>Retry: a worker that answers UNAVAILABLE (it could not be reached, or went away mid-stream)
   * is sent the whole push again, up to {@link ClientOptions#pushAttempts()} attempts in all, after
   * {@link ClientOptions#retryBackoff()}, doubling. This is safe because pushes are idempotent per
   * (model, trainer, step): a worker that had already received it answers {@code duplicate} and
   * applies nothing. Workers that acknowledged are not sent it again. Any other error fails the push
   * at once (after the other workers' answers are in).
   */
  PushResult push(ShardLayout layout, PushHeader header, Map<String, float[]> gradient) {
    return push(layout, header, gradient, () -> layout);
  }

  /**
   * As {@link #push(ShardLayout, PushHeader, Map)}; of a replicated model, the push goes to every
   * copy of every shard, and a worker that does not answer (UNAVAILABLE, or no answer for a second)
   * is tried again, reading the shard map with {@code reread} each time, for up to {@link
   * ClientOptions#failoverWait()}: once the coordinator has declared it dead, the map's newer epoch
   * no longer lists it, and the push is complete when every copy the new map lists has it.
   */
  PushResult push(ShardLayout first, PushHeader header, Map<String, float[]> gradient,
      Supplier<ShardLayout> reread) {
    ShardLayout layout = first;
    List<ShardLayout.WorkerShards> pending = layout.workers();
    Map<String, PushResponse> answers = new LinkedHashMap<>();
    Duration backoff = options.retryBackoff();
    long giveUp = System.nanoTime() + options.failoverWait().toNanos();
    for (int attempt = 1; ; attempt++) {
      Map<ShardLayout.WorkerShards, CompletableFuture<PushResponse>> calls = new LinkedHashMap<>();
      List<ShardLayout.WorkerShards> targets = pending;
      // Tagged with the map it is sent by: a worker that took a newer epoch (a copy of its shards
      // was added) refuses it with UNAVAILABLE, and the push goes to the copies the new map lists.
      PushHeader tagged = header.toBuilder().setEpoch(layout.epoch()).build();
      Context.CancellableContext ctx = Context.current().withCancellation();
      try {
        ctx.run(() -> {
          for (ShardLayout.WorkerShards w : targets) {
            calls.put(w, sendPush(w, tagged, gradient));
          }
        });
        List<ShardLayout.WorkerShards> retry = new ArrayList<>();
        List<ShardoptException> retryable = new ArrayList<>();
        ShardoptException failure = null;
        boolean moved = false;
        boolean replicated = layout.replicated();
        boolean mayRetry = attempt < options.pushAttempts() || (replicated && System.nanoTime() < giveUp);
        for (Map.Entry<ShardLayout.WorkerShards, CompletableFuture<PushResponse>> e : calls.entrySet()) {
          String address = e.getKey().address();
          String what = "push of step " + header.getStep() + " (trainer " + header.getTrainer()
              + ", " + header.getModel() + ") to worker " + address;
          try {
            PushResponse r = replicated ? awaitOrMoved(e.getValue(), address, layout, reread) : await(e.getValue());
            if (r == null) {
              moved = true; // its shards moved to their backups: the new map says where
              continue;
            }
            if (r.getStep() != header.getStep()) {
              throw new ShardoptException(Status.Code.INTERNAL, address,
                  what + " was acknowledged for step " + r.getStep(), "", null);
            }
            answers.put(address, r);
          } catch (ShardoptException | ExecutionException ex) {
            Throwable cause = ex instanceof ExecutionException ? ex.getCause() : ex;
            Status s = ShardoptException.statusOf(cause);
            if (s != null && retryable(s.getCode(), replicated) && mayRetry) {
              log.warn("{} failed (attempt {}): {}; sending it again in {} ms", what, attempt, s, backoff.toMillis());
              retry.add(e.getKey());
              retryable.add(ShardoptException.of(cause, what, address));
            } else {
              ShardoptException se = ShardoptException.of(cause, what, address);
              if (failure == null) {
                failure = se;
              } else {
                failure.addSuppressed(se);
              }
            }
          }
        }
        if (failure != null) {
          retryable.forEach(failure::addSuppressed); // not retried: the push has failed anyway
          throw failure;
        }
        if (replicated && (moved || !retry.isEmpty())) {
          ShardLayout newer = reread.get();
          if (newer.epoch() > layout.epoch()) {
            log.info("push of step {} (trainer {}, {}): the shard map moved to epoch {}; sending it to the copies it"
                + " lists that have not acknowledged it", header.getStep(), header.getTrainer(), header.getModel(),
                newer.epoch());
            layout = newer;
            pending = newer.workers().stream().filter(w -> !answers.containsKey(w.address())).toList();
            if (pending.isEmpty()) {
              break;
            }
            continue;
          }
        }
        if (retry.isEmpty()) {
          break;
        }
        sleep(backoff);
        backoff = min(backoff.multipliedBy(2), MAX_BACKOFF);
        pending = retry;
      } finally {
        ctx.cancel(null);
      }
    }
    boolean duplicate = answers.values().stream().allMatch(PushResponse::getDuplicate);
    return new PushResult(header.getStep(), duplicate);
  }

  /** Whether a call that failed with {@code code} is tried again: a replicated model's also when it got no answer. */
  private static boolean retryable(Status.Code code, boolean replicated) {
    return code == Status.Code.UNAVAILABLE || (replicated && code == Status.Code.DEADLINE_EXCEEDED);
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /**
   * Waits for {@code f} in slices of {@link #MOVED_POLL}; after each slice without an answer, reads the
   * shard map: null when a newer epoch no longer lists {@code address} (the worker was declared dead),
   * the answer otherwise.
   */
  private <T> T awaitOrMoved(CompletableFuture<T> f, String address, ShardLayout layout,
      Supplier<ShardLayout> reread) throws ExecutionException {
    long end = System.nanoTime() + options.rpcDeadline().toNanos() + 10_000_000_000L;
    while (true) {
      try {
        return f.get(MOVED_POLL.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ShardoptException(Status.Code.CANCELLED, null, "interrupted", "", e);
      } catch (TimeoutException e) {
        ShardLayout newer = reread.get();
        if (newer.epoch() > layout.epoch() && newer.workers().stream().noneMatch(w -> w.address().equals(address))) {
          return null;
        }
        if (System.nanoTime() > end) {
          throw new ShardoptException(Status.Code.DEADLINE_EXCEEDED, null, "no answer from " + address, "", e);
        }
      }
    }
  }

  private CompletableFuture<PushResponse> sendPush(
      ShardLayout.WorkerShards w, PushHeader header, Map<String, float[]> gradient) {
    List<ChunkPlan.Span> spans = ChunkPlan.spans(w.shards(), options.chunkElements(), null);
    Iterator<FloatChunk> chunks = ChunkPlan.floatChunks(spans, gradient);
    Iterator<Outbound<PushRequest>> messages = prepend(
        Outbound.message(PushRequest.newBuilder().setHeader(header).build()), chunks, Outbound::pushChunk);
    WorkerGrpc.WorkerStub stub = stub(w.address());
    return ClientStreamSender.send(
        response -> ClientCalls.asyncClientStreamingCall(stub.getChannel().newCall(pushMethod, stub.getCallOptions()),
            response), messages);
  }

  // ------------------------------------------------------------------------------------ upload

  /**
   * Writes the initial values of the tensors in {@code values} to the workers that hold their
   * shards, with {@code Worker.WriteParameters}: a stream of chunks, the first naming the model.
   * Not retried.
   */
  void upload(ShardLayout layout, String model, Map<String, float[]> values) {
    Set<String> only = values.keySet();
    Map<String, CompletableFuture<WriteParametersResponse>> calls = new LinkedHashMap<>();
    Context.CancellableContext ctx = Context.current().withCancellation();
    try {
      ctx.run(() -> {
        for (ShardLayout.WorkerShards w : layout.workers()) {
          List<ChunkPlan.Span> spans = ChunkPlan.spans(w.shards(), options.chunkElements(), only);
          if (spans.isEmpty()) {
            continue;
          }
          Iterator<FloatChunk> chunks = ChunkPlan.floatChunks(spans, values);
          Outbound<TensorChunk> first = Outbound.tensorChunk(chunks.next().withModel(model));
          WorkerGrpc.WorkerStub stub = stub(w.address());
          calls.put(w.address(), ClientStreamSender.send(
              response -> ClientCalls.asyncClientStreamingCall(
                  stub.getChannel().newCall(writeMethod, stub.getCallOptions()), response),
              prepend(first, chunks, Outbound::tensorChunk)));
        }
      });
      ShardoptException failure = null;
      for (Map.Entry<String, CompletableFuture<WriteParametersResponse>> e : calls.entrySet()) {
        try {
          await(e.getValue());
        } catch (ShardoptException | ExecutionException ex) {
          Throwable cause = ex instanceof ExecutionException ? ex.getCause() : ex;
          ShardoptException se = ShardoptException.of(cause,
              "upload of the initial values of " + model + " to worker " + e.getKey(), e.getKey());
          if (failure == null) {
            failure = se;
            ctx.cancel(se);
          } else {
            failure.addSuppressed(se);
          }
        }
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      ctx.cancel(null);
    }
  }

  // ------------------------------------------------------------------------------------ pull

  /**
   * Pulls every worker's shards of {@code model} at {@code minStep} or later and assembles them.
   * When the workers answer with different steps (one has applied a step the others have not yet),
   * pulls the workers that are behind again, with {@code min_step} the highest step seen (a worker
   * waiting for that step answers as it reaches it), keeping the others' answers; up to {@value
   * #PULL_ATTEMPTS} attempts in all, then fails with ABORTED.
   */
  PulledParameters pull(ShardLayout layout, String model, long minStep) {
    return pull(layout, model, minStep, () -> layout);
  }

  /**
   * As {@link #pull(ShardLayout, String, long)}; of a replicated model, each shard is read from its
   * primary, and a pull that a primary does not answer is tried again, reading the shard map with
   * {@code reread}, for up to {@link ClientOptions#failoverWait()}: a newer map names the promoted
   * backup.
   */
  PulledParameters pull(ShardLayout first, String model, long minStep, Supplier<ShardLayout> reread) {
    return pull(first, model, minStep, reread, null);
  }

  /**
   * As {@link #pull(ShardLayout, String, long, Supplier)}, assembled into {@code into}'s arrays
   * (checked by the caller: every tensor, each of its element count) when not null.
   */
  PulledParameters pull(ShardLayout first, String model, long minStep, Supplier<ShardLayout> reread,
      Map<String, float[]> into) {
    ShardLayout layout = first;
    long min = minStep;
    long giveUp = System.nanoTime() + options.failoverWait().toNanos();
    Duration backoff = options.retryBackoff();
    PullAssembler assembler = null;
    Set<String> behind = null; // null: every worker
    for (int attempt = 1; ; attempt++) {
      if (behind == null) {
        assembler = new PullAssembler(layout.tensors(), into);
      }
      try {
        pullOnce(layout, model, min, assembler, reread, behind);
      } catch (ShardoptException e) {
        behind = null; // a failover pulls everything again, from the copies the map lists
        if (!layout.replicated() || !retryable(e.code(), true) || System.nanoTime() > giveUp) {
          throw e;
        }
        ShardLayout newer = reread.get();
        if (newer.epoch() > layout.epoch()) {
          log.info("pull of {}: the shard map moved to epoch {}; pulling from the copies it lists", model,
              newer.epoch());
          layout = newer;
        } else {
          log.warn("pull of {} failed: {}; trying again in {} ms", model, e.getMessage(), backoff.toMillis());
          sleep(backoff);
          backoff = min(backoff.multipliedBy(2), MAX_BACKOFF);
        }
        attempt--; // a failover is not one of the PULL_ATTEMPTS for mixed steps
        continue;
      }
      try {
        return assembler.finish();
      } catch (ShardoptException e) {
        if (e.code() != Status.Code.ABORTED || attempt >= PULL_ATTEMPTS) {
          throw e;
        }
        long max = assembler.steps().values().stream().mapToLong(Long::longValue).max().orElse(min);
        log.debug("pull of {}: {}; pulling the workers behind again at step {}", model, assembler.describeSteps(), max);
        behind = new TreeSet<>();
        for (Map.Entry<String, Long> w : assembler.steps().entrySet()) {
          if (w.getValue() < max) {
            behind.add(w.getKey());
          }
        }
        behind.forEach(assembler::forget);
        min = Math.max(min, max);
      }
    }
  }

  /** Pulls from every pull source of {@code layout}, or from those in {@code only} when it is not null. */
  private void pullOnce(ShardLayout layout, String model, long minStep, PullAssembler assembler,
      Supplier<ShardLayout> reread, Set<String> only) {
    Map<String, CompletableFuture<Void>> calls = new LinkedHashMap<>();
    Context.CancellableContext ctx = Context.current().withCancellation();
    try {
      ctx.run(() -> {
        for (ShardLayout.WorkerShards w : layout.pullSources()) {
          if (only != null && !only.contains(w.address())) {
            continue;
          }
          PullRequest.Builder request = PullRequest.newBuilder().setModel(model).setMinStep(minStep);
          if (layout.replicated()) { // the worker holds backups too: name the primaries wanted
            for (Shard s : w.shards()) {
              request.addShards(ShardStart.newBuilder().setTensorIndex(s.getTensorIndex()).setOffset(s.getOffset()));
            }
          }
          PullObserver observer = new PullObserver(w.address(), assembler);
          WorkerGrpc.WorkerStub stub = stub(w.address());
          ClientCalls.asyncServerStreamingCall(stub.getChannel().newCall(pullMethod, stub.getCallOptions()),
              request.build(), observer);
          calls.put(w.address(), observer.done);
        }
      });
      ShardoptException failure = null;
      for (Map.Entry<String, CompletableFuture<Void>> e : calls.entrySet()) {
        try {
          if (layout.replicated()) {
            // a pull's stream ends with no value: TRUE marks its end, so that null means only "moved"
            if (awaitOrMoved(e.getValue().thenApply(done -> Boolean.TRUE), e.getKey(), layout, reread) == null) {
              throw new ShardoptException(Status.Code.UNAVAILABLE, e.getKey(), "worker " + e.getKey()
                  + " was declared dead; its shards moved to their backups", "", null);
            }
          } else {
            await(e.getValue());
          }
        } catch (ShardoptException | ExecutionException ex) {
          Throwable cause = ex instanceof ExecutionException ? ex.getCause() : ex;
          ShardoptException se = ShardoptException.of(cause,
              "pull of " + model + " at step " + minStep + " from worker " + e.getKey(), e.getKey());
          if (failure == null) {
            failure = se;
            ctx.cancel(se); // no use waiting for the others
          } else if (se.code() != Status.Code.CANCELLED) {
            failure.addSuppressed(se);
          }
        }
      }
      if (failure != null) {
        throw failure;
      }
    } finally {
      ctx.cancel(null);
    }
  }

  /**
   * Feeds one worker's pull stream into the assembler; cancels the call if a chunk is refused. Each
   * message's gRPC buffers are released once it is decoded, or at once when the pull has already
   * ended.
   */
  private static final class PullObserver implements ClientResponseObserver<PullRequest, Received<PullResponse>> {
    final CompletableFuture<Void> done = new CompletableFuture<>();
    private final String address;
    private final PullAssembler assembler;
    private ClientCallStreamObserver<PullRequest> call;

    PullObserver(String address, PullAssembler assembler) {
      this.address = address;
      this.assembler = assembler;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<PullRequest> requestStream) {
      this.call = requestStream;
    }

    @Override
    public void onNext(Received<PullResponse> value) {
      try (value) {
        if (done.isDone()) {
          return;
        }
        assembler.accept(address, value.message(), value.data(), value.dataSize());
      } catch (RuntimeException e) {
        done.completeExceptionally(e);
        call.cancel("the client refused a chunk", e);
      }
    }

    @Override
    public void onError(Throwable t) {
      done.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
      done.complete(null);
    }
  }

  // ------------------------------------------------------------------------------------ helpers

  /**
   * Waits for {@code f}. Each call has its own gRPC deadline, so this only guards against a call
   * that never ends; an interrupt cancels the operation's calls (through the caller's context).
   */
  private <T> T await(CompletableFuture<T> f) throws ExecutionException {
    long waitMillis = options.rpcDeadline().toMillis() + 10_000;
    try {
      return f.get(waitMillis, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardoptException(Status.Code.CANCELLED, null, "interrupted", "", e);
    } catch (TimeoutException e) {
      throw new ShardoptException(Status.Code.DEADLINE_EXCEEDED, null,
          "no answer within " + waitMillis + " ms", "", e);
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ShardoptException(Status.Code.CANCELLED, null, "interrupted while waiting to retry",
          "", e);
    }
  }

  /** {@code first}, then {@code rest} mapped by {@code f}, lazily. */
  static <A, B> Iterator<B> prepend(B first, Iterator<A> rest, Function<A, B> f) {
    return new Iterator<>() {
      boolean firstTaken;

      @Override
      public boolean hasNext() {
        return !firstTaken || rest.hasNext();
      }

      @Override
      public B next() {
        if (!firstTaken) {
          firstTaken = true;
          return first;
        }
        if (!rest.hasNext()) {
          throw new NoSuchElementException();
        }
        return f.apply(rest.next());
      }
    };
  }
}
