package dev.shardopt.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The header of an NPY file (format 1.0 or 2.0) holding a little-endian float32 ({@code '<f4'}) array in C
 * order: the one NPY header implementation of the project (the CLI's npy/npz codec and the checkpoint
 * files both use it).
 *
 * <p>The format: the magic {@code \x93NUMPY}, a major and a minor version byte, the header length (2 bytes
 * little-endian in 1.0, 4 bytes in 2.0), an ASCII header that is a Python dict literal with exactly the keys
 * {@code descr}, {@code fortran_order} and {@code shape}, padded with spaces and ended by a newline so that
 * the data starts at a multiple of 64, then the raw data.
 *
 * @param shape the array's shape (dimensions are non-negative)
 * @param length the length of the whole header in bytes: the data starts there
 */
public record NpyHeader(long[] shape, int length) {

  /** The magic bytes every NPY file starts with. */
  public static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  /** The one dtype accepted and written. */
  public static final String DTYPE = "<f4";
  /** What the messages say is allowed. */
  public static final String ALLOWED = "only '<f4' (little-endian float32) is supported";
  /** Refuse absurd headers before allocating them (numpy's own headers are a few hundred bytes). */
  public static final int MAX_HEADER_LEN = 1 << 20;

  public NpyHeader {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The number of elements (the product of the shape; 1 for a scalar), or -1 if it overflows a long. */
  public long elements() {
    return elementCount(shape);
  }

  /** The number of elements of {@code shape}, or -1 if the product overflows a long. */
  public static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        return -1;
      }
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NpyHeader h && h.length == length && Arrays.equals(h.shape, shape);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(shape) + length;
  }

  @Override
  public String toString() {
    return "NpyHeader[shape=" + Arrays.toString(shape) + ", length=" + length + "]";
  }

  // ------------------------------------------------------------------------------------------------ read

  /**
   * Reads the header from {@code in}, which is left positioned at the first data byte.
   *
   * @throws NpyFormatException if the bytes are not an NPY header of a {@code '<f4'} C-order array
   */
  public static NpyHeader read(InputStream in) throws IOException, NpyFormatException {
    byte[] magic = in.readNBytes(MAGIC.length);
    if (magic.length == 0) {
      throw new NpyFormatException(NpyFormatException.Reason.NOT_NPY,
          "not an NPY file (the file is empty); expected a NumPy .npy file, format 1.0 or 2.0");
    }
    for (int i = 0; i < MAGIC.length; i++) {
      if (i >= magic.length || magic[i] != MAGIC[i]) {
        throw new NpyFormatException(NpyFormatException.Reason.NOT_NPY,
            "not an NPY file (bad magic); expected a NumPy .npy file, format 1.0 or 2.0");
      }
    }
    byte[] version = readExactly(in, 2, "the format version");
    int major = version[0] & 0xff;
    int minor = version[1] & 0xff;
    int headerLen;
    int prefix;
    if (major == 1 && minor == 0) {
      byte[] b = readExactly(in, 2, "the header length");
      headerLen = (b[0] & 0xff) | (b[1] & 0xff) << 8;
      prefix = 10;
    } else if (major == 2 && minor == 0) {
      byte[] b = readExactly(in, 4, "the header length");
      long len = (b[0] & 0xffL) | (b[1] & 0xffL) << 8 | (b[2] & 0xffL) << 16 | (b[3] & 0xffL) << 24;
      if (len > MAX_HEADER_LEN) {
        throw new NpyFormatException(NpyFormatException.Reason.MALFORMED,
            "malformed NPY header: header length " + len + " exceeds " + MAX_HEADER_LEN + " bytes");
      }
      headerLen = (int) len;
      prefix = 12;
    } else {
      throw new NpyFormatException(NpyFormatException.Reason.VERSION,
          "unsupported NPY format version " + major + "." + minor + "; only versions 1.0 and 2.0 are supported");
    }
    byte[] headerBytes = readExactly(in, headerLen, "the header");
    long[] shape = parseDict(new String(headerBytes, StandardCharsets.ISO_8859_1));
    return new NpyHeader(shape, prefix + headerLen);
  }

  private static byte[] readExactly(InputStream in, int n, String what) throws IOException, NpyFormatException {
    byte[] b = in.readNBytes(n);
    if (b.length < n) {
      throw new NpyFormatException(NpyFormatException.Reason.TRUNCATED,
          "truncated NPY header: the file ends inside " + what);
    }
    return b;
  }

  /**
   * Parses the header text (the Python dict) and returns the shape; the dtype must be {@code '<f4'} and
   * fortran_order False.
   */
  public static long[] parseDict(String text) throws NpyFormatException {
    PyLiteral p = new PyLiteral(text);
    Map<String, PyLiteral.Value> dict = p.parseTopDict();
    Set<String> keys = dict.keySet();
    if (!keys.equals(Set.of("descr", "fortran_order", "shape"))) {
      throw new NpyFormatException(NpyFormatException.Reason.MALFORMED, "malformed NPY header: keys "
          + printable(keys.toString()) + ", expected exactly 'descr', 'fortran_order' and 'shape'");
    }
    PyLiteral.Value descr = dict.get("descr");
    if (!(descr.value() instanceof String dtype) || !dtype.equals(DTYPE)) {
      throw new NpyFormatException(NpyFormatException.Reason.DTYPE,
          "unsupported dtype: got " + printable(descr.source()) + ", " + ALLOWED);
    }
    PyLiteral.Value fortran = dict.get("fortran_order");
    if (!(fortran.value() instanceof Boolean f)) {
      throw new NpyFormatException(NpyFormatException.Reason.MALFORMED,
          "malformed NPY header: fortran_order is " + printable(fortran.source()) + ", expected True or False");
    }
    if (f) {
      throw new NpyFormatException(NpyFormatException.Reason.FORTRAN_ORDER,
          "Fortran-order (column-major) arrays are not supported; only C order "
              + "(fortran_order: False) is; save a C-contiguous array (numpy.ascontiguousarray)");
    }
    PyLiteral.Value shapeValue = dict.get("shape");
    if (!(shapeValue.value() instanceof PyLiteral.Tuple tuple)) {
      throw new NpyFormatException(NpyFormatException.Reason.MALFORMED,
          "malformed NPY header: shape is " + printable(shapeValue.source()) + ", expected a tuple of ints");
    }
    long[] shape = new long[tuple.items().size()];
    for (int i = 0; i < shape.length; i++) {
      Object d = tuple.items().get(i);
      if (!(d instanceof BigInteger b) || b.signum() < 0 || b.bitLength() > 62) {
        throw new NpyFormatException(NpyFormatException.Reason.MALFORMED, "malformed NPY header: shape is "
            + printable(shapeValue.source()) + ", expected a tuple of non-negative ints");
      }
      shape[i] = b.longValue();
    }
    return shape;
  }

  // ----------------------------------------------------------------------------------------------- write

  /**
   * The header bytes for a {@code '<f4'} C-order array of {@code shape}: the magic, version, length and
   * header, padded with spaces so that the data starts at a multiple of 64. Format 1.0, or 2.0 only if the
   * header would not fit (a rank in the thousands). The same shape always gives the same bytes.
   */
  public static byte[] encode(long[] shape) {
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
    }
    StringBuilder s = new StringBuilder("{'descr': '").append(DTYPE).append("', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < shape.length; i++) {
      s.append(i == 0 ? "" : ", ").append(shape[i]);
    }
    s.append(shape.length == 1 ? ",), }" : "), }");
    int padded = padTo64(10 + s.length() + 1);
    boolean v1 = padded - 10 <= 0xffff;
    int prefix = v1 ? 10 : 12;
    int total = prefix + s.length() + 1;
    padded = padTo64(total);
    s.append(" ".repeat(padded - total)).append('\n');
    byte[] h = s.toString().getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(prefix + h.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).put((byte) (v1 ? 1 : 2)).put((byte) 0);
    if (v1) {
      b.putShort((short) h.length);
    } else {
      b.putInt(h.length);
    }
    return b.put(h).array();
  }

  /** The header of {@link #encode(long[]) encode(shape)}, without building the bytes twice. */
  public static NpyHeader of(long[] shape) {
    return new NpyHeader(shape, encode(shape).length);
  }

  private static int padTo64(int n) {
    return (n + 63) / 64 * 64;
  }

  // ------------------------------------------------------------------------------------ header literal

  /**
   * A parser for the Python literals that appear in an NPY header: a dict with string keys whose values are
   * strings, ints (Python 2's {@code 3L} too), True/False/None, tuples and lists of these. Each value keeps
   * its source text, for error messages.
   */
  static final class PyLiteral {
    record Value(Object value, String source) {}

    record Tuple(List<Object> items) {}

    record PyList(List<Object> items) {}

    enum Special { NONE }

    private final String s;
    private int pos;

    PyLiteral(String s) {
      this.s = s;
    }

    Map<String, Value> parseTopDict() throws NpyFormatException {
      skipSpace();
      expect('{');
      Map<String, Value> out = new LinkedHashMap<>();
      skipSpace();
      while (peek() != '}') {
        Object key = parseValue();
        if (!(key instanceof String k)) {
          throw error("dict keys must be strings");
        }
        skipSpace();
        expect(':');
        skipSpace();
        int start = pos;
        Object v = parseValue();
        if (out.put(k, new Value(v, s.substring(start, pos))) != null) {
          throw error("duplicate key '" + k + "'");
        }
        skipSpace();
        if (peek() == ',') {
          pos++;
          skipSpace();
        } else if (peek() != '}') {
          throw error("expected ',' or '}'");
        }
      }
      pos++;
      skipSpace();
      if (pos != s.length()) {
        throw error("unexpected text after the dict");
      }
      return out;
    }

    private Object parseValue() throws NpyFormatException {
      char c = peek();
      if (c == '\'' || c == '"') {
        return parseString();
      }
      if (c == '(' || c == '[') {
        char close = c == '(' ? ')' : ']';
        pos++;
        List<Object> items = new ArrayList<>();
        boolean sawComma = false;
        skipSpace();
        while (peek() != close) {
          items.add(parseValue());
          skipSpace();
          if (peek() == ',') {
            sawComma = true;
            pos++;
            skipSpace();
          } else if (peek() != close) {
            throw error("expected ',' or '" + close + "'");
          }
        }
        pos++;
        if (c == '(') {
          // (x) without a comma is just x in parentheses.
          return items.size() == 1 && !sawComma ? items.get(0) : new Tuple(List.copyOf(items));
        }
        return new PyList(List.copyOf(items));
      }
      if (c == '-' || c == '+' || Character.isDigit(c)) {
        int start = pos++;
        while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
          pos++;
        }
        String digits = s.substring(start, pos);
        if (pos < s.length() && (s.charAt(pos) == 'L' || s.charAt(pos) == 'l')) {
          pos++;
        }
        try {
          return new BigInteger(digits);
        } catch (NumberFormatException e) {
          throw error("bad number '" + digits + "'");
        }
      }
      if (Character.isLetter(c)) {
        int start = pos;
        while (pos < s.length() && Character.isLetterOrDigit(s.charAt(pos))) {
          pos++;
        }
        switch (s.substring(start, pos)) {
          case "True":
            return Boolean.TRUE;
          case "False":
            return Boolean.FALSE;
          case "None":
            return Special.NONE;
          default:
            pos = start;
            throw error("unexpected name");
        }
      }
      throw error("unexpected character");
    }

    private String parseString() throws NpyFormatException {
      char q = s.charAt(pos++);
      StringBuilder b = new StringBuilder();
      while (true) {
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char c = s.charAt(pos++);
        if (c == q) {
          return b.toString();
        }
        if (c == '\\' && pos < s.length()) {
          b.append(s.charAt(pos++));
        } else {
          b.append(c);
        }
      }
    }

    private char peek() throws NpyFormatException {
      if (pos >= s.length()) {
        throw error("unexpected end of header");
      }
      return s.charAt(pos);
    }

    private void expect(char c) throws NpyFormatException {
      if (peek() != c) {
        throw error("expected '" + c + "'");
      }
      pos++;
    }

    private void skipSpace() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
    }

    private NpyFormatException error(String what) {
      String near = s.substring(Math.min(pos, s.length()), Math.min(pos + 20, s.length()));
      return new NpyFormatException(NpyFormatException.Reason.MALFORMED, "malformed NPY header: " + what
          + " at offset " + pos + " (near \"" + printable(near)
          + "\"); expected a dict like {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
    }
  }

  /** Non-printable characters as {@code \xNN}, so that a message stays one readable line. */
  public static String printable(String s) {
    StringBuilder b = new StringBuilder();
    if (s.length() > 100) {
      return printable(s.substring(0, 100)) + "...";
    }
    for (char c : s.toCharArray()) {
      if (c >= 0x20 && c < 0x7f) {
        b.append(c);
      } else {
        b.append(String.format("\\x%02x", (int) c & 0xff));
      }
    }
    return b.toString();
  }
}
