package dev.shardopt.engine.device;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The one kernel source of the accelerator backends: {@code shardopt_kernels.c} (a resource next to
 * this class), written in a C subset that compiles as OpenCL C 1.2+ and as CUDA C++ under NVRTC. A
 * backend compiles {@code prelude + body()}: {@link #openCl()} or {@link #cuda()}. The OpenCL
 * conformance tests in CI therefore test the same arithmetic text that NVRTC compiles.
 *
 * <p><b>The macros each prelude defines</b> (the body uses nothing else that differs between the
 * two languages):
 *
 * <table>
 *   <caption>prelude macros</caption>
 *   <tr><th>macro</th><th>OpenCL</th><th>CUDA</th></tr>
 *   <tr><td>{@code KERNEL}</td><td>{@code __kernel}</td><td>{@code extern "C" __global__}</td></tr>
 *   <tr><td>{@code FUNC}</td><td>{@code static inline}</td>
 *       <td>{@code static __device__ __forceinline__}</td></tr>
 *   <tr><td>{@code GLOBAL}</td><td>{@code __global}</td><td>(empty)</td></tr>
 *   <tr><td>{@code LOCAL}</td><td>{@code __local}</td><td>{@code __shared__}</td></tr>
 *   <tr><td>{@code GID}</td><td>{@code (idx_t) get_global_id(0)}</td>
 *       <td>{@code (idx_t) blockIdx.x * blockDim.x + threadIdx.x}</td></tr>
 *   <tr><td>{@code LID}</td><td>{@code (int) get_local_id(0)}</td><td>{@code (int) threadIdx.x}</td></tr>
 *   <tr><td>{@code GROUP_ID}</td><td>{@code (int) get_group_id(0)}</td>
 *       <td>{@code (int) blockIdx.x}</td></tr>
 *   <tr><td>{@code BARRIER()}</td><td>{@code barrier(CLK_LOCAL_MEM_FENCE)}</td>
 *       <td>{@code __syncthreads()}</td></tr>
 *   <tr><td>{@code FLOAT_BITS(x)}</td><td>{@code as_uint(x)}</td><td>{@code __float_as_uint(x)}</td></tr>
 *   <tr><td>{@code BITS_FLOAT(u)}</td><td>{@code as_float(u)}</td><td>{@code __uint_as_float(u)}</td></tr>
 *   <tr><td>{@code idx_t}</td><td>{@code long}</td><td>{@code long long}</td></tr>
 * </table>
 *
 * The OpenCL prelude also turns contraction off ({@code #pragma OPENCL FP_CONTRACT OFF}) and enables
 * {@code cl_khr_fp64}; CUDA compiles with {@code --fmad=false --prec-div=true --prec-sqrt=true
 * --ftz=false}. The body itself defines {@code DIVF(a, b) = (float) ((double) a / (double) b)} and
 * {@code SQRTF(x) = (float) sqrt((double) x)} (Java's float {@code a / b} and {@code (float)
 * Math.sqrt(x)}, bit for bit: double rounding is innocuous for these operations on floats), and
 * {@code jmaxf/jminf/jsignumf} with Java's {@code Math.max/min/signum} semantics (NaN propagates,
 * -0 &lt; +0). Each prelude ends with {@code #line 1 "shardopt_kernels.c"}, so compiler messages
 * give the body's own line numbers.
 *
 * <p><b>The kernels and their arguments</b>, in order ({@code float*} is a device pointer to fp32,
 * {@code int} is a 32-bit int, {@code float} a 32-bit float). Element-wise kernels run one work-item
 * (thread) per element, any work-group (block) size, and ignore indices {@code >= n}. The update
 * kernels' scalars come from {@link KernelLaunches}: see {@link KernelLaunch} for how they follow
 * the pointers.
 *
 * <ul>
 *   <li>{@value #SGD}{@code (float* param, const float* grad, int n, float clip, float scale, float wd,
 *       float lr)}
 *   <li>{@value #MOMENTUM}{@code (float* param, const float* grad, float* buf, int n, float clip,
 *       float scale, float wd, float lr, float beta, float omd, int first)}
 *   <li>{@value #NESTEROV}{@code (float* param, const float* grad, float* buf, int n, float clip,
 *       float scale, float wd, float lr, float beta, int first)}
 *   <li>{@value #ADAGRAD}{@code (float* param, const float* grad, float* sum, int n, float clip,
 *       float scale, float wd, float clr, float eps)}
 *   <li>{@value #RMSPROP}{@code (float* param, const float* grad, float* sq, float* avg, float* buf,
 *       int n, float clip, float scale, float wd, float lr, float rho, float omr, float eps_in,
 *       float eps_out, float mom, int centered, int momentum)}; {@code avg} is null unless centered,
 *       {@code buf} null unless momentum
 *   <li>{@value #ADAM}{@code (float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
 *       float* max_exp_avg_sq, int n, float clip, float scale, float wd, float decay, float b1,
 *       float omb1, float b2, float omb2, float eps, float step_size, float bc2, int amsgrad)};
 *       {@code max_exp_avg_sq} is null unless amsgrad
 *   <li>{@value #LION}{@code (float* param, const float* grad, float* exp_avg, int n, float clip,
 *       float scale, float wd, float lr, float decay, float b1, float omb1, float b2, float omb2)}
 *   <li>{@value #ADD}{@code (float* out, const float* a, const float* b, int n)}: {@code out = a + b}
 *       ({@code out} may be {@code a})
 *   <li>{@value #DIV}{@code (float* out, const float* a, int n, float k)}: {@code out = a / k}
 *   <li>{@value #ADD_DIV}{@code (float* out, const float* a, const float* b, int n, float k)}:
 *       {@code out = (a + b) / k}
 *   <li>{@value #FILL}{@code (float* out, int n, float value)}
 *   <li>{@value #BLOCK_REDUCE}{@code (const float* g, int n, float clip, double* partials,
 *       int* first_bad)}: launch exactly {@code ceil(n / 8192)} work-groups (blocks) of exactly 64
 *       work-items (threads); work-group b writes {@code partials[b]}, the block's sum of squares in
 *       the order of {@link dev.shardopt.engine.kernel.ReductionBlocks}, and {@code first_bad[b]},
 *       the block's lowest non-finite index or -1. The host takes the lowest index over the blocks.
 * </ul>
 *
 * The trainer mean, the accumulation window and the window mean are composed of {@value #ADD},
 * {@value #DIV} and {@value #ADD_DIV} exactly as {@link CpuBackend} computes them: see {@link
 * KernelLaunches#trainerMean}.
 */
public final class KernelSource {

  /** The resource name, relative to this class. */
  public static final String RESOURCE = "shardopt_kernels.c";

  public static final String SGD = "shardopt_sgd";
  public static final String MOMENTUM = "shardopt_momentum";
  public static final String NESTEROV = "shardopt_nesterov";
  public static final String ADAGRAD = "shardopt_adagrad";
  public static final String RMSPROP = "shardopt_rmsprop";
  public static final String ADAM = "shardopt_adam";
  public static final String LION = "shardopt_lion";
  public static final String ADD = "shardopt_add";
  public static final String DIV = "shardopt_div";
  public static final String ADD_DIV = "shardopt_add_div";
  public static final String FILL = "shardopt_fill";
  public static final String BLOCK_REDUCE = "shardopt_block_reduce";

  /** Work-items per work-group of {@value #BLOCK_REDUCE}: ReductionBlocks.LANES. */
  public static final int REDUCE_GROUP_SIZE = dev.shardopt.engine.kernel.ReductionBlocks.LANES;

  private static final String LINE = "#line 1 \"" + RESOURCE + "\"\n";

  /** Prepended for OpenCL C: no contraction, fp64 on, the macros of the class comment. */
  public static final String OPENCL_PRELUDE =
      "#pragma OPENCL FP_CONTRACT OFF\n"
          + "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
          + "typedef long idx_t;\n"
          + "#define KERNEL __kernel\n"
          + "#define FUNC static inline\n"
          + "#define GLOBAL __global\n"
          + "#define LOCAL __local\n"
          + "#define GID ((idx_t) get_global_id(0))\n"
          + "#define LID ((int) get_local_id(0))\n"
          + "#define GROUP_ID ((int) get_group_id(0))\n"
          + "#define BARRIER() barrier(CLK_LOCAL_MEM_FENCE)\n"
          + "#define FLOAT_BITS(x) as_uint(x)\n"
          + "#define BITS_FLOAT(u) as_float(u)\n"
          + LINE;

  /**
   * Prepended for CUDA C++ under NVRTC (compile with {@code --fmad=false --prec-div=true
   * --prec-sqrt=true --ftz=false}): the macros of the class comment.
   */
  public static final String CUDA_PRELUDE =
      "typedef long long idx_t;\n"
          + "#define KERNEL extern \"C\" __global__\n"
          + "#define FUNC static __device__ __forceinline__\n"
          + "#define GLOBAL\n"
          + "#define LOCAL __shared__\n"
          + "#define GID ((idx_t) blockIdx.x * blockDim.x + threadIdx.x)\n"
          + "#define LID ((int) threadIdx.x)\n"
          + "#define GROUP_ID ((int) blockIdx.x)\n"
          + "#define BARRIER() __syncthreads()\n"
          + "#define FLOAT_BITS(x) __float_as_uint(x)\n"
          + "#define BITS_FLOAT(u) __uint_as_float(u)\n"
          + LINE;

  private KernelSource() {}

  /** The kernel file's text, as shipped in the engine jar. */
  public static String body() {
    try (InputStream in = KernelSource.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + RESOURCE + " is missing from the engine jar");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read resource " + RESOURCE, e);
    }
  }

  /** The OpenCL program text: {@link #OPENCL_PRELUDE} + {@link #body()}. */
  public static String openCl() {
    return OPENCL_PRELUDE + body();
  }

  /** The CUDA program text for NVRTC: {@link #CUDA_PRELUDE} + {@link #body()}. */
  public static String cuda() {
    return CUDA_PRELUDE + body();
  }
}
