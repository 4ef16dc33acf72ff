package dev.shardopt.bench.cluster;

import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.rpc.wire.FloatChunk;
import dev.shardopt.rpc.wire.Outbound;
import dev.shardopt.rpc.wire.OutboundMarshaller;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.TensorChunk;
import dev.shardopt.v1.WorkerGrpc;
import dev.shardopt.worker.store.PushChecksum;
import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Section p: the cost, on one thread, of each per-byte step that a Shardopt push or pull adds to
 * the raw transport, for 64 MiB (16 chunks of 4 MiB), so that the gap between (b) and (a) can be
 * attributed. Which path does which step is read off the code (WorkerCalls, ChunkPlan,
 * TensorBytes, WorkerService, WorkerModel, ShardGroup, PullAssembler).
 *
 * <p>Rows p8-p12 take the worker's push receive apart: its input as gRPC's Netty transport hands it
 * over, direct buffers of at most one 16 KiB HTTP/2 frame, some only a few bytes (measured: about
 * 290 per 4 MiB message, 1 to 16,384 bytes), floats straddling two of them. Rows p13 and p14 are
 * the client's side of a push on its sending thread: a message drained through gRPC's framer into
 * pooled direct buffers as Netty's allocator gives them (1 MiB each for a message this size).
 */
final class CopyCosts {
  private CopyCosts() {}

  /** A stream gRPC would hand a marshaller: its length known. */
  private static final class KnownLengthStream extends ByteArrayInputStream implements io.grpc.KnownLength {
    KnownLengthStream(byte[] b) {
      super(b);
    }
  }

  static List<Series> measure(int warmup, int reps) throws Exception {
    int n = ClusterBenchmark.MODEL_B_ELEMENTS;
    int chunk = ClusterBenchmark.CHUNK_BYTES / Float.BYTES;
    int chunks = n / chunk;
    long bytes = ClusterBenchmark.MODEL_B_BYTES;
    float[] values = ClusterBenchmark.gradient(n, 5);
    float[] out = new float[n];
    byte[][] wire = new byte[chunks][];
    com.google.protobuf.ByteString[] encoded = new com.google.protobuf.ByteString[chunks];
    for (int c = 0; c < chunks; c++) {
      encoded[c] = TensorBytes.encode(values, c * chunk, chunk);
      wire[c] = PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
          .setOffset((long) c * chunk).setData(encoded[c])).build().toByteArray();
    }
    byte[] reused = new byte[TensorBytes.MAX_MESSAGE_BYTES];
    ExecutorService none = Executors.newSingleThreadExecutor(ClusterBenchmark.daemon("bench-p"));
    ParallelApply oneThread = new ParallelApply(none, 1);
    Object[] sink = new Object[1];

    Series encode = new Series("p1", "TensorBytes.encode, 16 × 4 MiB (allocate + copy): client push chunks, worker pull chunks", bytes);
    Series decode = new Series("p2", "TensorBytes.decode, 16 × 4 MiB (copy): worker push, client pull assembly", bytes);
    Series parse = new Series("p3", "gRPC protobuf marshaller parse of 16 PushRequest messages of 4 MiB (allocate + copy twice)", bytes);
    Series raw = new Series("p4", "raw receive of 16 messages into a reused buffer (one copy): the a1/a2 baseline's receive", bytes);
    Series alloc = new Series("p5", "new float[16,777,216] (allocate + zero): worker newGradient per push, client pull result", bytes);
    Series clone = new Series("p6", "float[16,777,216].clone(): worker pull snapshot", bytes);
    Series scan = new Series("p7", "non-finite scan of 16,777,216 floats, 1 thread: worker validate on the push path", bytes);
    List<List<ByteBuffer>> received = new ArrayList<>();
    for (int c = 0; c < chunks; c++) {
      received.add(framePieces(encoded[c], new Random(c)));
    }
    Series crc = new Series("p8", "PushChecksum CRC32C of 16 × 4 MiB in direct buffers of ≤ 16 KiB (as Netty gives them)", bytes);
    Series decodeDirect = new Series("p9", "TensorBytes.decode of those buffers (copy)", bytes);
    Series decodeScan = new Series("p10", "decode + non-finite check of each decoded run (in cache)", bytes);
    Series twoPasses = new Series("p11", "CRC32C, then decode + check: worker push receive until this row was added", bytes);
    Series fused = new Series("p12", "decode + check, each piece's CRC32C just before its decode: worker push receive", bytes);
    long[] checksums = new long[2];
    OutboundMarshaller<PushRequest> pushes = new OutboundMarshaller<>(PushRequest.getDefaultInstance());
    PushRequest[] messages = new PushRequest[chunks];
    for (int c = 0; c < chunks; c++) {
      messages[c] = PushRequest.parseFrom(wire[c]);
    }
    FramedSink framed = new FramedSink();
    // each message with gRPC's 5-byte prefix
    long framedBytes = java.util.Arrays.stream(wire).mapToLong(w -> w.length + 5L).sum();
    Series send = new Series("p13", "client push send: 16 chunks (FloatChunkStream) drained through gRPC's framer into pooled direct buffers", bytes);
    Series sendRaw = new Series("p14", "the same 16 messages pre-encoded (a `bytes` field, as a1-a4 send) through the same framer", bytes);
    List<ClusterBenchmark.Scenario> round = new ArrayList<>();
    round.add(m -> ClusterBenchmark.timed(encode, m, () -> {
      for (int c = 0; c < chunks; c++) {
        sink[0] = TensorBytes.encode(values, c * chunk, chunk);
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(decode, m, () -> {
      for (int c = 0; c < chunks; c++) {
        TensorBytes.decode(encoded[c], out, c * chunk);
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(parse, m, () -> {
      for (int c = 0; c < chunks; c++) {
        sink[0] = WorkerGrpc.getPushMethod().parseRequest(new KnownLengthStream(wire[c]));
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(raw, m, () -> {
      for (int c = 0; c < chunks; c++) {
        new KnownLengthStream(wire[c]).read(reused, 0, reused.length);
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(alloc, m, () -> {
      sink[0] = new float[n];
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(clone, m, () -> {
      sink[0] = values.clone();
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(scan, m, () -> {
      if (oneThread.firstNonFinite(values) >= 0) {
        throw new IllegalStateException("non-finite");
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(crc, m, () -> {
      PushChecksum sum = new PushChecksum();
      for (int c = 0; c < chunks; c++) {
        sum.add(0, (long) c * chunk, received.get(c));
      }
      sink[0] = sum.value();
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(decodeDirect, m, () -> {
      for (int c = 0; c < chunks; c++) {
        TensorBytes.decode(received.get(c), out, c * chunk);
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(decodeScan, m, () -> {
      for (int c = 0; c < chunks; c++) {
        decodeChecked(received.get(c), out, c * chunk, b -> { });
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(twoPasses, m, () -> {
      PushChecksum sum = new PushChecksum();
      for (int c = 0; c < chunks; c++) {
        sum.add(0, (long) c * chunk, received.get(c));
        decodeChecked(received.get(c), out, c * chunk, b -> { });
      }
      checksums[0] = sum.value();
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(fused, m, () -> {
      PushChecksum sum = new PushChecksum();
      for (int c = 0; c < chunks; c++) {
        PushChecksum.Chunk piece = new PushChecksum.Chunk();
        decodeChecked(received.get(c), out, c * chunk, piece::update);
        sum.add(0, (long) c * chunk, piece);
      }
      checksums[1] = sum.value();
      if (checksums[1] != checksums[0]) {
        throw new IllegalStateException("p12's checksum " + checksums[1] + " is not p11's " + checksums[0]);
      }
      return bytes;
    }));
    round.add(m -> ClusterBenchmark.timed(send, m, () -> {
      for (int c = 0; c < chunks; c++) {
        framed.send(pushes.stream(Outbound.pushChunk(FloatChunk.of("w", (long) c * chunk, values, c * chunk, chunk))));
      }
      return framed.moved(framedBytes, bytes);
    }));
    round.add(m -> ClusterBenchmark.timed(sendRaw, m, () -> {
      for (int c = 0; c < chunks; c++) {
        framed.send(WorkerGrpc.getPushMethod().streamRequest(messages[c]));
      }
      return framed.moved(framedBytes, bytes);
    }));
    try {
      ClusterBenchmark.rounds("(p) per-step costs", warmup, reps, round);
    } finally {
      none.shutdownNow();
    }
    sink[0] = null;
    if (!java.util.Arrays.equals(out, values)) {
      throw new IllegalStateException("the decoded floats are not the encoded ones");
    }
    return List.of(encode, decode, parse, raw, alloc, clone, scan, crc, decodeDirect, decodeScan, twoPasses, fused, send, sendRaw);
  }

  /**
   * gRPC's {@link io.grpc.internal.MessageFramer} over direct buffers from Netty's pooled allocator,
   * sized as gRPC's Netty transport sizes them (the write's or the message's length, 4 KiB to 1 MiB),
   * each released when the framer hands it on: what a client's sending thread does with a message.
   */
  private static final class FramedSink {
    private final io.grpc.netty.shaded.io.netty.buffer.ByteBufAllocator pool =
        io.grpc.netty.shaded.io.netty.buffer.PooledByteBufAllocator.DEFAULT;
    private long framed;

    void send(java.io.InputStream message) {
      io.grpc.internal.MessageFramer framer = new io.grpc.internal.MessageFramer((frame, end, flush, messages) -> {
        if (frame != null) {
          framed += frame.readableBytes();
          frame.release();
        }
      }, hint -> new Pooled(pool.directBuffer(Math.min(1 << 20, Math.max(4096, hint)))), io.grpc.internal.StatsTraceContext.NOOP);
      framer.writePayload(message);
      framer.flush();
    }

    /** {@code payload} when {@code expected} bytes were framed since the last call (else an error). */
    long moved(long expected, long payload) {
      long got = framed;
      framed = 0;
      if (got != expected) {
        throw new IllegalStateException("framed " + got + " bytes, expected " + expected);
      }
      return payload;
    }
  }

  private record Pooled(io.grpc.netty.shaded.io.netty.buffer.ByteBuf buf) implements io.grpc.internal.WritableBuffer {
    @Override
    public void write(byte[] src, int srcIndex, int length) {
      buf.writeBytes(src, srcIndex, length);
    }

    @Override
    public void write(byte b) {
      buf.writeByte(b);
    }

    @Override
    public int writableBytes() {
      return buf.writableBytes();
    }

    @Override
    public int readableBytes() {
      return buf.readableBytes();
    }

    @Override
    public void release() {
      buf.release();
    }
  }

  /** As the worker decodes a push chunk: each decoded run checked for NaN/Inf while in cache. */
  private static void decodeChecked(List<ByteBuffer> data, float[] out, int at, TensorBytes.Reading reader) {
    TensorBytes.decode(data, out, at, reader, (f, t) -> {
      if (ReductionBlocks.firstNonFinite(out, f, t) >= 0) {
        throw new IllegalStateException("non-finite at " + f);
      }
    });
  }

  /**
   * {@code data} in direct buffers as a received message's data arrives: mostly whole 16 KiB HTTP/2
   * frames, one in five cut short anywhere (the message header's bytes share a frame, reads end mid-frame).
   */
  private static List<ByteBuffer> framePieces(com.google.protobuf.ByteString data, Random random) {
    ByteBuffer all = ByteBuffer.allocateDirect(data.size());
    data.copyTo(all);
    all.flip();
    List<ByteBuffer> pieces = new ArrayList<>();
    for (int at = 0; at < data.size(); ) {
      int n = Math.min(data.size() - at, random.nextInt(5) == 0 ? 1 + random.nextInt(16_384) : 16_384);
      pieces.add(all.slice(at, n));
      at += n;
    }
    return pieces;
  }
}
