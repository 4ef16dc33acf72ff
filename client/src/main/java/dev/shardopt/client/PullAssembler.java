package dev.shardopt.client;

import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.TensorChunk;
import io.grpc.Status;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Assembles the chunks of a pull, from any number of workers in any order, into one float[] per
 * tensor. Checks each chunk as it arrives (known tensor, whole floats, in range, no overlap with an
 * earlier chunk, the same step as the worker's earlier messages) and at {@link #finish} that every
 * element was covered exactly once and every worker answered with the same step. Thread-safe:
 * chunks from different workers may arrive concurrently; the bookkeeping is serialized and the
 * decoding, into disjoint ranges, is not.
 */
final class PullAssembler {
  private final List<TensorInfo> tensors;
  private final Map<String, Integer> index = new LinkedHashMap<>();
  private final float[][] values;
  private final Coverage[] coverage;
  /** Worker address -> the step its messages carry. Guarded by this. */
  private final Map<String, Long> steps = new TreeMap<>();

  PullAssembler(List<TensorInfo> tensors) {
    this(tensors, null);
  }

  /**
   * Assembles into {@code into}'s arrays (by tensor name, each of the tensor's element count,
   * checked by the caller) when not null, instead of fresh ones: a trainer that keeps its
   * parameters pulls without allocating (fresh 64 MiB arrays cost page faults on every pull).
   */
  PullAssembler(List<TensorInfo> tensors, Map<String, float[]> into) {
    this.tensors = tensors;
    this.values = new float[tensors.size()][];
    this.coverage = new Coverage[tensors.size()];
    for (int i = 0; i < tensors.size(); i++) {
      TensorInfo t = tensors.get(i);
      index.put(t.name(), i);
      values[i] = into == null ? new float[t.elements()] : into.get(t.name());
      coverage[i] = new Coverage(t.name(), t.elements());
    }
  }

  /**
   * Takes one message of {@code worker}'s pull stream.
   *
   * @throws ShardoptException (INTERNAL) when the chunk cannot be accepted
   */
  void accept(String worker, PullResponse response) {
    accept(worker, response, response.getChunk().getData().asReadOnlyByteBufferList(), response.getChunk().getData().size());
  }

  /**
   * As {@link #accept(String, PullResponse)}, the chunk's data apart ({@code dataSize} bytes in
   * {@code data}, e.g. views of gRPC's receive buffers: see {@code Received}); decoded before this returns.
   */
  void accept(String worker, PullResponse response, List<java.nio.ByteBuffer> data, int dataSize) {
    TensorChunk c = response.getChunk();
    Integer i = index.get(c.getTensor());
    if (i == null) {
      throw invalid("worker " + worker + " returned tensor '" + c.getTensor()
          + "', which the model does not have; its tensors are " + index.keySet());
    }
    int count = TensorBytes.floatCount(dataSize);
    if (count < 0) {
      throw invalid("worker " + worker + " returned " + dataSize
          + " bytes for tensor '" + c.getTensor() + "' at offset " + c.getOffset()
          + ", not a whole number of float32 values");
    }
    synchronized (this) {
      Long previous = steps.putIfAbsent(worker, response.getStep());
      if (previous != null && previous != response.getStep()) {
        throw invalid("worker " + worker + " returned chunks of step " + previous + " and of step "
            + response.getStep() + " in one pull");
      }
      String err = coverage[i].add(c.getOffset(), count, "worker " + worker);
      if (err != null) {
        throw invalid(err);
      }
    }
    // The range is now this chunk's alone: decode outside the lock.
    TensorBytes.decode(data, values[i], (int) c.getOffset());
  }

  /**
   * Forgets {@code worker}'s answer (its step and the elements it covered), so that it can be pulled
   * again at a later step into the same arrays while the other workers' answers stay.
   */
  synchronized void forget(String worker) {
    steps.remove(worker);
    for (Coverage c : coverage) {
      c.forget("worker " + worker);
    }
  }

  /** The steps the workers answered with, by address. */
  synchronized Map<String, Long> steps() {
    return Collections.unmodifiableMap(new TreeMap<>(steps));
  }

  /** True when the workers answered with different steps. */
  synchronized boolean stepsDiffer() {
    return steps.values().stream().distinct().count() > 1;
  }

  /**
   * The assembled parameters.
   *
   * @throws ShardoptException INTERNAL when an element was not covered, ABORTED when workers
   *     answered with different steps
   */
  synchronized PulledParameters finish() {
    for (Coverage c : coverage) {
      String gap = c.firstGap();
      if (gap != null) {
        throw invalid("the pull is incomplete: " + gap);
      }
    }
    if (stepsDiffer()) {
      throw new ShardoptException(Status.Code.ABORTED,
          "the workers answered the pull with different steps: " + describeSteps());
    }
    long step = steps.values().stream().findFirst().orElse(0L);
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int i = 0; i < tensors.size(); i++) {
      out.put(tensors.get(i).name(), values[i]);
    }
    return new PulledParameters(step, Collections.unmodifiableMap(out));
  }

  synchronized String describeSteps() {
    return steps.entrySet().stream()
        .map(e -> e.getKey() + " at step " + e.getValue())
        .collect(Collectors.joining(", "));
  }

  private static ShardoptException invalid(String message) {
    return new ShardoptException(Status.Code.INTERNAL, message);
  }
}
