package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.KernelLaunch;
import dev.shardopt.engine.device.KernelLaunches;
import dev.shardopt.engine.device.KernelSource;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.StepScalars;
import java.util.List;

/**
 * Measurement only, for deciding a change to the one kernel source: other ways to run Adam's exact
 * arithmetic on CUDA, each timed like the production kernel and checked bit for bit against it after
 * one step from the same state. Nothing here is used by the backend.
 *
 * <ul>
 *   <li>{@code x4}: each thread updates 4 elements, {@code T} apart (T = all threads), all loads
 *       issued before any arithmetic, so that four times the bytes are in flight per thread;
 *   <li>{@code v4}: each thread updates 4 consecutive elements with 16-byte vector loads and stores;
 *   <li>{@code *-fdiv}: the same with float division and square root as {@code __fdiv_rn} and
 *       {@code __fsqrt_rn} (IEEE, correctly rounded, hence the same bits as the double route) instead
 *       of the kernel source's division and square root through double.
 * </ul>
 *
 * The variants' arithmetic is a transcription of {@code shardopt_adam_at}'s non-AMSGrad path; the
 * bitwise check against the production kernel is what makes the figures comparable.
 */
final class AdamVariants {
  static final List<String> KERNELS = List.of("bench_adam_x4", "bench_adam_v4", "bench_adam_x4_fdiv", "bench_adam_v4_fdiv");

  /** The variants, appended to the production CUDA text (so they share its prelude and helpers). */
  static String source() {
    return KernelSource.cuda() + "\n"
        + "#define BENCH_DIVF_F(a, b) __fdiv_rn((a), (b))\n"
        + "#define BENCH_SQRTF_F(x) __fsqrt_rn(x)\n"
        + vals("bench_adam_vals", "DIVF", "SQRTF")
        + vals("bench_adam_vals_f", "BENCH_DIVF_F", "BENCH_SQRTF_F")
        + x4("bench_adam_x4", "bench_adam_vals")
        + x4("bench_adam_x4_fdiv", "bench_adam_vals_f")
        + v4("bench_adam_v4", "bench_adam_vals")
        + v4("bench_adam_v4_fdiv", "bench_adam_vals_f");
  }

  private static final String ARGS = "int n, float clip, float scale, float wd, float decay, float b1,"
      + " float omb1, float b2, float omb2, float eps, float step_size, float bc2";
  private static final String SCALARS = "clip, scale, wd, decay, b1, omb1, b2, omb2, eps, step_size, bc2";

  private static String vals(String name, String div, String sqrt) {
    return "FUNC void " + name + "(float p, float gr, float m0, float v0, float clip, float scale, float wd,"
        + " float decay, float b1, float omb1, float b2, float omb2, float eps, float step_size, float bc2,"
        + " float* po, float* mo, float* vo) {\n"
        + "  float g = shardopt_grad(gr, p, clip, scale, wd);\n"
        + "  float m = b1 * m0 + omb1 * g;\n"
        + "  float v = b2 * v0 + omb2 * g * g;\n"
        + "  *mo = m;\n"
        + "  *vo = v;\n"
        + "  float denom = " + div + "(" + sqrt + "(v), bc2) + eps;\n"
        + "  *po = p * decay - " + div + "(step_size * m, denom);\n"
        + "}\n";
  }

  private static String x4(String name, String vals) {
    return "KERNEL void " + name + "(float* __restrict__ param, const float* __restrict__ grad,"
        + " float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq, " + ARGS + ") {\n"
        + "  idx_t t = GID;\n"
        + "  idx_t T = (idx_t) gridDim.x * blockDim.x;\n"
        + "  float p[4], gr[4], m[4], v[4];\n"
        + "  #pragma unroll\n"
        + "  for (int k = 0; k < 4; k++) {\n"
        + "    idx_t i = t + k * T;\n"
        + "    if (i < n) { p[k] = param[i]; gr[k] = grad[i]; m[k] = exp_avg[i]; v[k] = exp_avg_sq[i]; }\n"
        + "  }\n"
        + "  #pragma unroll\n"
        + "  for (int k = 0; k < 4; k++) {\n"
        + "    idx_t i = t + k * T;\n"
        + "    if (i < n) {\n"
        + "      float po, mo, vo;\n"
        + "      " + vals + "(p[k], gr[k], m[k], v[k], " + SCALARS + ", &po, &mo, &vo);\n"
        + "      param[i] = po; exp_avg[i] = mo; exp_avg_sq[i] = vo;\n"
        + "    }\n"
        + "  }\n"
        + "}\n";
  }

  private static String v4(String name, String vals) {
    return "KERNEL void " + name + "(float* __restrict__ param, const float* __restrict__ grad,"
        + " float* __restrict__ exp_avg, float* __restrict__ exp_avg_sq, " + ARGS + ") {\n"
        + "  idx_t j = GID;\n"
        + "  idx_t n4 = n / 4;\n"
        + "  if (j < n4) {\n"
        + "    float4 p = reinterpret_cast<float4*>(param)[j];\n"
        + "    float4 gr = reinterpret_cast<const float4*>(grad)[j];\n"
        + "    float4 m = reinterpret_cast<float4*>(exp_avg)[j];\n"
        + "    float4 v = reinterpret_cast<float4*>(exp_avg_sq)[j];\n"
        + "    float4 po, mo, vo;\n"
        + "    " + vals + "(p.x, gr.x, m.x, v.x, " + SCALARS + ", &po.x, &mo.x, &vo.x);\n"
        + "    " + vals + "(p.y, gr.y, m.y, v.y, " + SCALARS + ", &po.y, &mo.y, &vo.y);\n"
        + "    " + vals + "(p.z, gr.z, m.z, v.z, " + SCALARS + ", &po.z, &mo.z, &vo.z);\n"
        + "    " + vals + "(p.w, gr.w, m.w, v.w, " + SCALARS + ", &po.w, &mo.w, &vo.w);\n"
        + "    reinterpret_cast<float4*>(param)[j] = po;\n"
        + "    reinterpret_cast<float4*>(exp_avg)[j] = mo;\n"
        + "    reinterpret_cast<float4*>(exp_avg_sq)[j] = vo;\n"
        + "  }\n"
        + "  idx_t i = n4 * 4 + j;\n" // the tail of n % 4 elements, one per thread
        + "  if (j < n - n4 * 4) {\n"
        + "    float po, mo, vo;\n"
        + "    " + vals + "(param[i], grad[i], exp_avg[i], exp_avg_sq[i], " + SCALARS + ", &po, &mo, &vo);\n"
        + "    param[i] = po; exp_avg[i] = mo; exp_avg_sq[i] = vo;\n"
        + "  }\n"
        + "}\n";
  }

  /** Threads a variant needs for n elements (4 elements each). */
  static long threads(int n) {
    return ((long) n + 3) / 4;
  }

  /** Launches variant {@code kernel} for one Adam step of {@code s} over the arrays. */
  static void launch(CudaBackend c, CudaModule module, String kernel, int block, AdamKernel adam, DeviceArray p,
      DeviceArray g, DeviceArray m, DeviceArray v, StepScalars s) {
    KernelLaunch l = KernelLaunches.of(adam, s);
    int n = p.length();
    long grid = (threads(n) + block - 1) / block;
    c.launch(module, kernel, grid, block, a -> {
      a.address(c.address(p)).address(c.address(g)).address(c.address(m)).address(c.address(v)).i32(n);
      for (float f : l.floats()) {
        a.f32(f);
      }
    });
  }
}
