package dev.shardopt.cli.io;

import dev.shardopt.checkpoint.NpyFormatException;
import dev.shardopt.checkpoint.NpyHeader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Reads and writes one array in the NPY format (versions 1.0 and 2.0), restricted to dtype {@code <f4} in C
 * order. The header (magic, version, length, the Python dict) is {@link NpyHeader}'s, the one NPY header
 * implementation of the project (shared with the checkpoint files); this class reads and writes the data.
 */
final class NpyCodec {

  private static final int CHUNK = 1 << 16;

  private NpyCodec() {}

  // ------------------------------------------------------------------------------------------------ read

  /** Reads one array; {@code in} must end right after the data. */
  static Tensor read(InputStream in) throws IOException, NpyFormatException {
    long[] shape = NpyHeader.read(in).shape();

    long n = Tensor.elementCount(shape);
    if (n < 0 || n > TensorFiles.MAX_ELEMENTS) {
      throw new NpyFormatException(NpyFormatException.Reason.MALFORMED, "shape " + Tensor.shapeString(shape)
          + " is too large; at most " + TensorFiles.MAX_ELEMENTS + " elements are supported");
    }
    // The array grows with the data that arrives (doubling, capped at n), so a header that claims
    // billions of elements in a short file is refused as truncated without a huge allocation.
    float[] data = new float[(int) Math.min(n, CHUNK)];
    long expectedBytes = n * 4;
    byte[] buf = new byte[(int) Math.min(CHUNK, Math.max(expectedBytes, 4))];
    int filled = 0;
    while (filled < n) {
      if (filled == data.length) {
        data = Arrays.copyOf(data, (int) Math.min(n, 2L * data.length));
      }
      int want = (int) Math.min(buf.length, (long) (data.length - filled) * 4);
      int got = in.readNBytes(buf, 0, want);
      if (got < want) {
        long total = (long) filled * 4 + got + in.transferTo(OutputStream.nullOutputStream());
        throw new NpyFormatException(NpyFormatException.Reason.TRUNCATED, "truncated data: expected "
            + expectedBytes + " bytes of data for shape " + Tensor.shapeString(shape) + ", got " + total);
      }
      ByteBuffer.wrap(buf, 0, got).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data, filled, got / 4);
      filled += got / 4;
    }
    long extra = in.transferTo(OutputStream.nullOutputStream());
    if (extra > 0) {
      throw new NpyFormatException(NpyFormatException.Reason.MALFORMED, "unexpected " + extra
          + " bytes after the data; shape " + Tensor.shapeString(shape) + " needs exactly " + expectedBytes
          + " bytes of data");
    }
    return new Tensor(shape, data);
  }

  // ----------------------------------------------------------------------------------------------- write

  /** Writes {@code t} as NPY 1.0 (2.0 only if the header would not fit, which needs a rank in the thousands). */
  static void write(OutputStream out, Tensor t) throws IOException {
    out.write(NpyHeader.encode(t.shape()));
    float[] data = t.data();
    ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(4L * data.length, 4)))
        .order(ByteOrder.LITTLE_ENDIAN);
    int done = 0;
    while (done < data.length) {
      int n = Math.min(buf.capacity() / 4, data.length - done);
      buf.clear();
      buf.asFloatBuffer().put(data, done, n);
      out.write(buf.array(), 0, n * 4);
      done += n;
    }
  }
}
