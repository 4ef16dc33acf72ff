package dev.shardopt.checkpoint;

import dev.shardopt.v1.CheckpointRange;

/**
 * A byte range of one checkpoint file with the CRC32C of exactly those bytes: what {@link ShardWriter}
 * returns after writing (and a worker reports to the coordinator), and what {@link CheckpointReader}
 * returns after reading.
 *
 * @param path the file, relative to the checkpoint directory
 * @param offset the first byte, from the start of the file (the npy header included)
 * @param length the number of bytes
 * @param crc32c the CRC32C of the bytes
 */
public record FileRange(String path, long offset, long length, int crc32c) {

  public FileRange {
    if (offset < 0 || length < 0) {
      throw new IllegalArgumentException("negative offset or length: " + offset + ", " + length);
    }
  }

  /** The first byte after the range. */
  public long end() {
    return offset + length;
  }

  public CheckpointRange toProto() {
    return CheckpointRange.newBuilder().setPath(path).setOffset(offset).setLength(length).setCrc32C(crc32c).build();
  }

  public static FileRange fromProto(CheckpointRange r) {
    return new FileRange(r.getPath(), r.getOffset(), r.getLength(), r.getCrc32C());
  }

  @Override
  public String toString() {
    return path + "[" + offset + ", " + end() + ") crc32c=" + Manifests.hex(crc32c);
  }
}
