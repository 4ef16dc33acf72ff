package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Python user opens the files with numpy.load and finds the tensors by the manifest. Needs
 * /usr/bin/python3 with numpy (Debian's python3-numpy), or another interpreter named by the system property
 * {@code shardopt.python} (e.g. {@code -Dshardopt.python=$(command -v python3)}); skipped otherwise.
 */
class NumpyInteropTest {

  static final Path PYTHON = Path.of(System.getProperty("shardopt.python", "/usr/bin/python3"));

  static boolean numpyAvailable() {
    if (!Files.isExecutable(PYTHON)) {
      return false;
    }
    try {
      Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import numpy").redirectErrorStream(true).start();
      return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void numpyLoadsEveryFileWithItsShapeAndValues(@TempDir Path root) throws Exception {
    assumeTrue(numpyAvailable(), PYTHON + " with numpy is not installed");
    Path dir = Fixtures.checkpoint(root, 77, 77);
    Map<String, float[]> values = Fixtures.values(Fixtures.plan(), 77);
    String script = String.join("\n",
        "import json, sys, hashlib, urllib.parse, numpy",
        "d = sys.argv[1]",
        "m = json.load(open(d + '/manifest.json', encoding='utf-8'))",
        "for f in m['files']:",
        "    a = numpy.load(d + '/' + f['path'])",
        "    assert a.dtype == numpy.dtype('<f4'), a.dtype",
        "    assert a.flags['C_CONTIGUOUS']",
        "    assert list(a.shape) == [int(x) for x in f['shape']], (a.shape, f['shape'])",
        "    parts = f['path'][:-len('.npy')].split('.')",
        "    assert urllib.parse.unquote(parts[0], errors='strict') == f['tensor'], parts",
        "    assert (urllib.parse.unquote(parts[1]) if len(parts) > 1 else '') == f['slot'], parts",
        "    h = hashlib.sha256(a.astype('<f4').tobytes()).hexdigest()",
        "    print(json.dumps([f['path'], list(a.shape), h]))",
        "");
    Process p = new ProcessBuilder(PYTHON.toString(), "-c", script, dir.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    List<String> expected = new ArrayList<>();
    for (CheckpointFile f : Fixtures.plan().files()) {
      float[] v = values.get(f.path());
      ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
      for (float x : v) {
        b.putFloat(x);
      }
      String shape = java.util.Arrays.stream(f.shape()).mapToObj(Long::toString)
          .collect(java.util.stream.Collectors.joining(", ", "[", "]"));
      expected.add("[\"" + f.path() + "\", " + shape + ", \""
          + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array())) + "\"]");
    }
    assertThat(out.lines().toList()).containsExactlyElementsOf(expected);
  }

  @Test
  void aFileNumpyWroteIsReadByTheHeaderParser(@TempDir Path dir) throws Exception {
    assumeTrue(numpyAvailable(), PYTHON + " with numpy is not installed");
    Path f = dir.resolve("x.npy");
    Process p = new ProcessBuilder(PYTHON.toString(), "-c",
        "import numpy, sys; numpy.save(sys.argv[1], numpy.arange(24, dtype='<f4').reshape(2, 3, 4))", f.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    byte[] bytes = Files.readAllBytes(f);
    NpyHeader h = NpyHeader.read(new java.io.ByteArrayInputStream(bytes));
    assertThat(h.shape()).containsExactly(2, 3, 4);
    // numpy's header is byte for byte the one we write.
    assertThat(java.util.Arrays.copyOf(bytes, h.length())).isEqualTo(NpyHeader.encode(new long[] {2, 3, 4}));
    assertThat(ByteBuffer.wrap(bytes, h.length(), 4 * 24).order(ByteOrder.LITTLE_ENDIAN).getFloat(4 * 23 + h.length()))
        .isEqualTo(23f);
  }
}
