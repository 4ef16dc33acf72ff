package dev.shardopt.device.opencl;

import static org.bytedeco.opencl.global.OpenCL.CL_DEVICE_SINGLE_FP_CONFIG;
import static org.bytedeco.opencl.global.OpenCL.CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT;
import static org.bytedeco.opencl.global.OpenCL.CL_PROGRAM_BUILD_LOG;
import static org.bytedeco.opencl.global.OpenCL.clBuildProgram;
import static org.bytedeco.opencl.global.OpenCL.clCreateKernel;
import static org.bytedeco.opencl.global.OpenCL.clCreateProgramWithSource;
import static org.bytedeco.opencl.global.OpenCL.clGetProgramBuildInfo;
import static org.bytedeco.opencl.global.OpenCL.clReleaseKernel;
import static org.bytedeco.opencl.global.OpenCL.clReleaseProgram;

import dev.shardopt.engine.device.DeviceUnavailableException;
import dev.shardopt.engine.device.KernelSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.opencl._cl_context;
import org.bytedeco.opencl._cl_kernel;
import org.bytedeco.opencl._cl_program;

/**
 * The engine's one kernel source ({@link KernelSource#openCl()}) built for one device, and its
 * kernels. Contraction is off through the source's pragma; where the device offers it, the build
 * also asks for correctly rounded fp32 division and square root (harmless: the kernels divide and
 * take roots in double).
 */
final class ClProgram implements AutoCloseable {

  /** Every kernel of the source, created at build time so a missing one fails at open(). */
  static final List<String> KERNELS = List.of(
      KernelSource.SGD, KernelSource.MOMENTUM, KernelSource.NESTEROV, KernelSource.ADAGRAD,
      KernelSource.RMSPROP, KernelSource.ADAM, KernelSource.LION, KernelSource.ADD, KernelSource.DIV,
      KernelSource.ADD_DIV, KernelSource.FILL, KernelSource.BLOCK_REDUCE);

  /** Build-log lines a DeviceUnavailableException quotes. */
  private static final int LOG_LINES = 3;

  private final _cl_program program;
  private final Map<String, _cl_kernel> kernels;

  private ClProgram(_cl_program program, Map<String, _cl_kernel> kernels) {
    this.program = program;
    this.kernels = kernels;
  }

  /**
   * Builds the program for {@code device} in {@code context}.
   *
   * @throws DeviceUnavailableException when it does not compile, with the build log's first lines
   */
  static ClProgram build(_cl_context context, ClDevice device) {
    return build(context, device, KernelSource.openCl(), KERNELS);
  }

  /** {@link #build(_cl_context, ClDevice)} of another program text and kernel list (for tests). */
  static ClProgram build(_cl_context context, ClDevice device, String text, List<String> names) {
    _cl_program program;
    try (PointerPointer<BytePointer> source = new PointerPointer<>(text);
        IntPointer status = new IntPointer(1)) {
      program = clCreateProgramWithSource(context, 1, source, (SizeTPointer) null, status);
      ClStatus.check(status.get(), "clCreateProgramWithSource");
    }
    int[] err = new int[1];
    Map<String, _cl_kernel> kernels = new LinkedHashMap<>();
    try {
      String options = (device.ulong(CL_DEVICE_SINGLE_FP_CONFIG) & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0
          ? "-cl-fp32-correctly-rounded-divide-sqrt"
          : "";
      int status = clBuildProgram(program, 1, device.id(), options, null, null);
      if (status != 0) {
        throw new DeviceUnavailableException("opencl: the kernels do not compile on device "
            + device.describe() + ": " + ClStatus.name(status) + ": " + buildLog(program, device));
      }
      for (String name : names) {
        _cl_kernel k = clCreateKernel(program, name, err);
        if (err[0] != 0) {
          throw new DeviceUnavailableException("opencl: kernel " + name + " is missing from the built "
              + "program on device " + device.describe() + ": " + ClStatus.name(err[0]));
        }
        kernels.put(name, k);
      }
    } catch (RuntimeException e) {
      kernels.values().forEach(k -> clReleaseKernel(k));
      clReleaseProgram(program);
      throw e;
    }
    return new ClProgram(program, kernels);
  }

  /** The first {@value #LOG_LINES} non-blank lines of the build log, joined by " | ". */
  private static String buildLog(_cl_program program, ClDevice device) {
    try (SizeTPointer size = new SizeTPointer(1)) {
      if (clGetProgramBuildInfo(program, device.id(), CL_PROGRAM_BUILD_LOG, 0, null, size) != 0) {
        return "(no build log)";
      }
      try (BytePointer log = new BytePointer(Math.max(1, size.get()))) {
        if (clGetProgramBuildInfo(program, device.id(), CL_PROGRAM_BUILD_LOG, size.get(), log, null) != 0) {
          return "(no build log)";
        }
        return log.getString().lines().map(String::strip).filter(l -> !l.isEmpty()).limit(LOG_LINES)
            .collect(Collectors.joining(" | "));
      }
    }
  }

  _cl_kernel kernel(String name) {
    _cl_kernel k = kernels.get(name);
    if (k == null) {
      throw new IllegalArgumentException("no kernel " + name + " in " + KERNELS);
    }
    return k;
  }

  @Override
  public void close() {
    kernels.values().forEach(k -> clReleaseKernel(k));
    kernels.clear();
    clReleaseProgram(program);
  }
}
