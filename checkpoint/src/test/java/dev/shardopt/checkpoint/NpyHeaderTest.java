package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NpyHeaderTest {

  static NpyHeader read(byte[] b) throws Exception {
    return NpyHeader.read(new ByteArrayInputStream(b));
  }

  static byte[] raw(int major, String dict) {
    byte[] h = dict.getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(8 + (major == 1 ? 2 : 4) + h.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(NpyHeader.MAGIC).put((byte) major).put((byte) 0);
    if (major == 1) {
      b.putShort((short) h.length);
    } else {
      b.putInt(h.length);
    }
    return b.put(h).array();
  }

  @Test
  void encodesWhatNumpySaveWritesForFloat32() throws Exception {
    // numpy.save(f, numpy.zeros((2, 3), '<f4')) writes exactly these 128 header bytes.
    byte[] h = NpyHeader.encode(new long[] {2, 3});
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    assertThat(h.length).isEqualTo(128);
    assertThat(new String(h, 10, h.length - 10, StandardCharsets.ISO_8859_1))
        .isEqualTo(dict + " ".repeat(128 - 10 - dict.length() - 1) + "\n");
    assertThat(h[6]).isEqualTo((byte) 1);
    assertThat(h[8] & 0xff | (h[9] & 0xff) << 8).isEqualTo(118);
  }

  @Test
  void roundTripsShapesOfEveryRank() throws Exception {
    long[][] shapes = {{}, {0}, {5}, {2, 3}, {1, 2, 3, 4}, {0, 7}, {100_000_000L}, {1L << 40, 3}};
    for (long[] shape : shapes) {
      byte[] h = NpyHeader.encode(shape);
      assertThat(h.length % 64).isZero();
      NpyHeader parsed = read(h);
      assertThat(parsed.shape()).isEqualTo(shape);
      assertThat(parsed.length()).isEqualTo(h.length);
      assertThat(NpyHeader.of(shape)).isEqualTo(parsed);
    }
    assertThat(read(NpyHeader.encode(new long[] {5})).elements()).isEqualTo(5);
    assertThat(read(NpyHeader.encode(new long[] {})).elements()).isEqualTo(1);
  }

  @Test
  void readsVersion2AndOneTupleShapes() throws Exception {
    String dict = "{'shape': (4,), 'fortran_order': False, 'descr': '<f4'}\n";
    NpyHeader h = read(raw(2, dict));
    assertThat(h.shape()).containsExactly(4);
    assertThat(h.length()).isEqualTo(12 + dict.length());
  }

  @Test
  void everyProblemHasItsReason() {
    assertReason(new byte[0], NpyFormatException.Reason.NOT_NPY, "empty");
    assertReason("PK\3\4garbage".getBytes(StandardCharsets.ISO_8859_1), NpyFormatException.Reason.NOT_NPY, "bad magic");
    byte[] v3 = raw(1, "{}");
    v3[6] = 3;
    assertReason(v3, NpyFormatException.Reason.VERSION, "version 3.0");
    byte[] cut = NpyHeader.encode(new long[] {2, 3});
    assertReason(java.util.Arrays.copyOf(cut, 40), NpyFormatException.Reason.TRUNCATED, "ends inside the header");
    assertReason(raw(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"),
        NpyFormatException.Reason.DTYPE, "got '<f8'");
    assertReason(raw(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"),
        NpyFormatException.Reason.DTYPE, "got '>f4'");
    assertReason(raw(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }"),
        NpyFormatException.Reason.FORTRAN_ORDER, "Fortran-order");
    assertReason(raw(1, "{'descr': '<f4', 'shape': (2,), }"), NpyFormatException.Reason.MALFORMED, "keys");
    assertReason(raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"),
        NpyFormatException.Reason.MALFORMED, "non-negative");
    assertReason(raw(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,"),
        NpyFormatException.Reason.MALFORMED, "unexpected end of header");
  }

  private static void assertReason(byte[] b, NpyFormatException.Reason reason, String text) {
    assertThatThrownBy(() -> read(b)).isInstanceOfSatisfying(NpyFormatException.class,
        e -> assertThat(e.reason()).isEqualTo(reason)).hasMessageContaining(text);
  }

  @Test
  void negativeDimensionsCannotBeEncoded() {
    assertThatThrownBy(() -> NpyHeader.encode(new long[] {2, -1})).isInstanceOf(IllegalArgumentException.class);
  }
}
