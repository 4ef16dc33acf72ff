'use strict';
// An ASYNC push's header statistics (docs/clients.md, "SYNC and ASYNC"; docs/formulas.md, "The
// reduction order"): the squared L2 norm of the trainer's gradient after clipValue over the tensors
// the pipeline does not freeze, and whether any of their elements is NaN or infinite, computed in
// the engine's one reduction order so that it is bitwise what the workers would compute together:
//   - blocks of 8192 elements; inside a block, lane j (of 64) sums in double, from 0, m·m of the
//     elements s+j, s+j+64, ... where m = min(|x|, c) in float (c = float(clipValue), +inf without
//     one; NaN stays NaN, ±inf becomes c);
//   - the 64 lanes combined by the pairwise tree w = 32, 16, ..., 1: lane[j] += lane[j+w];
//   - the block sums added in block order into the tensor's sum, the tensors' sums in model order.

const BLOCK = 8192;
const LANES = 64;

/** Whether `name` matches `glob` as a whole: `*` any run of characters (dots included), `?` one. */
function globMatches(glob, name) {
  const pattern = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${pattern}$`, 'u').test(name);
}

/** The clipValue of a pipeline message (proto-loader form), or +inf without one. */
function clipValueOf(pipeline) {
  const c = pipeline && pipeline.clipping;
  if (!c) return Infinity;
  const set = c._value !== undefined ? c._value === 'value' : c.value > 0;
  return set ? c.value : Infinity;
}

function frozen(pipeline, name) {
  return (pipeline.parameter_rules || []).some((r) => r.kind === 'FREEZE' && globMatches(r.glob, name));
}

/** The sum of squares of g[from, to) (one block), clamped at float c, in lane order and the fixed tree. */
function blockSum(g, from, to, c) {
  const lane = new Float64Array(LANES);
  for (let i = from; i < to; i++) {
    const a = Math.abs(g[i]);
    const m = a > c ? c : a; // NaN > c is false: NaN stays NaN
    lane[(i - from) % LANES] += m * m;
  }
  for (let w = LANES / 2; w >= 1; w >>= 1) {
    for (let j = 0; j < w; j++) lane[j] += lane[j + w];
  }
  return lane[0];
}

/** {normSquared, nonFinite} of `gradient` under `pipeline` (a proto-loader OptimizerPipeline). */
function gradientStats(tensors, gradient, pipeline) {
  const c = Math.fround(clipValueOf(pipeline));
  let total = 0;
  let nonFinite = false;
  for (const t of tensors) {
    if (frozen(pipeline, t.name)) continue;
    const g = gradient[t.name];
    let sum = 0;
    for (let from = 0; from < g.length; from += BLOCK) {
      const to = Math.min(from + BLOCK, g.length);
      sum += blockSum(g, from, to, c);
      if (!nonFinite) {
        for (let i = from; i < to; i++) {
          if (!Number.isFinite(g[i])) {
            nonFinite = true;
            break;
          }
        }
      }
    }
    total += sum;
  }
  return { normSquared: total, nonFinite };
}

module.exports = { gradientStats, globMatches, clipValueOf, BLOCK, LANES };
