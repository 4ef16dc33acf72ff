package dev.shardopt.device.cuda;

import java.util.Objects;

/**
 * Device code for {@code cuModuleLoadData}: a CUBIN or fatbin built from the one kernel source.
 *
 * @param bytes the image
 * @param producedBy how it was made, for {@code status} and the probe ("NVRTC 13.0, sm_90", …)
 */
record KernelImage(byte[] bytes, String producedBy) {
  KernelImage {
    Objects.requireNonNull(bytes, "bytes");
    Objects.requireNonNull(producedBy, "producedBy");
  }
}
