package dev.shardopt.coordinator;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import dev.shardopt.checkpoint.DurableFiles;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.ModelRecordState;
import dev.shardopt.v1.WorkerRegistryState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * The coordinator's durable state ({@code --state-dir}): {@code workers.state} (worker names and
 * addresses, the name counter) and one {@code model-<id>.state} per model, each a framed protobuf
 * (magic, length, CRC32C, {@code coordinator_state.proto}). A file is replaced whole on every change:
 * written to {@code <file>.tmp}, fsync, atomic rename, fsync of the directory, so a crash at any
 * moment leaves the previous or the new state, never a mix. One file per model keeps a write under
 * that model's lock only (the registry's locking rule: no two models' locks together).
 *
 * <p>{@link #none()} is the store of a coordinator without a state dir: it keeps nothing.
 */
public final class CoordinatorStateStore {
  static final String WORKERS_FILE = "workers.state";
  private static final String MODEL_PREFIX = "model-";
  private static final String SUFFIX = ".state";
  private static final int MAGIC = 0x53_4f_53_31; // "SOS1"
  private static final int HEADER_BYTES = 12;

  /** Null: not durable. */
  private final Path dir;
  private final WorkerRegistryState workers;
  private final List<ModelRecordState> models;

  private CoordinatorStateStore(Path dir, WorkerRegistryState workers, List<ModelRecordState> models) {
    this.dir = dir;
    this.workers = workers;
    this.models = List.copyOf(models);
  }

  /** A store that keeps nothing (no --state-dir). */
  public static CoordinatorStateStore none() {
    return new CoordinatorStateStore(null, WorkerRegistryState.getDefaultInstance(), List.of());
  }

  /**
   * Opens (creating it if need be) the state directory and reads every state file in it; a temporary
   * file left by a crash before its rename is removed, its previous state stays.
   *
   * @throws UnreadableStateException naming the file that cannot be read, or the directory
   */
  public static CoordinatorStateStore open(Path dir) {
    List<ModelRecordState> models = new ArrayList<>();
    WorkerRegistryState workers = WorkerRegistryState.getDefaultInstance();
    try {
      Files.createDirectories(dir);
      List<Path> files;
      try (Stream<Path> list = Files.list(dir)) {
        files = list.sorted().toList();
      }
      for (Path f : files) {
        String name = f.getFileName().toString();
        if (name.endsWith(DurableFiles.TEMP_SUFFIX)) {
          Files.delete(f);
        } else if (name.equals(WORKERS_FILE)) {
          workers = read(f, WorkerRegistryState.parser());
        } else if (name.startsWith(MODEL_PREFIX) && name.endsWith(SUFFIX)) {
          models.add(read(f, ModelRecordState.parser()));
        }
      }
    } catch (IOException e) {
      throw new UnreadableStateException("coordinator state directory " + dir + " cannot be used: " + e);
    }
    return new CoordinatorStateStore(dir.toAbsolutePath(), workers, models);
  }

  public boolean durable() {
    return dir != null;
  }

  /** The workers as the state dir had them when opened. */
  WorkerRegistryState workers() {
    return workers;
  }

  /** The models as the state dir had them when opened. */
  List<ModelRecordState> models() {
    return models;
  }

  /** The file that holds model {@code name} ({@code models/<id>}). */
  Path modelFile(String name) {
    return dir.resolve(MODEL_PREFIX + name.substring("models/".length()) + SUFFIX);
  }

  void saveWorkers(WorkerRegistryState state) {
    if (dir != null) {
      write(dir.resolve(WORKERS_FILE), state);
    }
  }

  void saveModel(ModelRecordState state) {
    if (dir != null) {
      write(modelFile(state.getSpec().getName()), state);
    }
  }

  void deleteModel(String name) {
    if (dir == null) {
      return;
    }
    Path f = modelFile(name);
    try {
      Files.deleteIfExists(f);
      DurableFiles.fsyncDirectory(dir);
    } catch (IOException e) {
      throw ApiException.unavailable("could not delete " + f + " from the coordinator's state dir: " + e);
    }
  }

  /** Replaces {@code file} with {@code state}, crash-atomically and durably before it returns. */
  private static void write(Path file, MessageLite state) {
    try {
      DurableFiles.replace(file, frame(state.toByteArray()).array());
    } catch (IOException e) {
      throw ApiException.unavailable("could not write the coordinator's state to " + file + ": " + e);
    }
  }


  /** The bytes of a state file holding {@code payload}. */
  static ByteBuffer frame(byte[] payload) {
    CRC32C crc = new CRC32C();
    crc.update(payload);
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + payload.length).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(MAGIC).putInt(payload.length).putInt((int) crc.getValue()).put(payload).flip();
    return b;
  }

  private static <T> T read(Path file, Parser<T> parser) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    if (b.remaining() < HEADER_BYTES || b.getInt() != MAGIC) {
      throw unreadable(file, "it is not a Shardopt coordinator state file (bad header)");
    }
    int length = b.getInt();
    int crc = b.getInt();
    if (length != b.remaining()) {
      throw unreadable(file, "it holds " + b.remaining() + " bytes of state where its header says " + length);
    }
    CRC32C actual = new CRC32C();
    actual.update(b.duplicate());
    if ((int) actual.getValue() != crc) {
      throw unreadable(file, "its CRC32C does not match its contents");
    }
    try {
      return parser.parseFrom(b);
    } catch (InvalidProtocolBufferException e) {
      throw unreadable(file, e.getMessage());
    }
  }

  private static UnreadableStateException unreadable(Path file, String why) {
    return new UnreadableStateException("coordinator state file " + file + " is corrupt: " + why
        + "; restore it, or start with an empty --state-dir (every model is lost)");
  }

  /** The state dir cannot be read: the coordinator must not start, least of all empty. */
  public static final class UnreadableStateException extends RuntimeException {
    UnreadableStateException(String message) {
      super(message);
    }
  }
}
