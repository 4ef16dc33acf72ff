package dev.shardopt.rpc.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.PullResponse;
import dev.shardopt.v1.PushHeader;
import dev.shardopt.v1.PushRequest;
import dev.shardopt.v1.TensorChunk;
import io.grpc.Drainable;
import io.grpc.KnownLength;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The zero-copy wire against protobuf's own: {@link FloatChunkStream}'s bytes equal the generated
 * message's {@code toByteArray()}, and {@link ReceivingMarshaller} parses over a chain of buffers to
 * the message {@code parseFrom} gives, aliasing the buffers until released, and fails on malformed
 * input as the generated marshaller does.
 */
class WireFormatTest {
  private static byte[] drained(InputStream s) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int n = ((Drainable) s).drainTo(out);
    assertThat(n).isEqualTo(out.size());
    return out.toByteArray();
  }

  private static byte[] read(InputStream s, int piece) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[piece];
    for (int n; (n = s.read(buf, 0, piece)) > 0; ) {
      out.write(buf, 0, n);
    }
    assertThat(s.read()).isEqualTo(-1);
    return out.toByteArray();
  }

  private static float[] values(int n, long seed) {
    Random r = new Random(seed);
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) r.nextGaussian();
    }
    return v;
  }

  /** What protobuf writes for the chunk, built the way the client built it before (TensorBytes.encode). */
  private static TensorChunk expected(FloatChunk c) {
    return TensorChunk.newBuilder().setModel(c.model()).setTensor(c.tensor()).setOffset(c.offset())
        .setData(TensorBytes.encode(c.values(), c.from(), c.count())).setSlot(c.slot()).build();
  }

  private static void assertSameBytes(FloatChunk c) throws IOException {
    byte[] push = PushRequest.newBuilder().setChunk(expected(c)).build().toByteArray();
    byte[] tensor = expected(c).toByteArray();
    OutboundMarshaller<PushRequest> pm = new OutboundMarshaller<>(PushRequest.getDefaultInstance());
    OutboundMarshaller<TensorChunk> tm = new OutboundMarshaller<>(TensorChunk.getDefaultInstance());
    InputStream s = pm.stream(Outbound.pushChunk(c));
    assertThat(((KnownLength) s).available()).isEqualTo(push.length);
    assertThat(drained(s)).isEqualTo(push);
    assertThat(s.available()).isZero();
    assertThat(read(pm.stream(Outbound.pushChunk(c)), 7)).isEqualTo(push); // not float-aligned reads
    assertThat(read(pm.stream(Outbound.pushChunk(c)), 1 << 16)).isEqualTo(push);
    assertThat(drained(tm.stream(Outbound.tensorChunk(c)))).isEqualTo(tensor);
    assertThat(read(tm.stream(Outbound.tensorChunk(c)), 3)).isEqualTo(tensor);
    // a read that stops inside a float, then a drain of the rest
    InputStream half = pm.stream(Outbound.pushChunk(c));
    byte[] first = new byte[Math.min(push.length, 13)];
    int got = half.read(first, 0, first.length);
    byte[] rest = drained(half);
    byte[] both = Arrays.copyOf(first, got + rest.length);
    System.arraycopy(rest, 0, both, got, rest.length);
    assertThat(both).isEqualTo(push);
    assertThat(pm.parse(new ByteArrayInputStream(push)).toMessage()).isEqualTo(Outbound.pushChunk(c).toMessage());
  }

  @Test
  void writerGivesProtobufsBytesForEdgeCases() throws IOException {
    float[] v = values(1000, 1);
    assertSameBytes(FloatChunk.of("w", 0, v, 0, 10)); // offset 0 is left out
    assertSameBytes(FloatChunk.of("", 5, v, 5, 10)); // empty tensor name
    assertSameBytes(FloatChunk.of("w", 7, v, 3, 0)); // no data: no data field
    assertSameBytes(FloatChunk.of("w", Long.MAX_VALUE, v, 0, 1));
    assertSameBytes(FloatChunk.of("w", -1L, v, 0, 1)); // 2^64 - 1 as uint64: a 10-byte varint
    assertSameBytes(FloatChunk.of("w", 1L << 40, v, 990, 10));
    assertSameBytes(new FloatChunk("models/m", "encoder.layer.0.weight", 3, v, 0, 1000, ""));
    assertSameBytes(new FloatChunk("models/m", "w", 3, v, 0, 100, "exp_avg_sq")); // slot after the data
    assertSameBytes(new FloatChunk("", "", 0, v, 0, 0, "")); // an empty chunk: PushRequest{chunk {}}
    assertSameBytes(new FloatChunk("", "ü名前", 1, v, 0, 1, "m")); // multi-byte UTF-8
    float[] odd = {Float.NaN, Float.intBitsToFloat(0x7fc00001), Float.POSITIVE_INFINITY, -0.0f, Float.MIN_VALUE};
    assertSameBytes(FloatChunk.of("w", 1, odd, 0, odd.length)); // raw bits, NaN payloads included
    // a data length whose varint takes 3 bytes, and a full chunk (4 MiB - 64 KiB)
    assertSameBytes(FloatChunk.of("w", 9, values(40_000, 2), 0, 40_000));
    int full = TensorBytes.DEFAULT_CHUNK_BYTES / Float.BYTES;
    byte[] push = PushRequest.newBuilder().setChunk(expected(FloatChunk.of("w", 1L << 33, values(full, 3), 0, full)))
        .build().toByteArray();
    OutboundMarshaller<PushRequest> pm = new OutboundMarshaller<>(PushRequest.getDefaultInstance());
    assertThat(drained(pm.stream(Outbound.pushChunk(FloatChunk.of("w", 1L << 33, values(full, 3), 0, full)))))
        .isEqualTo(push);
  }

  @Test
  void writerGivesProtobufsBytesForRandomChunks() throws IOException {
    Random r = new Random(11);
    for (int i = 0; i < 200; i++) {
      float[] v = values(1 + r.nextInt(3000), r.nextLong());
      int from = r.nextInt(v.length);
      int count = r.nextInt(v.length - from + 1);
      String model = r.nextBoolean() ? "" : "models/m" + r.nextInt(100);
      String slot = r.nextInt(4) == 0 ? "slot" + r.nextInt(3) : "";
      assertSameBytes(new FloatChunk(model, "t" + r.nextInt(1000), r.nextBoolean() ? 0 : r.nextLong(), v, from, count, slot));
    }
  }

  @Test
  void headerMessagesGoThroughProtobuf() throws IOException {
    PushRequest header = PushRequest.newBuilder().setHeader(PushHeader.newBuilder().setModel("models/m").setTrainer(1)
        .setStep(7).setGradientNormSquared(2.5).setEpoch(3)).build();
    OutboundMarshaller<PushRequest> pm = new OutboundMarshaller<>(PushRequest.getDefaultInstance());
    assertThat(read(pm.stream(Outbound.message(header)), 100)).isEqualTo(header.toByteArray());
  }

  private static PushRequest randomPush(Random r) {
    PushRequest.Builder b = PushRequest.newBuilder();
    if (r.nextInt(3) == 0) {
      b.setHeader(PushHeader.newBuilder().setModel("models/m" + r.nextInt(9)).setTrainer(r.nextInt(5))
          .setStep(r.nextLong()).setNonFinite(r.nextBoolean()));
    }
    if (r.nextInt(4) != 0) {
      float[] v = values(r.nextInt(5000), r.nextLong());
      b.setChunk(TensorChunk.newBuilder().setTensor("t" + r.nextInt(50)).setOffset(r.nextLong())
          .setData(TensorBytes.encode(v, 0, v.length)).setSlot(r.nextBoolean() ? "" : "s"));
    }
    return b.build();
  }

  @Test
  void parsesOverBuffersAsParseFromDoesAndReleasesOnClose() {
    ReceivingMarshaller<PushRequest> m = WorkerWire.pushRequests();
    Random r = new Random(5);
    for (int i = 0; i < 300; i++) {
      PushRequest sent = randomPush(r);
      byte[] bytes = sent.toByteArray();
      BufferChainStream in = BufferChainStream.split(bytes, 1 + r.nextInt(20_000), r);
      Received<PushRequest> got = m.parse(in);
      assertThat(withData(got)).isEqualTo(sent);
      assertThat(got.message().getChunk().getData().isEmpty()).isTrue(); // the data is apart, not copied
      assertThat(got.dataSize()).isEqualTo(sent.getChunk().getData().size());
      assertThat(m.held()).isEqualTo(1);
      assertThat(in.detached).isNotNull();
      assertThat(in.detached.closed).isFalse(); // gRPC closes `in` after parse: the buffers must outlive that
      int n = TensorBytes.floatCount(got.dataSize());
      float[] decoded = new float[n];
      TensorBytes.decode(got.data(), decoded, 0);
      float[] want = new float[n];
      TensorBytes.decode(sent.getChunk().getData(), want, 0);
      assertThat(Arrays.equals(decoded, want)).isTrue();
      got.close();
      got.close(); // twice is harmless
      assertThat(in.detached.closed).isTrue();
      assertThat(m.held()).isZero();
    }
    assertThat(m.aliasedParses()).isEqualTo(300);
  }

  @Test
  void dataAliasesTheBuffersItWasParsedFrom() {
    float[] v = values(64, 9);
    byte[] bytes = PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
        .setData(TensorBytes.encode(v, 0, 64))).build().toByteArray();
    ByteBuffer direct = ByteBuffer.allocateDirect(bytes.length);
    direct.put(bytes).flip();
    Received<PushRequest> got = WorkerWire.pushRequests()
        .parse(new BufferChainStream(List.of(direct)));
    // write into the transport buffer: a view sees it, a copy would not
    direct.order(ByteOrder.LITTLE_ENDIAN).putFloat(bytes.length - 4, 42f);
    float[] out = new float[64];
    TensorBytes.decode(got.data(), out, 0);
    assertThat(out[63]).isEqualTo(42f);
    assertThat(out[0]).isEqualTo(v[0]);
    got.close();
  }

  @Test
  void malformedInputFailsAsTheGeneratedMarshallerDoesAndIsReleased() {
    ReceivingMarshaller<PushRequest> m = WorkerWire.pushRequests();
    byte[] good = PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
        .setData(ByteString.copyFrom(new byte[400]))).build().toByteArray();
    List<byte[]> bad = List.of(
        Arrays.copyOf(good, good.length - 10), // truncated inside the data
        new byte[] {(byte) 0x12, (byte) 0xff}, // a length varint cut short
        new byte[] {0x0f}, // end-group tag with no group (wire type 7 is invalid too)
        new byte[] {(byte) 0x12, 0x05, 0x22, 0x10, 0, 0, 0}); // nested length past the end
    Random r = new Random(3);
    for (byte[] b : bad) {
      StatusRuntimeException generated = catchStatus(() -> ProtoUtils.marshaller(PushRequest.getDefaultInstance())
          .parse(new ByteArrayInputStream(b)));
      BufferChainStream in = BufferChainStream.split(b, 3, r);
      StatusRuntimeException ours = catchStatus(() -> m.parse(in));
      assertThat(ours.getStatus().getCode()).isEqualTo(generated.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
      assertThat(ours.getStatus().getDescription()).isEqualTo(generated.getStatus().getDescription());
      assertThat(in.detached.closed).isTrue();
      assertThat(m.held()).isZero();
    }
  }

  @Test
  void aStreamWithoutBuffersIsParsedByCopying() {
    PushRequest sent = randomPush(new Random(8));
    ReceivingMarshaller<PushRequest> m = WorkerWire.pushRequests();
    Received<PushRequest> got = m.parse(new ByteArrayInputStream(sent.toByteArray()));
    assertThat(m.copiedParses()).isEqualTo(1);
    assertThat(m.aliasedParses()).isZero();
    assertThat(got.message()).isEqualTo(sent); // copied: the data stays in the message
    assertThat(bytes(got.data())).isEqualTo(sent.getChunk().getData());
    got.close();
  }

  @Test
  void grpcsStreamWithoutByteBuffersIsReadOnceAndParsedAsParseFromDoes() {
    ReceivingMarshaller<PushRequest> m = WorkerWire.pushRequests();
    Random r = new Random(21);
    for (int i = 0; i < 50; i++) {
      PushRequest sent = randomPush(r);
      BufferChainStream in = BufferChainStream.split(sent.toByteArray(), 1 + r.nextInt(5_000), r);
      in.withoutByteBuffers = true;
      Received<PushRequest> got = m.parse(in);
      assertThat(got.message()).isEqualTo(sent);
      assertThat(bytes(got.data())).isEqualTo(sent.getChunk().getData());
      assertThat(in.detached).as("nothing detached: the stream is read").isNull();
      assertThat(in.available()).isZero();
      got.close();
    }
    assertThat(m.copiedParses()).isEqualTo(50);
    assertThat(m.aliasedParses()).isZero();
    byte[] cut = Arrays.copyOf(randomPush(r).toByteArray(), 30);
    BufferChainStream in = BufferChainStream.split(cut, 7, r);
    in.withoutByteBuffers = true;
    StatusRuntimeException generated = catchStatus(() -> ProtoUtils.marshaller(PushRequest.getDefaultInstance())
        .parse(new ByteArrayInputStream(cut)));
    StatusRuntimeException ours = catchStatus(() -> m.parse(in));
    assertThat(ours.getStatus().getCode()).isEqualTo(generated.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(ours.getStatus().getDescription()).isEqualTo(generated.getStatus().getDescription());
  }

  @Test
  void grpcsStreamWithoutByteBuffersOfAnotherLengthThanItAnnouncedIsRefused() {
    ReceivingMarshaller<PushRequest> m = WorkerWire.pushRequests();
    Random r = new Random(22);
    float[] v = values(1000, 23);
    byte[] bytes = PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
        .setData(TensorBytes.encode(v, 0, v.length))).build().toByteArray();
    BufferChainStream shorter = BufferChainStream.split(bytes, 500, r);
    shorter.withoutByteBuffers = true;
    shorter.misannounced = 3;
    StatusRuntimeException e = catchStatus(() -> m.parse(shorter));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(e.getStatus().getDescription()).isEqualTo("gRPC's message stream ended after " + bytes.length
        + " of the " + (bytes.length + 3) + " bytes it announced");
    BufferChainStream longer = BufferChainStream.split(bytes, 500, r);
    longer.withoutByteBuffers = true;
    longer.misannounced = -3;
    e = catchStatus(() -> m.parse(longer));
    assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(e.getStatus().getDescription())
        .isEqualTo("gRPC's message stream held more than the " + (bytes.length - 3) + " bytes it announced");
  }

  @Test
  void aWholeMessageInAnArrayIsParsedInPlaceAsParseFromDoes() {
    Random r = new Random(12);
    for (int i = 0; i < 100; i++) {
      PushRequest sent = randomPush(r);
      byte[] bytes = sent.toByteArray();
      Received<PushRequest> got = WorkerWire.pushRequests().parse(new WireBytes(bytes));
      assertThat(got.message()).isEqualTo(sent);
      assertThat(bytes(got.data())).isEqualTo(sent.getChunk().getData());
      got.close();
    }
    // the data is a view of the array, not a copy: a write into the array shows through
    float[] v = values(64, 13);
    byte[] bytes = PushRequest.newBuilder().setChunk(TensorChunk.newBuilder().setTensor("w")
        .setData(TensorBytes.encode(v, 0, 64))).build().toByteArray();
    Received<PushRequest> got = WorkerWire.pushRequests().parse(new WireBytes(bytes));
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putFloat(bytes.length - 4, 42f);
    float[] out = new float[64];
    TensorBytes.decode(got.data(), out, 0);
    assertThat(out[63]).isEqualTo(42f);
    assertThat(out[0]).isEqualTo(v[0]);
    // malformed input fails as the generated marshaller does
    byte[] cut = Arrays.copyOf(bytes, bytes.length - 10);
    StatusRuntimeException generated = catchStatus(() -> ProtoUtils.marshaller(PushRequest.getDefaultInstance())
        .parse(new ByteArrayInputStream(cut)));
    StatusRuntimeException ours = catchStatus(() -> WorkerWire.pushRequests().parse(new WireBytes(cut)));
    assertThat(ours.getStatus().getCode()).isEqualTo(generated.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
    assertThat(ours.getStatus().getDescription()).isEqualTo(generated.getStatus().getDescription());
  }

  @Test
  void pullResponsesParseOverBuffersToo() {
    PullResponse sent = PullResponse.newBuilder().setStep(4).setChunk(TensorChunk.newBuilder().setTensor("w")
        .setOffset(8).setData(TensorBytes.encode(values(300, 4), 0, 300))).build();
    ReceivingMarshaller<PullResponse> m = WorkerWire.pullResponses();
    Received<PullResponse> got = m.parse(BufferChainStream.split(sent.toByteArray(), 100, new Random(1)));
    assertThat(got.message().getStep()).isEqualTo(4);
    assertThat(got.message().toBuilder().setChunk(got.message().getChunk().toBuilder().setData(bytes(got.data())))
        .build()).isEqualTo(sent);
    assertThat(m.held()).isEqualTo(1);
    got.close();
    assertThat(m.held()).isZero();
  }

  @Test
  void decodeJoinsFloatsThatStraddleBuffers() {
    float[] v = values(257, 12);
    byte[] bytes = TensorBytes.encode(v, 0, v.length).toByteArray();
    Random r = new Random(2);
    for (int i = 0; i < 50; i++) {
      ByteString rope = ByteString.EMPTY;
      for (int at = 0; at < bytes.length; ) {
        int n = Math.min(bytes.length - at, 200 + r.nextInt(300)); // > 128: a real rope, not copied together
        ByteBuffer d = ByteBuffer.allocateDirect(n);
        d.put(bytes, at, n).flip();
        rope = rope.concat(com.google.protobuf.UnsafeByteOperations.unsafeWrap(d));
        at += n;
      }
      assertThat(rope.asReadOnlyByteBufferList().size()).isGreaterThan(1);
      float[] out = new float[v.length + 2];
      TensorBytes.decode(rope, out, 1);
      assertThat(Arrays.copyOfRange(out, 1, v.length + 1)).isEqualTo(v);
      assertThat(out[0]).isZero();
      assertThat(out[v.length + 1]).isZero();
    }
  }

  @Test
  void decodeTellsOfEveryRunOnceInOrderWhileDecoding() {
    float[] v = values(100_003, 13);
    byte[] bytes = TensorBytes.encode(v, 0, v.length).toByteArray();
    Random r = new Random(6);
    for (int round = 0; round < 24; round++) {
      List<ByteBuffer> pieces = new ArrayList<>();
      for (int at = 0; at < bytes.length; ) {
        // rounds 20-23: a piece ends on a full run plus 1-3 bytes of the next float (which straddles)
        int n = Math.min(bytes.length - at, round >= 20 ? 16_384 * 4 + round - 19
            : 1 + r.nextInt(round % 2 == 0 ? 100_000 : 70_000));
        pieces.add(ByteBuffer.wrap(bytes, at, n).slice());
        at += n;
      }
      float[] out = new float[v.length + 5];
      List<int[]> runs = new ArrayList<>();
      TensorBytes.decode(pieces, out, 5, (from, to) -> {
        // every element of the run is decoded when the run is told
        for (int i = from; i < to; i++) {
          assertThat(Float.floatToRawIntBits(out[i])).isEqualTo(Float.floatToRawIntBits(v[i - 5]));
        }
        runs.add(new int[] {from, to});
      });
      int next = 5;
      for (int[] run : runs) {
        assertThat(run[0]).isEqualTo(next);
        assertThat(run[1] - run[0]).isBetween(1, 16_384);
        next = run[1];
      }
      assertThat(next).isEqualTo(v.length + 5);
    }
  }

  @Test
  void decodeReadsEveryByteOnceInOrderRightBeforeDecodingIt() {
    float[] v = values(100_003, 14);
    byte[] bytes = TensorBytes.encode(v, 0, v.length).toByteArray();
    float unset = Float.intBitsToFloat(0x7fc0dead);
    Random r = new Random(7);
    for (int round = 0; round < 12; round++) {
      List<ByteBuffer> pieces = new ArrayList<>();
      for (int at = 0; at < bytes.length; ) {
        // large pieces (heap, as a copied parse gives one) and frame-sized direct ones with odd ends
        int n = Math.min(bytes.length - at, round % 3 == 0 ? 1 + r.nextInt(200_000) : 1 + r.nextInt(16_384));
        ByteBuffer piece = round % 3 == 0 ? ByteBuffer.wrap(bytes, at, n).slice()
            : ByteBuffer.allocateDirect(n).put(bytes, at, n).flip();
        pieces.add(piece);
        at += n;
      }
      float[] out = new float[v.length];
      Arrays.fill(out, unset);
      ByteArrayOutputStream read = new ByteArrayOutputStream();
      TensorBytes.decode(pieces, out, 0, b -> {
        int first = read.size(); // the byte offset of b's first byte
        int end = first + b.remaining();
        assertThat(b.remaining()).isBetween(1, 65_536);
        // the floats wholly before these bytes are decoded, those from their end on are not yet
        if (first >= 4) {
          assertThat(Float.floatToRawIntBits(out[first / 4 - 1])).isEqualTo(Float.floatToRawIntBits(v[first / 4 - 1]));
        }
        int after = (end + 3) / 4;
        if (after < v.length) {
          assertThat(Float.floatToRawIntBits(out[after])).isEqualTo(Float.floatToRawIntBits(unset));
        }
        byte[] copy = new byte[b.remaining()];
        b.get(copy); // moving the view's position changes nothing for the decode
        read.write(copy, 0, copy.length);
      }, (from, to) -> { });
      assertThat(read.toByteArray()).isEqualTo(bytes);
      for (int i = 0; i < v.length; i++) {
        assertThat(Float.floatToRawIntBits(out[i])).isEqualTo(Float.floatToRawIntBits(v[i]));
      }
      for (ByteBuffer piece : pieces) {
        assertThat(piece.position()).isZero(); // the caller's buffers are not moved
      }
    }
  }

  @Test
  void decodeReadsEachBufferFromItsPositionToItsLimitAndLeavesBothAsTheyWere() {
    float[] v = values(40_001, 15);
    byte[] bytes = TensorBytes.encode(v, 0, v.length).toByteArray();
    Random r = new Random(8);
    List<ByteBuffer> pieces = new ArrayList<>();
    List<int[]> bounds = new ArrayList<>();
    for (int at = 0; at < bytes.length; ) {
      int n = Math.min(bytes.length - at, 1 + r.nextInt(90_000));
      int before = r.nextInt(9);
      int after = r.nextInt(9);
      ByteBuffer b = ByteBuffer.allocateDirect(before + n + after);
      for (int i = 0; i < b.capacity(); i++) {
        b.put(i, (byte) 0x7f); // padding that would decode to a NaN-free, wrong value if read
      }
      b.put(before, bytes, at, n).position(before).limit(before + n);
      pieces.add(b);
      bounds.add(new int[] {before, before + n});
      at += n;
    }
    float[] out = new float[v.length];
    long[] readBytes = {0};
    TensorBytes.decode(pieces, out, 0, b -> readBytes[0] += b.remaining(), (from, to) -> { });
    assertThat(readBytes[0]).isEqualTo(bytes.length);
    for (int i = 0; i < v.length; i++) {
      assertThat(Float.floatToRawIntBits(out[i])).isEqualTo(Float.floatToRawIntBits(v[i]));
    }
    for (int i = 0; i < pieces.size(); i++) {
      assertThat(pieces.get(i).position()).isEqualTo(bounds.get(i)[0]);
      assertThat(pieces.get(i).limit()).isEqualTo(bounds.get(i)[1]);
    }
  }

  @Test
  void aChunkOutsideItsArrayIsRefused() {
    assertThatThrownBy(() -> FloatChunk.of("w", 0, new float[4], 2, 3)).isInstanceOf(IndexOutOfBoundsException.class);
  }

  private static ByteString bytes(List<ByteBuffer> data) {
    ByteString out = ByteString.EMPTY;
    for (ByteBuffer b : data) {
      out = out.concat(ByteString.copyFrom(b.duplicate()));
    }
    return out;
  }

  private static PushRequest withData(Received<PushRequest> r) {
    PushRequest m = r.message();
    return m.hasChunk() ? m.toBuilder().setChunk(m.getChunk().toBuilder().setData(bytes(r.data()))).build() : m;
  }

  @Test
  void nonCanonicalInputIsParsedByProtobufToTheSameMessage() {
    ReceivingMarshaller<PushRequest> m = WorkerWire.pushRequests();
    TensorChunk a = TensorChunk.newBuilder().setTensor("a").setOffset(4).setData(ByteString.copyFrom(new byte[] {1, 2, 3, 4})).build();
    TensorChunk b = TensorChunk.newBuilder().setTensor("b").setData(ByteString.copyFrom(new byte[] {5, 6, 7, 8})).build();
    // the chunk field twice (protobuf merges them), and unknown fields of every wire type
    byte[] twice = ByteString.copyFrom(PushRequest.newBuilder().setChunk(a).build().toByteArray())
        .concat(ByteString.copyFrom(PushRequest.newBuilder().setChunk(b).build().toByteArray())).toByteArray();
    byte[] unknown = ByteString.copyFrom(new byte[] {(byte) 0xf8, 0x01, 0x05, (byte) 0xfd, 0x01, 1, 2, 3, 4,
        (byte) 0xf9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, (byte) 0xfa, 0x01, 0x01, 0x09})
        .concat(ByteString.copyFrom(PushRequest.newBuilder().setChunk(a).build().toByteArray())).toByteArray();
    Random r = new Random(4);
    for (byte[] in : List.of(twice, unknown)) {
      PushRequest expected;
      try {
        expected = PushRequest.parseFrom(in);
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new AssertionError(e);
      }
      Received<PushRequest> got = m.parse(BufferChainStream.split(in, 5, r));
      assertThat(withData(got)).isEqualTo(expected);
      got.close();
      assertThat(m.held()).isZero();
    }
  }

  private static StatusRuntimeException catchStatus(Runnable r) {
    try {
      r.run();
    } catch (StatusRuntimeException e) {
      return e;
    }
    throw new AssertionError("expected a StatusRuntimeException");
  }
}
