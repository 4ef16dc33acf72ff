package dev.shardopt.checkpoint;

import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The last step of writing a checkpoint (the coordinator's side): from the ranges the workers reported,
 * checks that every file is covered exactly, combines the CRC32Cs per file, writes {@code manifest.json}
 * atomically and commits the checkpoint (see {@link CheckpointLayout} for the directories).
 */
public final class ManifestWriter {

  private ManifestWriter() {}

  /**
   * Commits {@code pending}:
   * <ol>
   *   <li>checks that the data of each file is covered by {@code ranges} with no gap and no overlap (a gap
   *       means a worker did not write: the message names the file and the byte range);</li>
   *   <li>checks each file on disk: present, of its full size, with the header {@link CheckpointLayout#create}
   *       wrote; forces a file that no range wrote (a tensor without elements) to disk. The others are on disk
   *       already: the writer forced each range before reporting it ({@link ShardWriter}), and fsync writes a
   *       file's every dirty page and its size, whichever process wrote them, the header included;</li>
   *   <li>writes {@code manifest.json}: {@code model} (model id, pipeline, schedule, trainers, mode,
   *       staleness, tensors, counters, exactly-once bookkeeping, as the caller fills them in) with the format
   *       version, the step, every file with its CRC32C, and the manifest's own checksum; through a temporary
   *       file, fsync, atomic rename, fsync of the directory;</li>
   *   <li>renames the attempt directory to {@code step-<s>} (replacing an incomplete one without a manifest)
   *       and forces the root directory.</li>
   * </ol>
   *
   * @param model the manifest's fields other than format_version, step, files and manifest_crc32c; its
   *     tensors must be the plan's (names and shapes, in order)
   * @param ranges the ranges written, each forced to disk before it was reported
   * @return the committed checkpoint directory
   * @throws CheckpointException INCOMPLETE for a gap or overlap, ARGUMENT for a range of an unknown file or
   *     past the end, MISSING/TRUNCATED/MALFORMED for a file that is not as created, EXISTS if a complete
   *     checkpoint of the step appeared meanwhile, IO on a filesystem failure. The attempt directory is left
   *     as it is (call {@link PendingCheckpoint#abort}).
   */
  public static Path commit(PendingCheckpoint pending, CheckpointManifest model, Collection<FileRange> ranges)
      throws CheckpointException {
    CheckpointPlan plan = pending.plan();
    checkTensors(plan, model);
    if (model.getStep() != 0 && model.getStep() != pending.step()) {
      throw new IllegalArgumentException("the manifest's step " + model.getStep() + " is not the checkpoint's "
          + pending.step());
    }
    Path dir = pending.dir();

    Map<String, List<FileRange>> byPath =
        Coverage.byPath(dir, plan.files().stream().map(CheckpointFile::path).toList(), ranges);

    CheckpointManifest.Builder m = model.toBuilder()
        .setFormatVersion(Manifests.FORMAT_VERSION)
        .setStep(pending.step())
        .clearFiles()
        .clearManifestCrc32C();
    for (CheckpointFile f : plan.files()) {
      Path file = dir.resolve(f.path());
      byte[] header = f.header();
      long size = header.length + 4 * f.elements();
      CRC32C hc = new CRC32C();
      hc.update(header);
      List<FileRange> list = byPath.get(f.path());
      boolean written = list.stream().anyMatch(r -> r.length() > 0);
      list.add(new FileRange(f.path(), 0, header.length, (int) hc.getValue()));
      int crc = Coverage.combine(file, header.length, size, list, "written");
      checkOnDisk(file, header, size, !written);
      m.addFiles(CheckpointManifest.File.newBuilder()
          .setPath(f.path())
          .setTensor(f.tensor())
          .setSlot(f.slot())
          .addAllShape(Arrays.stream(f.shape()).boxed().toList())
          .setSizeBytes(size)
          .setDataOffset(header.length)
          .setCrc32C(crc));
    }
    CheckpointManifest sealed = Manifests.seal(m.build());
    writeManifest(dir, sealed);

    Path finalDir = pending.finalDir();
    try {
      if (Files.exists(finalDir)) {
        if (Files.exists(finalDir.resolve(Manifests.FILE_NAME))) {
          throw new CheckpointException(CheckpointException.Kind.EXISTS, finalDir,
              "a checkpoint of step " + pending.step() + " was committed meanwhile");
        }
        Io.deleteRecursively(finalDir); // an incomplete leftover without a manifest
      }
      Files.move(dir, finalDir, StandardCopyOption.ATOMIC_MOVE);
      DurableFiles.fsyncDirectory(pending.root());
    } catch (AtomicMoveNotSupportedException e) {
      throw new CheckpointException(CheckpointException.Kind.IO, dir, "cannot rename to " + finalDir
          + " atomically; the checkpoint directory must be on one filesystem", e);
    } catch (IOException e) {
      throw CheckpointException.io(finalDir, "commit", e);
    }
    return finalDir;
  }

  private static void checkTensors(CheckpointPlan plan, CheckpointManifest model) {
    List<TensorSpec> specs = model.getTensorsList();
    Map<String, long[]> tensors = plan.tensors();
    boolean same = specs.size() == tensors.size();
    int i = 0;
    for (Map.Entry<String, long[]> e : tensors.entrySet()) {
      if (!same) {
        break;
      }
      TensorSpec s = specs.get(i++);
      same = s.getName().equals(e.getKey())
          && Arrays.equals(s.getShapeList().stream().mapToLong(Long::longValue).toArray(), e.getValue());
    }
    if (!same) {
      throw new IllegalArgumentException("the manifest's tensors " + specs.stream().map(TensorSpec::getName).toList()
          + " are not the checkpoint plan's " + tensors.keySet() + " (names and shapes, in order)");
    }
  }

  private static void checkOnDisk(Path file, byte[] header, long size, boolean force) throws CheckpointException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      long actual = ch.size();
      if (actual != size) {
        throw new CheckpointException(CheckpointException.Kind.TRUNCATED, file,
            "size " + actual + " expected " + size);
      }
      ByteBuffer b = ByteBuffer.allocate(header.length);
      Io.readFully(ch, b, 0);
      if (!Arrays.equals(b.array(), header)) {
        throw new CheckpointException(CheckpointException.Kind.MALFORMED, file,
            "the npy header is not the one the checkpoint was created with (a worker wrote outside its range?)");
      }
      if (force) {
        ch.force(false); // fdatasync: the header and the size; the timestamps need no journal commit
      }
    } catch (NoSuchFileException e) {
      throw new CheckpointException(CheckpointException.Kind.MISSING, file, "missing: the file was deleted", e);
    } catch (IOException e) {
      throw CheckpointException.io(file, "check", e);
    }
  }

  /** Writes manifest.json in {@code dir}, crash-atomically ({@link DurableFiles#replace}). */
  static void writeManifest(Path dir, CheckpointManifest m) throws CheckpointException {
    Path target = dir.resolve(Manifests.FILE_NAME);
    try {
      DurableFiles.replace(target, Manifests.toJson(m).getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw CheckpointException.io(target, "write", e);
    }
  }

}
