package dev.shardopt.cli.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorFilesTest {

  @TempDir Path dir;

  // ------------------------------------------------------------------------------------ hand-made bytes

  /** An NPY file made by hand: magic, version, little-endian header length, header text, raw data. */
  static byte[] npy(int major, String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
    int lenBytes = major == 1 ? 2 : 4;
    ByteBuffer b = ByteBuffer.allocate(8 + lenBytes + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    if (major == 1) {
      b.putShort((short) h.length);
    } else {
      b.putInt(h.length);
    }
    return b.put(h).put(data).array();
  }

  static byte[] f32le(float... v) {
    ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : v) {
      b.putFloat(f);
    }
    return b.array();
  }

  static String header(String dict) {
    // pad like numpy: total prefix (10) + header + '\n' a multiple of 64
    int total = 10 + dict.length() + 1;
    return dict + " ".repeat((64 - total % 64) % 64) + "\n";
  }

  Path file(String name, byte[] bytes) throws IOException {
    Path p = dir.resolve(name);
    Files.write(p, bytes);
    return p;
  }

  static void assertMessage(Path p, String... parts) {
    assertThatThrownBy(() -> TensorFiles.read(p))
        .isInstanceOf(TensorFileException.class)
        .satisfies(e -> {
          assertThat(e.getMessage()).startsWith(p + ": ").doesNotContain("\n");
          for (String part : parts) {
            assertThat(e.getMessage()).contains(part);
          }
        });
  }

  // -------------------------------------------------------------------------------------------- reading

  @Test
  void writesExactlyWhatNumpySaveWrites() throws IOException {
    // np.save(f, np.array([[0, 1.5, -2], [3, 4, 5]], dtype='<f4')) gives this header (numpy 2.x), 128 bytes
    // up to the data, then the 24 data bytes.
    String numpyHeader = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" + " ".repeat(58) + "\n";
    byte[] expected = npy(1, numpyHeader, f32le(0f, 1.5f, -2f, 3f, 4f, 5f));
    assertThat(expected).hasSize(152);

    Path p = dir.resolve("a.npy");
    TensorFiles.writeNpy(p, Tensor.of(new float[] {0f, 1.5f, -2f, 3f, 4f, 5f}, 2, 3));
    assertThat(Files.readAllBytes(p)).isEqualTo(expected);
  }

  @Test
  void readsHandMadeVersion1File() throws IOException {
    Path p = file("v1.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
        f32le(1, 2, 3, 4, 5, 6)));
    LinkedHashMap<String, Tensor> m = TensorFiles.read(p);
    assertThat(m).containsOnlyKeys("param");
    assertThat(m.get("param").shape()).containsExactly(2, 3);
    assertThat(m.get("param").data()).containsExactly(1, 2, 3, 4, 5, 6);
  }

  @Test
  void readsHandMadeVersion2FileAndHeaderVariants() throws IOException {
    // format 2.0 (4-byte header length), double quotes, other key order, no trailing comma, no padding.
    Path p = file("v2.npy", npy(2, "{\"shape\": (1,2,2), \"fortran_order\": False, \"descr\": \"<f4\"}\n",
        f32le(-1, -2, -3, -4)));
    Tensor t = TensorFiles.read(p).get("param");
    assertThat(t.shape()).containsExactly(1, 2, 2);
    assertThat(t.data()).containsExactly(-1, -2, -3, -4);

    // Python 2 wrote long ints as 3L.
    Path py2 = file("py2.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }"),
        f32le(7, 8, 9)));
    assertThat(TensorFiles.read(py2).get("param").shape()).containsExactly(3);
  }

  @Test
  void readsScalarsAndEmptyArrays() throws IOException {
    Path scalar = file("s.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }"), f32le(2.5f)));
    Tensor s = TensorFiles.read(scalar).get("param");
    assertThat(s.rank()).isZero();
    assertThat(s.data()).containsExactly(2.5f);

    Path empty = file("e.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }"), new byte[0]));
    Tensor e = TensorFiles.read(empty).get("param");
    assertThat(e.shape()).containsExactly(0, 3);
    assertThat(e.size()).isZero();
  }

  @Test
  void keepsNanAndInfinityBitPatterns() throws IOException {
    float nanWithPayload = Float.intBitsToFloat(0x7fc01234);
    Path p = file("nan.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"),
        f32le(Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, nanWithPayload)));
    float[] d = TensorFiles.read(p).get("param").data();
    assertThat(Float.floatToRawIntBits(d[0])).isEqualTo(0x7fc00000);
    assertThat(d[1]).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(d[2]).isEqualTo(Float.NEGATIVE_INFINITY);
    assertThat(Float.floatToRawIntBits(d[3])).isEqualTo(0x7fc01234);
  }

  /**
   * numpy.savez_compressed(f, **{'embed.weight': [[0, 1.5, -2], [3, 4, 5]], 'x': [7], 'e': zeros(0)}) with
   * float32 arrays, made by numpy 2.4: deflated entries with Zip64 local headers.
   */
  static final String NUMPY_NPZ = "UEsDBC0AAAAIAAAAIQA4vOcw//////////8QABQAZW1iZWQud2VpZ2h0Lm5weQEAEACYAAAAAAAAAFcAAAAAAAAAm+wX6hsQychQxlCtnpJanFykbqWgbpNmoq6joJ6WX1RSlJgXn1+UkgoSd0vMKU4FihdnJBakAvkaRjoKxpo6CrUKZAMuBjA4YA8iGBgcHBgYGoB4gQMAUEsDBC0AAAAIAAAAIQBbMRDW//////////8FABQAeC5ucHkBABAAhAAAAAAAAABIAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loG6TZqKuo6Cell9UUpSYF59flJIKEndLzClOBYoXZyQWpAL5GoY6mjoKtQoUAC4GhgcOAFBLAwQtAAAACAAAACEAzdtp/P//////////BQAUAGUubnB5AQAQAIAAAAAAAAAARAAAAAAAAACb7BfqGxDJyFDGUK2eklqcXKRupaBuk2airqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ckFqQC+RoGOpo6CrUKFAAuAFBLAQItAy0AAAAIAAAAIQA4vOcwVwAAAJgAAAAQAAAAAAAAAAAAAACAAQAAAABlbWJlZC53ZWlnaHQubnB5UEsBAi0DLQAAAAgAAAAhAFsxENZIAAAAhAAAAAUAAAAAAAAAAAAAAIABmQAAAHgubnB5UEsBAi0DLQAAAAgAAAAhAM3bafxEAAAAgAAAAAUAAAAAAAAAAAAAAIABGAEAAGUubnB5UEsFBgAAAAADAAMApAAAAJMBAAAAAA==";

  @Test
  void readsNumpyCompressedNpzInOrder() throws IOException {
    Path p = file("np.npz", Base64.getDecoder().decode(NUMPY_NPZ));
    LinkedHashMap<String, Tensor> m = TensorFiles.read(p);
    assertThat(m.keySet()).containsExactly("embed.weight", "x", "e");
    assertThat(m.get("embed.weight").shape()).containsExactly(2, 3);
    assertThat(m.get("embed.weight").data()).containsExactly(0f, 1.5f, -2f, 3f, 4f, 5f);
    assertThat(m.get("x").shape()).containsExactly(1);
    assertThat(m.get("x").data()).containsExactly(7f);
    assertThat(m.get("e").shape()).containsExactly(0);
  }

  @Test
  void readsStoredNpz() throws IOException {
    byte[] a = npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"), f32le(1, 2));
    byte[] b = npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }"), f32le(3));
    Path p = dir.resolve("stored.npz");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(p))) {
      for (var e : List.of(Map.entry("z.last.npy", a), Map.entry("a.first.npy", b))) {
        ZipEntry entry = new ZipEntry(e.getKey());
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(e.getValue().length);
        CRC32 crc = new CRC32();
        crc.update(e.getValue());
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(e.getValue());
        zip.closeEntry();
      }
    }
    LinkedHashMap<String, Tensor> m = TensorFiles.read(p);
    assertThat(m.keySet()).containsExactly("z.last", "a.first");
    assertThat(m.get("z.last").data()).containsExactly(1, 2);
    assertThat(m.get("a.first").shape()).containsExactly(1, 1);
  }

  // --------------------------------------------------------------------------------------- round trips

  static float[] ramp(int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (i - n / 2f) * scale;
    }
    return v;
  }

  @Test
  void npyRoundTripsRanksZeroToThree() throws IOException {
    List<Tensor> cases = List.of(
        Tensor.of(new float[] {3.25f}),
        Tensor.vector(ramp(7, 0.5f)),
        Tensor.of(ramp(12, 1e-7f), 3, 4),
        Tensor.of(ramp(24, 123.5f), 2, 3, 4),
        Tensor.of(new float[0], 0),
        Tensor.of(new float[0], 4, 0, 2));
    for (int i = 0; i < cases.size(); i++) {
      Path p = dir.resolve("t" + i + ".npy");
      TensorFiles.writeNpy(p, cases.get(i));
      LinkedHashMap<String, Tensor> back = TensorFiles.read(p);
      assertThat(back).containsExactly(Map.entry("param", cases.get(i)));
      // the data starts at a multiple of 64, as numpy writes it
      assertThat((Files.size(p) - 4L * cases.get(i).size()) % 64).isZero();
    }
  }

  @Test
  void npzRoundTripsDottedNamesInOrder() throws IOException {
    LinkedHashMap<String, Tensor> m = new LinkedHashMap<>();
    m.put("fc1.weight", Tensor.of(ramp(32 * 16, 0.01f), 32, 16));
    m.put("fc1.bias", Tensor.vector(ramp(32, 0.1f)));
    m.put("a.b.c.d", Tensor.of(ramp(24, -2f), 2, 3, 4));
    m.put("empty", Tensor.of(new float[0], 0, 5));
    m.put("scalar", Tensor.of(new float[] {Float.NaN}));
    Path p = dir.resolve("model.npz");
    TensorFiles.write(p, m);
    LinkedHashMap<String, Tensor> back = TensorFiles.read(p);
    assertThat(back.keySet()).containsExactlyElementsOf(m.keySet());
    assertThat(back).isEqualTo(m);

    // entries are deflated NAME.npy, as numpy.savez_compressed writes them
    try (ZipFile zip = new ZipFile(p.toFile())) {
      assertThat(zip.stream().map(ZipEntry::getName))
          .containsExactly("fc1.weight.npy", "fc1.bias.npy", "a.b.c.d.npy", "empty.npy", "scalar.npy");
      assertThat(zip.stream().map(ZipEntry::getMethod)).containsOnly(ZipEntry.DEFLATED);
    }
    // same tensors, same bytes
    Path again = dir.resolve("again.npz");
    TensorFiles.write(again, m);
    assertThat(Files.readAllBytes(again)).isEqualTo(Files.readAllBytes(p));
  }

  @Test
  void emptyNpzRoundTrips() throws IOException {
    Path p = dir.resolve("none.npz");
    TensorFiles.write(p, Map.of());
    assertThat(TensorFiles.read(p)).isEmpty();
  }

  @Test
  void extensionIsCaseInsensitive() throws IOException {
    Path p = dir.resolve("UPPER.NPY");
    TensorFiles.writeNpy(p, Tensor.vector(1, 2));
    assertThat(TensorFiles.read(p).get("param").data()).containsExactly(1, 2);
  }

  // ------------------------------------------------------------------------------------------- errors

  @Test
  void missingFile() {
    assertMessage(dir.resolve("nope.npy"), "no such file");
    assertMessage(dir.resolve("nope.npz"), "no such file");
  }

  @Test
  void directory() throws IOException {
    Path d = Files.createDirectory(dir.resolve("d.npy"));
    assertMessage(d, "is a directory");
  }

  @Test
  void unreadableFile() throws IOException {
    assumeFalse("root".equals(System.getProperty("user.name")), "root can read any file");
    Path p = file("locked.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), f32le(1)));
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("---------"));
    assertMessage(p, "cannot read: permission denied");
  }

  @Test
  void badMagic() throws IOException {
    assertMessage(file("text.npy", "hello, world\n".getBytes(StandardCharsets.US_ASCII)),
        "not an NPY file (bad magic)", "expected a NumPy .npy file");
    assertMessage(file("empty.npy", new byte[0]), "not an NPY file", "empty");
    assertMessage(file("short.npy", new byte[] {(byte) 0x93, 'N', 'U'}), "not an NPY file (bad magic)");
  }

  @Test
  void unsupportedDtype() throws IOException {
    Path f8 = file("f8.npy", npy(1, header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"), new byte[16]));
    assertThatThrownBy(() -> TensorFiles.read(f8))
        .isInstanceOf(TensorFileException.class)
        .hasMessage(f8 + ": unsupported dtype: got '<f8', only '<f4' (little-endian float32) is supported");
    Path be = file("be.npy", npy(1, header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }"), new byte[8]));
    assertMessage(be, "got '>f4', only '<f4' (little-endian float32) is supported");
    Path structured = file("rec.npy",
        npy(1, header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"), new byte[8]));
    assertMessage(structured, "unsupported dtype: got [('a', '<f4')]");
  }

  @Test
  void fortranOrder() throws IOException {
    Path p = file("f.npy", npy(1, header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), new byte[24]));
    assertMessage(p, "Fortran-order", "not supported", "only C order");
  }

  @Test
  void truncatedData() throws IOException {
    Path p = file("t.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (512,), }"), new byte[100]));
    assertMessage(p, "truncated data: expected 2048 bytes of data", "got 100");
    Path h = file("h.npy", Arrays.copyOf(npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), f32le(1)), 20));
    assertMessage(h, "truncated NPY header");
  }

  @Test
  void trailingBytes() throws IOException {
    Path p = file("x.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), new byte[12]));
    assertMessage(p, "unexpected 8 bytes after the data");
  }

  @Test
  void unsupportedVersionAndMalformedHeaders() throws IOException {
    byte[] v3 = npy(2, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), f32le(1));
    v3[6] = 3;
    assertMessage(file("v3.npy", v3), "unsupported NPY format version 3.0", "only versions 1.0 and 2.0");
    assertMessage(file("k.npy", npy(1, header("{'descr': '<f4', 'shape': (1,), }"), f32le(1))),
        "malformed NPY header", "expected exactly 'descr', 'fortran_order' and 'shape'");
    assertMessage(file("s.npy", npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }"), f32le(1))),
        "malformed NPY header: shape is (-1,)");
    assertMessage(file("g.npy", npy(1, "garbage\n", f32le(1))), "malformed NPY header");
    assertMessage(file("u.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,", f32le(1))),
        "malformed NPY header", "unexpected end of header");
  }

  @Test
  void npzErrors() throws IOException {
    assertMessage(file("notzip.npz", "PK but not really".getBytes(StandardCharsets.US_ASCII)), "not an NPZ file");

    Path wrongEntry = dir.resolve("wrong.npz");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(wrongEntry))) {
      zip.putNextEntry(new ZipEntry("weights.bin"));
      zip.write(1);
      zip.closeEntry();
    }
    assertMessage(wrongEntry, "entry 'weights.bin' does not end in .npy", "an .npz holds only NAME.npy entries");

    Path badDtype = dir.resolve("bad.npz");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(badDtype))) {
      zip.putNextEntry(new ZipEntry("fc.weight.npy"));
      zip.write(npy(1, header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"), new byte[8]));
      zip.closeEntry();
    }
    assertThatThrownBy(() -> TensorFiles.read(badDtype))
        .hasMessage(badDtype + ": entry 'fc.weight.npy': unsupported dtype: got '<f8', "
            + "only '<f4' (little-endian float32) is supported");

    Path truncated = dir.resolve("trunc.npz");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(truncated))) {
      zip.putNextEntry(new ZipEntry("p.npy"));
      zip.write(npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (512,), }"), new byte[100]));
      zip.closeEntry();
    }
    assertMessage(truncated, "entry 'p.npy': truncated data: expected 2048 bytes of data", "got 100");

    // Latin-1 bytes without the zip's UTF-8 flag: 0xE9 is not valid UTF-8. The JDK refuses such a name when
    // it opens the zip, but decodes a comment only while iterating (the case TensorFilesFuzzTest found)
    Path latin1Name = latin1Zip("latin1-name.npz", "caf\u00e9.npy", null);
    assertMessage(latin1Name, "not an NPZ file", "bad entry name");
    Path latin1Comment = latin1Zip("latin1-comment.npz", "b.npy", "caf\u00e9");
    assertThatThrownBy(() -> TensorFiles.read(latin1Comment))
        .isInstanceOf(TensorFileException.class)
        .hasMessageStartingWith(latin1Comment + ": entry 2 of the zip has a name or comment that is not valid UTF-8 (")
        .hasMessageEndingWith("); an .npz holds NAME.npy entries as numpy.savez writes them");
  }

  private Path latin1Zip(String fileName, String secondEntry, String secondComment) throws IOException {
    Path p = dir.resolve(fileName);
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(p), StandardCharsets.ISO_8859_1)) {
      for (String name : new String[] {"a.npy", secondEntry}) {
        ZipEntry e = new ZipEntry(name);
        if (name.equals(secondEntry) && secondComment != null) {
          e.setComment(secondComment);
        }
        zip.putNextEntry(e);
        zip.write(npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), f32le(1)));
        zip.closeEntry();
      }
    }
    return p;
  }

  @Test
  void unsupportedExtension() throws IOException {
    Path p = file("weights.bin", new byte[] {1});
    assertMessage(p, "unsupported extension", ".npy", ".npz");
    assertThatThrownBy(() -> TensorFiles.write(dir.resolve("out.txt"), Map.of("param", Tensor.vector(1))))
        .isInstanceOf(TensorFileException.class)
        .hasMessageContaining("out.txt: unsupported extension; expected a file ending in .npy");
  }

  // -------------------------------------------------------------------------------- writing, atomicity

  @Test
  void npyTakesExactlyOneTensor() throws IOException {
    Path p = dir.resolve("two.npy");
    Map<String, Tensor> two = new LinkedHashMap<>();
    two.put("a", Tensor.vector(1));
    two.put("b", Tensor.vector(2));
    assertThatThrownBy(() -> TensorFiles.write(p, two))
        .isInstanceOf(TensorFileException.class)
        .hasMessage(p + ": an .npy file holds exactly one tensor, got 2; use an .npz file for several");
    assertThat(p).doesNotExist();
    // the name of a single tensor is not stored: it reads back as 'param'
    TensorFiles.write(p, Map.of("weights", Tensor.vector(4)));
    assertThat(TensorFiles.read(p)).containsOnlyKeys("param");
  }

  @Test
  void writeIntoMissingDirectoryFails() {
    Path p = dir.resolve("no/such/dir/out.npz");
    assertThatThrownBy(() -> TensorFiles.write(p, Map.of("a", Tensor.vector(1))))
        .isInstanceOf(TensorFileException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void failedWriteLeavesExistingFileAndNoTemporaryFiles() throws IOException {
    Path p = dir.resolve("out.npz");
    Files.write(p, new byte[] {42});
    assertThatThrownBy(() -> TensorFiles.writeAtomically(p, out -> {
      out.write(new byte[100_000]);
      throw new IOException("disk full");
    })).isInstanceOf(TensorFileException.class).hasMessage(p + ": cannot write: disk full");
    assertThat(Files.readAllBytes(p)).containsExactly(42);
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(p);
    }
  }

  @Test
  void failedWriteOfNewFileLeavesNothing() {
    Path p = dir.resolve("new.npy");
    assertThatThrownBy(() -> TensorFiles.writeAtomically(p, out -> {
      out.write(1);
      throw new IllegalStateException("bug");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(dir).isEmptyDirectory();
  }

  @Test
  void overwriteReplacesTheFile() throws IOException {
    Path p = dir.resolve("w.npz");
    TensorFiles.write(p, Map.of("a", Tensor.vector(1, 2, 3)));
    TensorFiles.write(p, Map.of("b", Tensor.vector(4)));
    assertThat(TensorFiles.read(p)).containsExactly(Map.entry("b", Tensor.vector(4)));
    try (var files = Files.list(dir)) {
      assertThat(files).containsExactly(p);
    }
  }

  @Test
  void rejectsBadNames() {
    Map<String, Tensor> m = new LinkedHashMap<>();
    m.put("", Tensor.vector(1));
    assertThatThrownBy(() -> TensorFiles.write(dir.resolve("n.npz"), m))
        .isInstanceOf(TensorFileException.class)
        .hasMessageContaining("invalid tensor name ''");
  }

  @Test
  void readRefusesNamesThatCouldNotBeWrittenBack() throws IOException {
    // found by the long fuzz run: an entry named "a\0b.npy" read as tensor "a\0b", which write() refuses
    Path p = dir.resolve("nul.npz");
    try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(p))) {
      zip.putNextEntry(new ZipEntry("a\u0000b.npy"));
      zip.write(npy(1, header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"), f32le(1)));
      zip.closeEntry();
    }
    assertThatThrownBy(() -> TensorFiles.read(p))
        .isInstanceOf(TensorFileException.class)
        .hasMessage(p + ": entry 'a\\x00b.npy' names tensor 'a\\x00b'; "
            + "tensor names must be non-empty and contain no NUL character");
  }

  @Test
  void messagesAreOneLineEvenForOddBytes() throws IOException {
    Path p = file("odd.npy", npy(1, header("{'descr': '<f4\n\u0001', 'fortran_order': False, 'shape': (1,), }"), f32le(1)));
    assertMessage(p, "unsupported dtype: got '<f4\\x0a\\x01'");
  }

}
