package dev.shardopt.cli.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Reads every file of the conformance cases (src/test/resources/reference, a copy of shared/reference) and
 * checks it against what is known about it independently of the reader: the names, shapes, steps and
 * trainers in case.properties, the README's notes on non-finite gradients, and the raw little-endian bytes
 * after the header.
 */
class ReferenceFilesTest {

  static Path referenceDir() throws URISyntaxException {
    return Path.of(ReferenceFilesTest.class.getResource("/reference/README.md").toURI()).getParent();
  }

  /** The case folder names, e.g. {@code p01_sgd_defaults}. */
  static Stream<String> cases() throws IOException, URISyntaxException {
    List<String> names = new ArrayList<>();
    try (var s = Files.list(referenceDir())) {
      s.filter(Files::isDirectory).map(d -> d.getFileName().toString()).sorted().forEach(names::add);
    }
    return names.stream();
  }

  @Test
  void all32CasesAreThere() throws Exception {
    assertThat(cases()).hasSize(32);
  }

  record CaseInfo(int steps, int trainers, LinkedHashMap<String, long[]> tensors, String pipeline) {}

  static CaseInfo info(Path dir) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("case.properties"))) {
      p.load(r);
    }
    LinkedHashMap<String, long[]> tensors = new LinkedHashMap<>();
    for (String item : p.getProperty("tensors").split(",")) {
      int colon = item.lastIndexOf(':');
      String[] dims = item.substring(colon + 1).split("x");
      long[] shape = new long[dims.length];
      for (int i = 0; i < dims.length; i++) {
        shape[i] = Long.parseLong(dims[i]);
      }
      tensors.put(item.substring(0, colon), shape);
    }
    return new CaseInfo(Integer.parseInt(p.getProperty("steps")), Integer.parseInt(p.getProperty("trainers")),
        tensors, Files.readString(dir.resolve("pipeline.txt")).strip());
  }

  static long[] prepend(long[] shape, long... lead) {
    long[] out = new long[lead.length + shape.length];
    System.arraycopy(lead, 0, out, 0, lead.length);
    System.arraycopy(shape, 0, out, lead.length, shape.length);
    return out;
  }

  static Path dataFile(Path dir, String stem) {
    Path npy = dir.resolve(stem + ".npy");
    return Files.exists(npy) ? npy : dir.resolve(stem + ".npz");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void shapesMatchCaseProperties(String name) throws Exception {
    Path dir = referenceDir().resolve(name);
    CaseInfo info = info(dir);
    int t = info.steps();
    int k = info.trainers();
    Map<String, Tensor> init = TensorFiles.read(dataFile(dir, "init"));
    Map<String, Tensor> grads = TensorFiles.read(dataFile(dir, "grads"));
    Map<String, Tensor> expected = TensorFiles.read(dataFile(dir, "expected"));

    for (Map<String, Tensor> m : List.of(init, grads, expected)) {
      assertThat(m.keySet()).as("names in file order").containsExactlyElementsOf(info.tensors().keySet());
    }
    for (var e : info.tensors().entrySet()) {
      long[] shape = e.getValue();
      assertThat(init.get(e.getKey()).shape()).as("init %s", e.getKey()).containsExactly(shape);
      assertThat(expected.get(e.getKey()).shape()).as("expected %s", e.getKey()).containsExactly(prepend(shape, t));
      long[] gradShape = k == 1 ? prepend(shape, t) : prepend(shape, t, k);
      assertThat(grads.get(e.getKey()).shape()).as("grads %s", e.getKey()).containsExactly(gradShape);
    }

    // README: "Gradients contain NaN/Inf only in skipNonFinite() cases"; parameters are always finite.
    for (Map<String, Tensor> m : List.of(init, expected)) {
      m.values().forEach(x -> assertThat(allFinite(x.data())).isTrue());
    }
    if (!info.pipeline().contains("skipNonFinite")) {
      grads.values().forEach(x -> assertThat(allFinite(x.data())).isTrue());
    }
  }

  static boolean allFinite(float[] v) {
    for (float f : v) {
      if (!Float.isFinite(f)) {
        return false;
      }
    }
    return true;
  }

  @Test
  void p27NonFiniteRowsAreWhereTheReadmeSays() throws Exception {
    // "push 5 is an all-NaN row, push 17 has one +Inf, push 30 one -Inf"
    Tensor g = TensorFiles.read(referenceDir().resolve("p27_adam_skipNonFinite/grads.npy")).get("param");
    for (int push = 0; push < g.dim(0); push++) {
      float[] row = g.row(push).data();
      int nan = 0, posInf = 0, negInf = 0;
      for (float f : row) {
        nan += Float.isNaN(f) ? 1 : 0;
        posInf += f == Float.POSITIVE_INFINITY ? 1 : 0;
        negInf += f == Float.NEGATIVE_INFINITY ? 1 : 0;
      }
      int[] counts = {nan, posInf, negInf};
      switch (push) {
        case 5 -> assertThat(counts).containsExactly(row.length, 0, 0);
        case 17 -> assertThat(counts).containsExactly(0, 1, 0);
        case 30 -> assertThat(counts).containsExactly(0, 0, 1);
        default -> assertThat(counts).as("push %d", push).containsExactly(0, 0, 0);
      }
    }
  }

  @Test
  void p31NanComesFromTrainerOneAtPushSeven() throws Exception {
    Tensor g = TensorFiles.read(referenceDir().resolve("p31_trainers2_nesterov_skipNonFinite/grads.npy")).get("param");
    assertThat(g.shape()).containsExactly(30, 2, 512);
    for (int push = 0; push < 30; push++) {
      for (int trainer = 0; trainer < 2; trainer++) {
        boolean finite = allFinite(g.row(push).row(trainer).data());
        assertThat(finite).as("push %d trainer %d", push, trainer).isEqualTo(!(push == 7 && trainer == 1));
      }
    }
  }

  /**
   * The reader's floats are the file's data bytes read as little-endian float32, bit for bit. The data
   * offset is taken from the raw header-length field (NPY 1.0: bytes 8-9), not from the reader.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void dataIsTheRawLittleEndianBytes(String name) throws Exception {
    Path dir = referenceDir().resolve(name);
    for (String stem : List.of("init", "grads", "expected")) {
      Path f = dataFile(dir, stem);
      Map<String, byte[]> raw = new LinkedHashMap<>();
      if (f.toString().endsWith(".npy")) {
        raw.put("param", Files.readAllBytes(f));
      } else {
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(f))) {
          for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
            raw.put(e.getName().replaceFirst("\\.npy$", ""), zip.readAllBytes());
          }
        }
      }
      Map<String, Tensor> read = TensorFiles.read(f);
      assertThat(read.keySet()).containsExactlyElementsOf(raw.keySet());
      for (var e : raw.entrySet()) {
        byte[] b = e.getValue();
        assertThat(b[6]).as("NPY major version").isEqualTo((byte) 1);
        int dataStart = 10 + ((b[8] & 0xff) | (b[9] & 0xff) << 8);
        float[] got = read.get(e.getKey()).data();
        assertThat(b.length - dataStart).isEqualTo(4 * got.length);
        ByteBuffer bb = ByteBuffer.wrap(b, dataStart, b.length - dataStart).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < got.length; i++) {
          int bits = bb.getInt();
          if (Float.floatToRawIntBits(got[i]) != bits) {
            throw new AssertionError(f + ":" + e.getKey() + " element " + i + ": read "
                + Integer.toHexString(Float.floatToRawIntBits(got[i])) + ", file has " + Integer.toHexString(bits));
          }
        }
      }
    }
  }

  @Test
  void npzCasesAreDeflatedWithDottedNames() throws Exception {
    // what makes these files worth testing: deflated entries whose names contain dots
    Path f = referenceDir().resolve("p29_npz_momentum_freeze_lrScale_clipNorm/grads.npz");
    try (InputStream in = Files.newInputStream(f); ZipInputStream zip = new ZipInputStream(in)) {
      ZipEntry e = zip.getNextEntry();
      assertThat(e.getName()).isEqualTo("embed.weight.npy");
      assertThat(e.getMethod()).isEqualTo(ZipEntry.DEFLATED);
    }
    assertThat(TensorFiles.read(f)).containsKey("embed.weight");
  }
}
