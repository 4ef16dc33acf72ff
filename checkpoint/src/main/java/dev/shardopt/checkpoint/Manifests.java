package dev.shardopt.checkpoint;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.shardopt.v1.CheckpointManifest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * {@code manifest.json}: a {@link CheckpointManifest} printed with protobuf's JsonFormat (proto field names,
 * snake_case, every field printed, 64-bit integers as JSON strings as JsonFormat does), sealed with a
 * checksum of its own content ({@code manifest_crc32c}).
 */
public final class Manifests {

  /** The format version this build writes and the newest it reads. */
  public static final int FORMAT_VERSION = 1;
  /** The manifest's file name in a checkpoint directory. */
  public static final String FILE_NAME = "manifest.json";

  private Manifests() {}

  /** The manifest as JSON text, ending with a newline. */
  public static String toJson(CheckpointManifest m) {
    try {
      return JsonFormat.printer().preservingProtoFieldNames().alwaysPrintFieldsWithNoPresence().print(m) + "\n";
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException("a checkpoint manifest could not be printed as JSON", e);
    }
  }

  /**
   * The CRC32C that {@code manifest_crc32c} must hold: of the message's deterministic binary encoding with
   * that field cleared.
   */
  public static int checksum(CheckpointManifest m) {
    CheckpointManifest cleared = m.toBuilder().clearManifestCrc32C().build();
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(cleared.getSerializedSize());
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.useDeterministicSerialization();
      cleared.writeTo(out);
      out.flush();
      CRC32C crc = new CRC32C();
      crc.update(bytes.toByteArray());
      return (int) crc.getValue();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code m} with {@code manifest_crc32c} set. */
  public static CheckpointManifest seal(CheckpointManifest m) {
    return m.toBuilder().setManifestCrc32C(checksum(m)).build();
  }

  /**
   * Reads and checks {@code file}: valid JSON of a manifest, a format version this build reads, and its own
   * checksum. Other fields are checked by {@link CheckpointReader}.
   */
  public static CheckpointManifest read(Path file) throws CheckpointException {
    String json;
    try {
      byte[] bytes = Files.readAllBytes(file);
      json = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
    } catch (NoSuchFileException e) {
      throw new CheckpointException(CheckpointException.Kind.INCOMPLETE, file,
          "missing: no manifest, so the checkpoint is incomplete (its writing failed or was interrupted)", e);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, file,
          "malformed manifest: not UTF-8 text (corrupted?)", e);
    } catch (IOException e) {
      throw CheckpointException.io(file, "read", e);
    }
    // First leniently, for the version: a newer format may have fields this build does not know.
    CheckpointManifest.Builder lenient = CheckpointManifest.newBuilder();
    try {
      JsonFormat.parser().ignoringUnknownFields().merge(json, lenient);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, file,
          "malformed manifest: " + e.getMessage() + " (corrupted or not a Shardopt checkpoint manifest)", e);
    }
    int version = lenient.getFormatVersion();
    if (version > FORMAT_VERSION) {
      throw new CheckpointException(CheckpointException.Kind.VERSION, file, "format version " + version
          + " is newer than this build reads (at most " + FORMAT_VERSION + "); use a newer Shardopt");
    }
    if (version < 1) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, file,
          "malformed manifest: format_version " + version + " (missing or corrupted); expected 1.." + FORMAT_VERSION);
    }
    CheckpointManifest.Builder strict = CheckpointManifest.newBuilder();
    try {
      JsonFormat.parser().merge(json, strict);
    } catch (InvalidProtocolBufferException | RuntimeException e) {
      throw new CheckpointException(CheckpointException.Kind.MALFORMED, file,
          "malformed manifest: " + e.getMessage() + " (corrupted?)", e);
    }
    CheckpointManifest m = strict.build();
    int expected = checksum(m);
    if (m.getManifestCrc32C() != expected) {
      throw new CheckpointException(CheckpointException.Kind.CHECKSUM, file, "checksum mismatch: manifest_crc32c "
          + hex(m.getManifestCrc32C()) + " but the content's is " + hex(expected)
          + " (the manifest was modified or corrupted)");
    }
    return m;
  }

  /** A CRC as {@code 0x} and 8 hex digits. */
  public static String hex(int crc) {
    return String.format("0x%08x", crc);
  }

  /** A name for a message: control characters as {@code \\uXXXX}, the rest as is (unicode too). */
  public static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
        b.append(c == '\'' || c == '\\' ? "\\" + c : String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
