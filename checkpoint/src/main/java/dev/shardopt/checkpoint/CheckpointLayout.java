package dev.shardopt.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Where the checkpoints of a model live, and the first step of writing one (the coordinator's side).
 *
 * <p>Under a checkpoint root {@code DIR}:
 * <ul>
 *   <li>{@code DIR/step-<s>} (s zero-padded to 10 digits) is a checkpoint of step s, complete if and only
 *       if it holds a valid {@code manifest.json};</li>
 *   <li>{@code DIR/step-<s>.partial-<8 hex digits>} is one attempt at writing it, never read. The workers
 *       write their ranges into it; {@link ManifestWriter#commit} writes the manifest into it last (temporary
 *       file, fsync, atomic rename, fsync) and then renames the directory to {@code step-<s>} (fsync of
 *       DIR).</li>
 * </ul>
 * A crash at any moment therefore leaves either a complete {@code step-<s>}, or an attempt directory (with or
 * without a manifest) that readers skip. Each attempt gets its own directory, so a retry at the same step is
 * never blocked by a leftover, and a straggling worker of a failed attempt cannot write into the files of a
 * later one. {@link #create} deletes the leftover attempts of the same step (the caller runs one attempt
 * per root and step at a time); {@link #removeIncomplete} deletes them all.
 */
public final class CheckpointLayout {

  private static final Pattern STEP_DIR = Pattern.compile("step-(\\d{10})");
  private static final Pattern ATTEMPT_DIR = Pattern.compile("step-(\\d{10})\\.partial-[0-9a-f]{8}");
  private static final SecureRandom RANDOM = new SecureRandom();

  private CheckpointLayout() {}

  /** {@code step-<s>}, s zero-padded to 10 digits. */
  public static String stepDirName(long step) {
    if (step < 0 || step > 9_999_999_999L) {
      throw new IllegalArgumentException("step " + step + " does not fit the 10-digit directory name");
    }
    return String.format("step-%010d", step);
  }

  /** The step of a complete-checkpoint directory name {@code step-<10 digits>}, or empty. */
  public static OptionalLong stepOf(String dirName) {
    Matcher m = STEP_DIR.matcher(dirName);
    return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
  }

  /** Whether {@code dirName} is an attempt directory {@code step-<s>.partial-<hex>}. */
  public static boolean isAttemptDir(String dirName) {
    return ATTEMPT_DIR.matcher(dirName).matches();
  }

  /**
   * Starts a checkpoint of {@code step} under {@code root}: creates a fresh attempt directory, and in it every
   * file of {@code plan} with its npy header and its full length (the data is a hole until the workers write
   * it). Creates {@code root} if needed, and deletes earlier attempts at the same step.
   *
   * @throws CheckpointException EXISTS if a complete checkpoint of that step is already there, IO on a
   *     filesystem failure (the attempt directory is then removed)
   */
  public static PendingCheckpoint create(Path root, long step, CheckpointPlan plan) throws CheckpointException {
    String finalName = stepDirName(step);
    Path finalDir = root.resolve(finalName);
    try {
      Files.createDirectories(root);
    } catch (IOException e) {
      throw CheckpointException.io(root, "create the checkpoint directory", e);
    }
    if (Files.exists(finalDir.resolve(Manifests.FILE_NAME))) {
      throw new CheckpointException(CheckpointException.Kind.EXISTS, finalDir,
          "a checkpoint of step " + step + " already exists (it has a " + Manifests.FILE_NAME
              + "); delete it to write it again");
    }
    for (Path old : attempts(root, step)) {
      try {
        Io.deleteRecursively(old);
      } catch (IOException e) {
        throw CheckpointException.io(old, "delete a leftover attempt", e);
      }
    }
    Path dir;
    while (true) {
      byte[] nonce = new byte[4];
      RANDOM.nextBytes(nonce);
      dir = root.resolve(finalName + ".partial-" + HexFormat.of().formatHex(nonce));
      try {
        Files.createDirectory(dir);
        break;
      } catch (FileAlreadyExistsException e) {
        // another nonce
      } catch (IOException e) {
        throw CheckpointException.io(dir, "create", e);
      }
    }
    PendingCheckpoint pending = new PendingCheckpoint(root, dir, step, plan);
    Path current = dir;
    try {
      for (CheckpointFile f : plan.files()) {
        current = dir.resolve(f.path());
        byte[] header = f.header();
        long size = header.length + 4 * f.elements();
        try (FileChannel ch = FileChannel.open(current, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
          Io.writeFully(ch, ByteBuffer.wrap(header), 0);
          if (size > header.length) {
            // One zero byte at the end sets the length; the rest stays a hole (reads as zeros).
            Io.writeFully(ch, ByteBuffer.allocate(1), size - 1);
          }
        }
      }
    } catch (IOException e) {
      CheckpointException failure = CheckpointException.io(current, "create", e);
      try {
        pending.abort();
      } catch (IOException suppressed) {
        failure.addSuppressed(suppressed);
      }
      throw failure;
    }
    return pending;
  }

  /** The attempt directories of {@code step} under {@code root}. */
  static List<Path> attempts(Path root, long step) throws CheckpointException {
    String prefix = stepDirName(step) + ".partial-";
    List<Path> out = new ArrayList<>();
    if (!Files.isDirectory(root)) {
      return out;
    }
    try (Stream<Path> s = Files.list(root)) {
      s.filter(p -> {
        String n = p.getFileName().toString();
        return n.startsWith(prefix) && isAttemptDir(n);
      }).forEach(out::add);
    } catch (IOException e) {
      throw CheckpointException.io(root, "list", e);
    }
    return out;
  }

  /**
   * Deletes every incomplete checkpoint under {@code root}: attempt directories, and {@code step-<s>}
   * directories without a manifest. Call it only when no checkpoint is being written there.
   *
   * @return the directories deleted
   */
  public static List<Path> removeIncomplete(Path root) throws CheckpointException {
    List<Path> removed = new ArrayList<>();
    if (!Files.isDirectory(root)) {
      return removed;
    }
    List<Path> children;
    try (Stream<Path> s = Files.list(root)) {
      children = s.toList();
    } catch (IOException e) {
      throw CheckpointException.io(root, "list", e);
    }
    for (Path p : children) {
      String n = p.getFileName().toString();
      boolean incomplete = isAttemptDir(n)
          || (stepOf(n).isPresent() && Files.isDirectory(p) && !Files.exists(p.resolve(Manifests.FILE_NAME)));
      if (incomplete) {
        try {
          Io.deleteRecursively(p);
        } catch (IOException e) {
          throw CheckpointException.io(p, "delete", e);
        }
        removed.add(p);
      }
    }
    return removed;
  }
}
