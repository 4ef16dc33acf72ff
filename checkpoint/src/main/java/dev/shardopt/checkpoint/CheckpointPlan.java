package dev.shardopt.checkpoint;

import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.TensorSpec;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The files of a checkpoint: for each tensor in the model's order, its parameters, then each of its
 * optimizer state slots. Deterministic: the same tensors and slots always give the same files and headers,
 * so the coordinator can rebuild the plan it created a checkpoint with from the model alone.
 */
public final class CheckpointPlan {

  private final List<CheckpointFile> files;
  private final Map<String, CheckpointFile> byPath;
  private final Map<String, long[]> tensors;

  private CheckpointPlan(List<CheckpointFile> files, Map<String, long[]> tensors) {
    this.files = List.copyOf(files);
    this.tensors = Collections.unmodifiableMap(tensors);
    Map<String, CheckpointFile> m = new HashMap<>();
    for (CheckpointFile f : files) {
      if (m.put(f.path(), f) != null) {
        // Distinct (tensor, slot) pairs cannot share an escaped name; a shortened long name could in theory.
        throw new IllegalArgumentException("two files of the checkpoint would be named " + f.path());
      }
    }
    this.byPath = m;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Every tensor of {@code tensors} with the same state slots (e.g. {@code "m", "v"} for Adam). */
  public static CheckpointPlan of(List<TensorSpec> tensors, List<String> slots) {
    Builder b = builder();
    for (TensorSpec t : tensors) {
      b.tensor(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray(), slots);
    }
    return b.build();
  }

  /** The plan of the files a manifest lists, in its order. */
  public static CheckpointPlan of(CheckpointManifest manifest) {
    Builder b = builder();
    Map<String, List<String>> slots = new LinkedHashMap<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (CheckpointManifest.File f : manifest.getFilesList()) {
      long[] shape = f.getShapeList().stream().mapToLong(Long::longValue).toArray();
      shapes.putIfAbsent(f.getTensor(), shape);
      List<String> s = slots.computeIfAbsent(f.getTensor(), k -> new ArrayList<>());
      if (!f.getSlot().isEmpty()) {
        s.add(f.getSlot());
      }
    }
    shapes.forEach((t, shape) -> b.tensor(t, shape, slots.get(t)));
    return b.build();
  }

  /** Every file, in order. */
  public List<CheckpointFile> files() {
    return files;
  }

  /** The tensors and their shapes, in order. */
  public Map<String, long[]> tensors() {
    return tensors;
  }

  /** The file with this relative path. */
  public Optional<CheckpointFile> byPath(String path) {
    return Optional.ofNullable(byPath.get(path));
  }

  /** The file of {@code tensor}'s {@code slot} (empty for the parameters). */
  public Optional<CheckpointFile> file(String tensor, String slot) {
    if (tensor == null || tensor.isEmpty()) {
      return Optional.empty();
    }
    CheckpointFile f = byPath.get(FileNames.fileName(tensor, slot == null ? "" : slot));
    return f != null && f.tensor().equals(tensor) && f.slot().equals(slot == null ? "" : slot)
        ? Optional.of(f) : Optional.empty();
  }

  /** The total size of every file. */
  public long totalBytes() {
    long n = 0;
    for (CheckpointFile f : files) {
      n += f.sizeBytes();
    }
    return n;
  }

  /** Builds a plan; tensor names and slot names must be non-empty and unique. */
  public static final class Builder {
    private final List<CheckpointFile> files = new ArrayList<>();
    private final Map<String, long[]> tensors = new LinkedHashMap<>();

    private Builder() {}

    public Builder tensor(String name, long[] shape, String... slots) {
      return tensor(name, shape, List.of(slots));
    }

    public Builder tensor(String name, long[] shape, List<String> slots) {
      if (name == null || name.isEmpty()) {
        throw new IllegalArgumentException("a tensor name must not be empty");
      }
      if (tensors.containsKey(name)) {
        throw new IllegalArgumentException("tensor '" + Manifests.quote(name) + "' appears twice");
      }
      for (long d : shape) {
        if (d < 0) {
          throw new IllegalArgumentException("tensor '" + Manifests.quote(name) + "': negative dimension in shape "
              + java.util.Arrays.toString(shape));
        }
      }
      long n = NpyHeader.elementCount(shape);
      if (n < 0 || n > Long.MAX_VALUE / 8) {
        throw new IllegalArgumentException("tensor '" + Manifests.quote(name) + "': shape "
            + java.util.Arrays.toString(shape) + " is too large");
      }
      Set<String> seen = new HashSet<>();
      for (String s : slots) {
        if (s == null || s.isEmpty()) {
          throw new IllegalArgumentException("tensor '" + Manifests.quote(name) + "': a slot name must not be empty");
        }
        if (!seen.add(s)) {
          throw new IllegalArgumentException("tensor '" + Manifests.quote(name) + "': slot '" + Manifests.quote(s)
              + "' appears twice");
        }
      }
      tensors.put(name, shape.clone());
      files.add(CheckpointFile.of(name, "", shape));
      for (String s : slots) {
        files.add(CheckpointFile.of(name, s, shape));
      }
      return this;
    }

    public CheckpointPlan build() {
      return new CheckpointPlan(files, new LinkedHashMap<>(tensors));
    }
  }
}
