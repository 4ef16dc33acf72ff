package dev.shardopt.checkpoint;

import java.util.Arrays;

/**
 * One file of a checkpoint: a tensor's parameters ({@code slot} empty) or one of its optimizer state slots,
 * an npy file of the tensor's full shape.
 *
 * @param path the file name, relative to the checkpoint directory ({@link FileNames#fileName})
 * @param tensor the tensor's real name
 * @param slot the state slot, empty for the parameters
 * @param shape the tensor's full shape
 */
public record CheckpointFile(String path, String tensor, String slot, long[] shape) {

  public CheckpointFile {
    shape = shape.clone();
  }

  /** The file of {@code tensor}/{@code slot} of {@code shape}, named by {@link FileNames#fileName}. */
  public static CheckpointFile of(String tensor, String slot, long[] shape) {
    return new CheckpointFile(FileNames.fileName(tensor, slot), tensor, slot == null ? "" : slot, shape);
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The number of elements. */
  public long elements() {
    return NpyHeader.elementCount(shape);
  }

  /** The npy header this project writes for the shape. */
  public byte[] header() {
    return NpyHeader.encode(shape);
  }

  /** The length of the header: the data's first byte. */
  public int dataOffset() {
    return header().length;
  }

  /** The size of the whole file. */
  public long sizeBytes() {
    return dataOffset() + 4 * elements();
  }

  /** For messages: the file with its tensor and slot, e.g. {@code w.m.npy (tensor 'w', slot 'm')}. */
  public String describe() {
    return path + " (tensor '" + Manifests.quote(tensor) + "'" + (slot.isEmpty() ? "" : ", slot '" + Manifests.quote(slot) + "'")
        + ")";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CheckpointFile f && f.path.equals(path) && f.tensor.equals(tensor) && f.slot.equals(slot)
        && Arrays.equals(f.shape, shape);
  }

  @Override
  public int hashCode() {
    return (path.hashCode() * 31 + tensor.hashCode()) * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return "CheckpointFile[" + describe() + ", shape " + Arrays.toString(shape) + "]";
  }
}
