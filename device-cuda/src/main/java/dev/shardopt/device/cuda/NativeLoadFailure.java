package dev.shardopt.device.cuda;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one line that says why bytedeco's JNI libraries for CUDA did not load. The JNI libraries link
 * against the machine's own {@code libcuda.so.1} (the driver) and {@code libcudart.so.13} /
 * {@code libnvrtc.so.13} (the toolkit); the dynamic linker's "cannot open shared object file" names
 * the one that is missing, and that is what a person has to install or put on LD_LIBRARY_PATH.
 */
final class NativeLoadFailure {
  private static final Pattern MISSING =
      Pattern.compile("([A-Za-z0-9_.+-]+\\.so[0-9.]*): cannot open shared object file");

  private NativeLoadFailure() {}

  /**
   * The reason, one line, prefixed by {@code what} (e.g. "cuda: the CUDA runtime bindings").
   *
   * @param library the JNI library that failed, e.g. "jnicudart"
   */
  static String describe(String library, Throwable failure) {
    String missing = null;
    String deepest = null;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m == null) {
        continue;
      }
      deepest = t.getClass().getSimpleName() + ": " + m;
      Matcher matcher = MISSING.matcher(m);
      if (matcher.find()) {
        missing = matcher.group(1);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    if (missing != null) {
      if (missing.startsWith("libcuda.so")) {
        return "no NVIDIA driver on this machine (no " + library + ": " + missing + " not found)";
      }
      if (missing.startsWith("libcudart.so")) {
        return "the CUDA runtime is not installed (no " + library + ": " + missing
            + " not found; put the directory that holds it on LD_LIBRARY_PATH)";
      }
      if (missing.startsWith("libnvrtc")) {
        return "NVRTC is not installed (no " + library + ": " + missing
            + " not found; put the directory that holds it on LD_LIBRARY_PATH)";
      }
      return "a library that " + library + " needs is missing (" + missing + " not found)";
    }
    return "cannot load " + library + " (" + oneLine(deepest == null ? failure.toString() : deepest) + ")";
  }

  static String oneLine(String s) {
    return s.replaceAll("\\s*[\\r\\n]+\\s*", " | ").trim();
  }
}
