package dev.shardopt.checkpoint;

import java.io.ByteArrayOutputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/**
 * The file names of a checkpoint's tensor files: {@code <tensor>.npy} for the parameters and
 * {@code <tensor>.<slot>.npy} for an optimizer state slot, where each name is escaped so that any tensor
 * name (slashes, spaces, dots, unicode, ...) gives a safe, unique file name.
 *
 * <p><b>The escaping</b> is percent-encoding of the name's UTF-8 bytes: each byte outside
 * {@code [A-Za-z0-9_-]} becomes {@code %XX} (two upper-case hex digits), so {@code '.'} becomes {@code %2E}
 * and {@code '%'} becomes {@code %25}. Dots are escaped because a literal dot separates the tensor from the
 * slot: without it, tensor {@code "a.m"}'s parameters and tensor {@code "a"}'s slot {@code "m"} would both be
 * {@code a.m.npy}. Then the only dots in a file name are separators, and the name decodes back to (tensor,
 * slot) unambiguously: {@code encoder%2Elayer%2E0%2Eweight.m.npy} is tensor {@code encoder.layer.0.weight},
 * slot {@code m}. In Python, {@code urllib.parse.unquote} decodes a part. No escaped name is empty, is
 * {@code "."} or {@code ".."}, or holds a path separator.
 *
 * <p><b>Long names.</b> A file name longer than {@value #MAX_NAME_BYTES} bytes (most filesystems' limit) is
 * cut at an escape boundary and gets {@code ~} and 16 hex digits of the SHA-256 of (tensor, slot) instead:
 * {@code ~} never appears in an escaped name, so these cannot collide with others; {@link #parse} does not
 * decode them (the manifest holds every file's real tensor and slot, and is the authority).
 *
 * <p>Filesystems that ignore case (macOS, Windows defaults) would merge {@code W.npy} and {@code w.npy}: a
 * checkpoint of a model with names that differ only by case needs a case-sensitive filesystem.
 */
public final class FileNames {

  /** The suffix of every tensor file. */
  public static final String SUFFIX = ".npy";
  /** The longest file name written, in bytes. */
  public static final int MAX_NAME_BYTES = 255;

  private static final HexFormat HEX = HexFormat.of().withUpperCase();

  private FileNames() {}

  /** A tensor name and a slot name (empty for the parameters). */
  public record TensorSlot(String tensor, String slot) {}

  /**
   * The file name of {@code tensor}'s parameters ({@code slot} empty) or of its state slot {@code slot}.
   *
   * @throws IllegalArgumentException if the tensor name is empty
   */
  public static String fileName(String tensor, String slot) {
    if (tensor == null || tensor.isEmpty()) {
      throw new IllegalArgumentException("a tensor name must not be empty");
    }
    if (slot == null) {
      slot = "";
    }
    String t = escape(tensor);
    String s = slot.isEmpty() ? "" : "." + escape(slot);
    String name = t + s + SUFFIX;
    if (name.length() <= MAX_NAME_BYTES) {
      return name;
    }
    String hash = "~" + hash(tensor, slot);
    int room = MAX_NAME_BYTES - hash.length() - SUFFIX.length();
    // Keep at least a readable prefix of the tensor; cut the slot too if it alone is too long.
    if (s.length() > room / 2) {
      s = cut(s, room / 2);
    }
    t = cut(t, room - s.length());
    return t + hash + s + SUFFIX;
  }

  /** Cuts an escaped name to at most {@code max} characters without splitting a {@code %XX} escape. */
  private static String cut(String escaped, int max) {
    if (escaped.length() <= max) {
      return escaped;
    }
    int end = max;
    if (end >= 1 && escaped.charAt(end - 1) == '%') {
      end -= 1;
    } else if (end >= 2 && escaped.charAt(end - 2) == '%') {
      end -= 2;
    }
    return escaped.substring(0, end);
  }

  private static String hash(String tensor, String slot) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(tensor.getBytes(StandardCharsets.UTF_8));
      d.update((byte) 0);
      d.update(slot.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d.digest(), 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("SHA-256 is always available", e);
    }
  }

  /** Percent-encodes every UTF-8 byte of {@code name} outside {@code [A-Za-z0-9_-]}. */
  public static String escape(String name) {
    byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
    StringBuilder b = new StringBuilder(bytes.length);
    for (byte x : bytes) {
      int c = x & 0xff;
      if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
        b.append((char) c);
      } else {
        b.append('%').append(HEX.toHexDigits((byte) c));
      }
    }
    return b.toString();
  }

  /**
   * The name that {@link #escape} turned into {@code escaped}, or empty if {@code escaped} is not an escaped
   * name (a character outside the safe set, a bad escape, a lower-case hex digit, an escape of a safe
   * character, or bytes that are not UTF-8): each name has exactly one escaped form.
   */
  public static Optional<String> unescape(String escaped) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(escaped.length());
    for (int i = 0; i < escaped.length(); i++) {
      char c = escaped.charAt(i);
      if (c == '%') {
        if (i + 3 > escaped.length()) {
          return Optional.empty();
        }
        String hex = escaped.substring(i + 1, i + 3);
        if (!hex.equals(hex.toUpperCase(java.util.Locale.ROOT)) || !HexFormat.isHexDigit(hex.charAt(0))
            || !HexFormat.isHexDigit(hex.charAt(1))) {
          return Optional.empty();
        }
        int v = HexFormat.fromHexDigits(hex);
        if (isSafe(v)) {
          return Optional.empty();
        }
        out.write(v);
        i += 2;
      } else if (isSafe(c)) {
        out.write(c);
      } else {
        return Optional.empty();
      }
    }
    try {
      return Optional.of(StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(out.toByteArray()))
          .toString());
    } catch (CharacterCodingException e) {
      return Optional.empty();
    }
  }

  private static boolean isSafe(int c) {
    return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-';
  }

  /**
   * The tensor and slot of a file name made by {@link #fileName}, or empty if it is not one (or is a
   * shortened long name, which only the manifest maps back).
   */
  public static Optional<TensorSlot> parse(String fileName) {
    if (!fileName.endsWith(SUFFIX)) {
      return Optional.empty();
    }
    String stem = fileName.substring(0, fileName.length() - SUFFIX.length());
    int dot = stem.indexOf('.');
    String t = dot < 0 ? stem : stem.substring(0, dot);
    String s = dot < 0 ? "" : stem.substring(dot + 1);
    if (t.isEmpty() || (dot >= 0 && s.isEmpty())) {
      return Optional.empty();
    }
    Optional<String> tensor = unescape(t);
    Optional<String> slot = s.isEmpty() ? Optional.of("") : unescape(s);
    if (tensor.isEmpty() || slot.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new TensorSlot(tensor.get(), slot.get()));
  }
}
