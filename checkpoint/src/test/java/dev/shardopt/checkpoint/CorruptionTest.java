package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.v1.CheckpointManifest;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each kind of damage gets its own clear error, naming the file. */
class CorruptionTest {

  @TempDir Path root;
  Path dir;
  Path file;

  @BeforeEach
  void writeACheckpoint() throws Exception {
    dir = Fixtures.checkpoint(root, 50, 50);
    file = dir.resolve(FileNames.fileName("encoder/layer.0.weight", "m"));
  }

  private static void flip(Path f, long at, int mask) throws Exception {
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.seek(at);
      int b = r.read();
      r.seek(at);
      r.write(b ^ mask);
    }
  }

  private static void put(Path f, long at, String ascii) throws Exception {
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.seek(at);
      r.write(ascii.getBytes(StandardCharsets.US_ASCII));
    }
  }

  private long indexOf(Path f, String s) throws Exception {
    return new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).indexOf(s);
  }

  private AbstractThrowableAssert<?, ? extends Throwable> verifyFails(CheckpointException.Kind kind) {
    return assertThatThrownBy(() -> {
      try (CheckpointReader r = CheckpointReader.open(dir)) {
        r.verify();
      }
    }).isInstanceOfSatisfying(CheckpointException.class, e -> assertThat(e.kind()).isEqualTo(kind))
        .hasMessageStartingWith(file + ": ");
  }

  @Test
  void aFlippedDataByte() throws Exception {
    flip(file, 128 + 4 * 1000 + 2, 0x10);
    verifyFails(CheckpointException.Kind.CHECKSUM).hasMessageMatching(
        ".*: checksum mismatch: CRC32C got 0x[0-9a-f]{8} expected 0x[0-9a-f]{8} \\(the file is corrupted\\)");
    // The one-pass restore check finds it too.
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      List<FileRange> reads = new ArrayList<>();
      for (CheckpointFile f : r.plan().files()) {
        reads.add(r.readRange(f.tensor(), f.slot(), 0, new float[(int) f.elements()]));
      }
      assertThatThrownBy(() -> r.checkRanges(reads)).hasMessageStartingWith(file + ": checksum mismatch");
    }
  }

  @Test
  void aFlippedHeaderByteInTheShape() throws Exception {
    put(file, indexOf(file, "(64, 33)"), "(64, 13)");
    verifyFails(CheckpointException.Kind.SHAPE)
        .hasMessageContaining("shape mismatch: the npy header has [64, 13], the manifest [64, 33]");
  }

  @Test
  void aFlippedHeaderByteInTheDtype() throws Exception {
    put(file, indexOf(file, "<f4"), "<f8");
    verifyFails(CheckpointException.Kind.DTYPE).hasMessageContaining("unsupported dtype: got '<f8'");
    assertThat(CheckpointException.Kind.DTYPE.isInvalidArgument()).isTrue();
  }

  @Test
  void aFlippedHeaderByteInTheMagic() throws Exception {
    flip(file, 1, 0x01);
    verifyFails(CheckpointException.Kind.MALFORMED).hasMessageContaining("not an NPY file (bad magic)");
  }

  @Test
  void aFlippedHeaderByteInThePadding() throws Exception {
    flip(file, 100, 0x29); // a space becomes a tab: the header still parses, the checksum does not match
    verifyFails(CheckpointException.Kind.CHECKSUM).hasMessageContaining("checksum mismatch");
    flip(file, 100, 0x29 ^ 0x01); // now '!': no longer a dict
    verifyFails(CheckpointException.Kind.MALFORMED).hasMessageContaining("malformed NPY header: unexpected text");
  }

  @Test
  void aTruncatedFile() throws Exception {
    long size = Files.size(file);
    try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "rw")) {
      r.setLength(size - 7);
    }
    verifyFails(CheckpointException.Kind.TRUNCATED).hasMessage(file + ": truncated: size " + (size - 7)
        + " expected " + size);
    assertThat(CheckpointException.Kind.TRUNCATED.isInvalidArgument()).isFalse();
  }

  @Test
  void aFileWithBytesAppended() throws Exception {
    long size = Files.size(file);
    Files.write(file, new byte[] {1}, java.nio.file.StandardOpenOption.APPEND);
    verifyFails(CheckpointException.Kind.TRUNCATED).hasMessage(file + ": wrong size: size " + (size + 1)
        + " expected " + size);
  }

  @Test
  void aDeletedFile() throws Exception {
    Files.delete(file);
    verifyFails(CheckpointException.Kind.MISSING).hasMessageContaining("missing")
        .hasMessageContaining("tensor 'encoder/layer.0.weight', slot 'm'");
  }

  private AbstractThrowableAssert<?, ? extends Throwable> openFails(Path path, CheckpointException.Kind kind) {
    Path manifest = dir.resolve("manifest.json");
    return assertThatThrownBy(() -> CheckpointReader.open(path).close())
        .isInstanceOfSatisfying(CheckpointException.class, e -> assertThat(e.kind()).isEqualTo(kind))
        .hasMessageStartingWith(manifest + ": ");
  }

  @Test
  void aFlippedManifestDigitIsCaughtByTheManifestsOwnChecksum() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    long at = indexOf(manifest, "\"trainers\": 3") + "\"trainers\": ".length();
    flip(manifest, at, 0x01); // 3 -> 2: still valid JSON, still a valid manifest
    openFails(dir, CheckpointException.Kind.CHECKSUM)
        .hasMessageContaining("checksum mismatch: manifest_crc32c").hasMessageContaining("modified or corrupted");
    // Opening the parent does not silently fall back to an older checkpoint: it says so.
    openFails(root, CheckpointException.Kind.CHECKSUM).hasMessageContaining("this is the latest checkpoint under "
        + root + ": fix or delete it, or pass an older checkpoint's directory");
  }

  @Test
  void aFlippedManifestByteThatBreaksTheJson() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    flip(manifest, 0, 0x01); // the opening '{' becomes 'z'
    openFails(dir, CheckpointException.Kind.MALFORMED).hasMessageContaining("malformed manifest");
    flip(manifest, 0, 0x01);
    // A quote that becomes '#' starts a comment for protobuf's (lenient) JSON parser: the line is lost, and the
    // manifest's own checksum catches that.
    flip(manifest, indexOf(manifest, "\"model_id\""), 0x01);
    openFails(dir, CheckpointException.Kind.CHECKSUM).hasMessageContaining("checksum mismatch");
  }

  @Test
  void aManifestFromANewerFormatVersion() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    String json = Files.readString(manifest).replace("\"format_version\": 1,",
        "\"format_version\": 2,\n  \"a_field_of_version_2\": {\"x\": 1},");
    Files.writeString(manifest, json);
    openFails(dir, CheckpointException.Kind.VERSION)
        .hasMessage(manifest + ": format version 2 is newer than this build reads (at most 1); use a newer Shardopt");
    assertThat(CheckpointException.Kind.VERSION.isInvalidArgument()).isTrue();
  }

  @Test
  void aManifestThatPointsOutsideTheDirectoryIsRefusedEvenIfResealed() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    CheckpointManifest m = Manifests.read(manifest);
    CheckpointManifest evil = Manifests.seal(m.toBuilder()
        .setFiles(0, m.getFiles(0).toBuilder().setPath("../../etc/passwd")).build());
    Files.writeString(manifest, Manifests.toJson(evil));
    openFails(dir, CheckpointException.Kind.MALFORMED).hasMessageContaining("should be named");
  }

  @Test
  void aManifestOfAnotherStepThanItsDirectory() throws Exception {
    Path manifest = dir.resolve("manifest.json");
    Files.writeString(manifest, Manifests.toJson(Manifests.seal(Manifests.read(manifest).toBuilder().setStep(51).build())));
    openFails(dir, CheckpointException.Kind.MALFORMED).hasMessageContaining("of step 51 but the directory is step-0000000050");
  }
}
