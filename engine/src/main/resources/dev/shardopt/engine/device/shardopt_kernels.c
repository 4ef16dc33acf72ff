/*
 * Shardopt's device kernels: THE ONE SOURCE, compiled unchanged as OpenCL C (1.2 and later) and as
 * CUDA C++ (NVRTC). dev.shardopt.engine.device.KernelSource prepends the backend's prelude, which
 * defines the macros this file uses:
 *
 *   KERNEL        a kernel entry point        __kernel            | extern "C" __global__
 *   FUNC          a device helper function    static inline       | static __device__ __forceinline__
 *   GLOBAL        device memory pointer       __global            | (empty)
 *   LOCAL         work-group shared memory    __local             | __shared__
 *   GID           global element index (idx_t)
 *   LID           index inside the work-group (int)
 *   GROUP_ID      work-group index (int)
 *   BARRIER()     work-group barrier on local memory
 *   FLOAT_BITS(x) the raw bits of a float as unsigned int; BITS_FLOAT(u) the reverse
 *   idx_t         a signed 64-bit integer type
 *
 * and compiles without contraction (OpenCL: #pragma OPENCL FP_CONTRACT OFF; CUDA: --fmad=false),
 * with fp64 enabled and subnormals kept.
 *
 * Bitwise contract: each kernel computes exactly what the Java kernel of the same rule computes
 * (the rule classes in engine/src/main/java/dev/shardopt/engine/kernel, their general clipped
 * path), in the same operation order, in float, with:
 *   - a / b and (float) Math.sqrt(x) as DIVF and SQRTF: through double, which gives the correctly
 *     rounded float result (double rounding is innocuous for + - * / sqrt of floats), as Java does;
 *   - Math.min, Math.max and Math.signum as jminf, jmaxf and jsignumf (NaN propagates, -0 < +0);
 *     never fminf/fmaxf, which drop NaN;
 *   - every scalar that depends on the step (bias corrections, step sizes, decay factors, 1 - beta)
 *     computed on the host as the Java kernel computes it and passed as an argument
 *     (dev.shardopt.engine.device.KernelLaunches).
 * The reduction follows dev.shardopt.engine.kernel.ReductionBlocks exactly.
 *
 * Element-wise kernels take one work-item per element, any work-group size, and return for
 * indices >= n. Pointers to state slots a variant does not use may be null: they are never read.
 *
 * A kernel with variant flags branches once, around whole calls of its element function with the
 * flags as constants: the compiler then unswitches the branch out of its loop over work-items
 * (PoCL vectorizes that loop; a flag tested inside it, around a store, kept AMSGrad's loop scalar,
 * 10x slower, measured), and a GPU warp takes one uniform branch.
 */

#define SHARDOPT_BLOCK 8192
#define SHARDOPT_LANES 64

#define DIVF(a, b) ((float) ((double) (a) / (double) (b)))
#define SQRTF(x) ((float) sqrt((double) (x)))

/* Math.max(float, float): NaN if either is NaN (the first NaN), +0 over -0. */
FUNC float jmaxf(float a, float b) {
  if (a != a) {
    return a;
  }
  if (a == 0.0f && b == 0.0f && (FLOAT_BITS(a) >> 31) != 0u) {
    return b;
  }
  return a >= b ? a : b;
}

/* Math.min(float, float): NaN if either is NaN (the first NaN), -0 under +0. */
FUNC float jminf(float a, float b) {
  if (a != a) {
    return a;
  }
  if (a == 0.0f && b == 0.0f && (FLOAT_BITS(b) >> 31) != 0u) {
    return b;
  }
  return a <= b ? a : b;
}

/* Math.signum(float): +-1 for every nonzero, +-0 for +-0, NaN for NaN. */
FUNC float jsignumf(float c) {
  if (c > 0.0f) {
    return 1.0f;
  }
  if (c < 0.0f) {
    return -1.0f;
  }
  return c;
}

/* The prologue of every rule (UpdateKernel): g = min(max(g, -clip), clip) * scale + wd * p. */
FUNC float shardopt_grad(float g, float p, float clip, float scale, float wd) {
  return jminf(jmaxf(g, -clip), clip) * scale + wd * p;
}

/* SgdKernel: p = p - lr * g. */
KERNEL void shardopt_sgd(GLOBAL float* param, GLOBAL const float* grad, int n,
    float clip, float scale, float wd, float lr) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  param[i] = p - lr * g;
}

/* MomentumKernel: b = g (first step) or beta * b + (1 - dampening) * g; p = p - lr * b. */
FUNC void shardopt_momentum_at(idx_t i, GLOBAL float* param, GLOBAL const float* grad,
    GLOBAL float* buf, float clip, float scale, float wd, float lr, float beta, float omd, int first) {
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  if (first) {
    buf[i] = g;
    param[i] = p - lr * g;
  } else {
    float m = beta * buf[i] + omd * g;
    buf[i] = m;
    param[i] = p - lr * m;
  }
}

KERNEL void shardopt_momentum(GLOBAL float* param, GLOBAL const float* grad, GLOBAL float* buf,
    int n, float clip, float scale, float wd, float lr, float beta, float omd, int first) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  if (first) {
    shardopt_momentum_at(i, param, grad, buf, clip, scale, wd, lr, beta, omd, 1);
  } else {
    shardopt_momentum_at(i, param, grad, buf, clip, scale, wd, lr, beta, omd, 0);
  }
}

/* NesterovKernel: b = g (first step) or beta * b + g; p = p - lr * (g + beta * b). */
FUNC void shardopt_nesterov_at(idx_t i, GLOBAL float* param, GLOBAL const float* grad,
    GLOBAL float* buf, float clip, float scale, float wd, float lr, float beta, int first) {
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  if (first) {
    buf[i] = g;
    param[i] = p - lr * (g + beta * g);
  } else {
    float m = beta * buf[i] + g;
    buf[i] = m;
    param[i] = p - lr * (g + beta * m);
  }
}

KERNEL void shardopt_nesterov(GLOBAL float* param, GLOBAL const float* grad, GLOBAL float* buf,
    int n, float clip, float scale, float wd, float lr, float beta, int first) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  if (first) {
    shardopt_nesterov_at(i, param, grad, buf, clip, scale, wd, lr, beta, 1);
  } else {
    shardopt_nesterov_at(i, param, grad, buf, clip, scale, wd, lr, beta, 0);
  }
}

/* AdagradKernel: G = G + g * g; p = p - clr * g / (sqrt(G) + eps). */
KERNEL void shardopt_adagrad(GLOBAL float* param, GLOBAL const float* grad, GLOBAL float* sum,
    int n, float clip, float scale, float wd, float clr, float eps) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  float acc = sum[i] + g * g;
  sum[i] = acc;
  param[i] = p - DIVF(clr * g, SQRTF(acc) + eps);
}

/*
 * RmspropKernel: v = rho * v + (1 - rho) * g * g; a = rho * a + (1 - rho) * g (centered);
 * den = sqrt(v [- a * a] + epsIn) + epsOut; b = mom * b + g / den, p = p - lr * b (momentum)
 * or p = p - lr * g / den. avg is used only when centered, buf only when momentum.
 */
FUNC void shardopt_rmsprop_at(idx_t i, GLOBAL float* param, GLOBAL const float* grad,
    GLOBAL float* sq, GLOBAL float* avg, GLOBAL float* buf, float clip, float scale, float wd,
    float lr, float rho, float omr, float eps_in, float eps_out, float mom, int centered,
    int momentum) {
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  float v = rho * sq[i] + omr * g * g;
  sq[i] = v;
  float den;
  if (centered) {
    float a = rho * avg[i] + omr * g;
    avg[i] = a;
    den = SQRTF(v - a * a + eps_in) + eps_out;
  } else {
    den = SQRTF(v + eps_in) + eps_out;
  }
  if (momentum) {
    float b = mom * buf[i] + DIVF(g, den);
    buf[i] = b;
    param[i] = p - lr * b;
  } else {
    param[i] = p - DIVF(lr * g, den);
  }
}

KERNEL void shardopt_rmsprop(GLOBAL float* param, GLOBAL const float* grad, GLOBAL float* sq,
    GLOBAL float* avg, GLOBAL float* buf, int n, float clip, float scale, float wd, float lr,
    float rho, float omr, float eps_in, float eps_out, float mom, int centered, int momentum) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  if (centered && momentum) {
    shardopt_rmsprop_at(i, param, grad, sq, avg, buf, clip, scale, wd, lr, rho, omr, eps_in,
        eps_out, mom, 1, 1);
  } else if (centered) {
    shardopt_rmsprop_at(i, param, grad, sq, avg, buf, clip, scale, wd, lr, rho, omr, eps_in,
        eps_out, mom, 1, 0);
  } else if (momentum) {
    shardopt_rmsprop_at(i, param, grad, sq, avg, buf, clip, scale, wd, lr, rho, omr, eps_in,
        eps_out, mom, 0, 1);
  } else {
    shardopt_rmsprop_at(i, param, grad, sq, avg, buf, clip, scale, wd, lr, rho, omr, eps_in,
        eps_out, mom, 0, 0);
  }
}

/*
 * AdamKernel (Adam, AdamW through decay, AMSGrad): m = b1 * m + (1 - b1) * g;
 * v = b2 * v + (1 - b2) * g * g; vmax = max(vmax, v) (amsgrad, used for v);
 * denom = sqrt(v) / bc2 + eps; p = p * decay - stepSize * m / denom. vmax is used only when amsgrad.
 */
FUNC void shardopt_adam_at(idx_t i, GLOBAL float* param, GLOBAL const float* grad,
    GLOBAL float* exp_avg, GLOBAL float* exp_avg_sq, GLOBAL float* max_exp_avg_sq, float clip,
    float scale, float wd, float decay, float b1, float omb1, float b2, float omb2, float eps,
    float step_size, float bc2, int amsgrad) {
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  float m = b1 * exp_avg[i] + omb1 * g;
  float v = b2 * exp_avg_sq[i] + omb2 * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;
  if (amsgrad) {
    v = jmaxf(max_exp_avg_sq[i], v);
    max_exp_avg_sq[i] = v;
  }
  float denom = DIVF(SQRTF(v), bc2) + eps;
  param[i] = p * decay - DIVF(step_size * m, denom);
}

KERNEL void shardopt_adam(GLOBAL float* param, GLOBAL const float* grad, GLOBAL float* exp_avg,
    GLOBAL float* exp_avg_sq, GLOBAL float* max_exp_avg_sq, int n, float clip, float scale,
    float wd, float decay, float b1, float omb1, float b2, float omb2, float eps, float step_size,
    float bc2, int amsgrad) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  if (amsgrad) {
    shardopt_adam_at(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, clip, scale, wd, decay,
        b1, omb1, b2, omb2, eps, step_size, bc2, 1);
  } else {
    shardopt_adam_at(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, clip, scale, wd, decay,
        b1, omb1, b2, omb2, eps, step_size, bc2, 0);
  }
}

/*
 * LionKernel: c = b1 * m + (1 - b1) * g; p = p * decay - lr * sign(c); m = b2 * m + (1 - b2) * g.
 */
KERNEL void shardopt_lion(GLOBAL float* param, GLOBAL const float* grad, GLOBAL float* exp_avg,
    int n, float clip, float scale, float wd, float lr, float decay, float b1, float omb1,
    float b2, float omb2) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  float p = param[i];
  float g = shardopt_grad(grad[i], p, clip, scale, wd);
  float m = exp_avg[i];
  float c = b1 * m + omb1 * g;
  param[i] = p * decay - lr * jsignumf(c);
  exp_avg[i] = b2 * m + omb2 * g;
}

/* out = a + b in float (out may be a: the accumulation window and the trainer sum). */
KERNEL void shardopt_add(GLOBAL float* out, GLOBAL const float* a, GLOBAL const float* b, int n) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  out[i] = a[i] + b[i];
}

/* out = a / k in float (out may be a). */
KERNEL void shardopt_div(GLOBAL float* out, GLOBAL const float* a, int n, float k) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  out[i] = DIVF(a[i], k);
}

/* out = (a + b) / k in float (out may be a). */
KERNEL void shardopt_add_div(GLOBAL float* out, GLOBAL const float* a, GLOBAL const float* b,
    int n, float k) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  out[i] = DIVF(a[i] + b[i], k);
}

/* out = value. */
KERNEL void shardopt_fill(GLOBAL float* out, int n, float value) {
  idx_t i = GID;
  if (i >= n) {
    return;
  }
  out[i] = value;
}

/*
 * ReductionBlocks, per block: work-group b (exactly SHARDOPT_LANES work-items) reduces block b of
 * g[0, n). Lane j accumulates in double, from 0, d * d for d = min(|g[i]|, clip) (NaN kept) over
 * i = s + j, s + j + LANES, ... in that order; then the fixed tree lane[j] += lane[j + w] for
 * w = LANES/2 ... 1; partials[b] = lane[0]. first_bad[b] is the lowest index in the block with
 * !(|g[i]| <= FLT_MAX), or -1. Launch ceil(n / BLOCK) work-groups of LANES work-items.
 * With clip = +inf the clamp is the identity on |g| and d * d == g * g, as in the unclamped sum.
 */
KERNEL void shardopt_block_reduce(GLOBAL const float* g, int n, float clip,
    GLOBAL double* partials, GLOBAL int* first_bad) {
  LOCAL double lane[SHARDOPT_LANES];
  LOCAL int bad[SHARDOPT_LANES];
  const unsigned int inf_bits = 0x7f800000u;
  int j = LID;
  int b = GROUP_ID;
  idx_t s = (idx_t) b * SHARDOPT_BLOCK;
  idx_t e = s + SHARDOPT_BLOCK < (idx_t) n ? s + SHARDOPT_BLOCK : (idx_t) n;
  unsigned int cb = FLOAT_BITS(clip);
  double acc = 0.0;
  int first = 0x7fffffff;
  for (idx_t i = s + j; i < e; i += SHARDOPT_LANES) {
    unsigned int ax = FLOAT_BITS(g[i]) & 0x7fffffffu;
    if (ax >= inf_bits && first == 0x7fffffff) {
      first = (int) i;
    }
    double d = (double) BITS_FLOAT(ax > cb && ax <= inf_bits ? cb : ax);
    acc += d * d;
  }
  lane[j] = acc;
  bad[j] = first;
  BARRIER();
  for (int w = SHARDOPT_LANES / 2; w >= 1; w >>= 1) {
    if (j < w) {
      lane[j] += lane[j + w];
      bad[j] = bad[j + w] < bad[j] ? bad[j + w] : bad[j];
    }
    BARRIER();
  }
  if (j == 0) {
    partials[b] = lane[0];
    first_bad[b] = bad[0] == 0x7fffffff ? -1 : bad[0];
  }
}
