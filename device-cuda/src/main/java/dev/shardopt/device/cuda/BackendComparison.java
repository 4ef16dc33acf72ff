package dev.shardopt.device.cuda;

import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.device.DeviceArray;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.GradientReduction;
import dev.shardopt.engine.kernel.AdagradKernel;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.LionKernel;
import dev.shardopt.engine.kernel.MomentumKernel;
import dev.shardopt.engine.kernel.NesterovKernel;
import dev.shardopt.engine.kernel.ReductionBlocks;
import dev.shardopt.engine.kernel.RmspropKernel;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.StepScalars;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Runs the same operations on a backend under test and on {@link CpuBackend} (the reference) and
 * compares the results bit for bit: every rule family and variant through three steps in each
 * {@link Mode} of the step prologue, the reductions (with a clamp, without, with non-finite elements), the trainer and
 * window means, fill and copy. Used by {@link DeviceProbe} on the GPU machine and by the GPU-only
 * test; nothing here needs a GPU itself.
 */
public final class BackendComparison {

  /** One comparison: its name, whether every bit matched, and the first difference if not. */
  public record Check(String name, boolean passed, String detail) {
    @Override
    public String toString() {
      return (passed ? "PASS " : "FAIL ") + name + (detail.isEmpty() ? "" : ": " + detail);
    }
  }

  /** A rule and a label for it; {@code decoupled} rules get a decoupled weight decay too. */
  record Rule(String label, UpdateKernel kernel, boolean decoupled) {}

  /** Every kernel family and every variant flag of the kernel source. */
  static List<Rule> rules() {
    return List.of(
        new Rule("sgd", new SgdKernel(), false),
        new Rule("momentum", new MomentumKernel(0.9, 0), false),
        new Rule("momentum-dampening", new MomentumKernel(0.9, 0.1), false),
        new Rule("nesterov", new NesterovKernel(0.9), false),
        new Rule("adagrad", new AdagradKernel(1e-10, 0, 0), false),
        new Rule("adagrad-initial-lrdecay", new AdagradKernel(1e-10, 0.1, 0.01), false),
        new Rule("rmsprop", new RmspropKernel(0.99, 1e-8, 0, false, false), false),
        new Rule("rmsprop-centered", new RmspropKernel(0.99, 1e-8, 0, true, false), false),
        new Rule("rmsprop-momentum", new RmspropKernel(0.99, 1e-8, 0.9, false, false), false),
        new Rule("rmsprop-epsin", new RmspropKernel(0.9, 1e-7, 0, false, true), false),
        new Rule("rmsprop-centered-momentum-epsin", new RmspropKernel(0.9, 1e-6, 0.9, true, true), false),
        new Rule("adam", new AdamKernel(0.9, 0.999, 1e-8, false, false), false),
        new Rule("amsgrad", new AdamKernel(0.9, 0.999, 1e-8, true, false), false),
        new Rule("adamw", new AdamKernel(0.9, 0.999, 1e-8, false, true), true),
        new Rule("adamw-amsgrad", new AdamKernel(0.8, 0.99, 1e-6, true, true), true),
        new Rule("lion", new LionKernel(0.9, 0.99), true));
  }

  /** The step prologue's settings: none, the clamp, the clip-norm scale, both with coupled decay. */
  public enum Mode {
    PLAIN, CLIP_VALUE, CLIP_NORM, ALL;

    StepScalars scalars(int step, boolean decoupled) {
      StepScalars s = StepScalars.of(step, 0.01 * (1 + 0.25 * step));
      s = switch (this) {
        case PLAIN -> s;
        case CLIP_VALUE -> s.withClipValue(0.05f);
        case CLIP_NORM -> s.withGradScale(0.37f + 0.01f * step);
        case ALL -> s.withClipValue(0.75f).withGradScale(0.9f).withCoupledDecay(0.01f);
      };
      return decoupled ? s.withDecoupledDecay(0.05) : s;
    }
  }

  private final DeviceBackend device;
  private final CpuBackend cpu;

  public BackendComparison(DeviceBackend device, CpuBackend cpu) {
    this.device = device;
    this.cpu = cpu;
  }

  /** Every check, on arrays of {@code n} elements (a few reduction blocks and a ragged tail suit). */
  public List<Check> all(int n) {
    List<Check> out = new ArrayList<>();
    for (Rule r : rules()) {
      for (Mode m : Mode.values()) {
        out.addAll(guarded(r.label() + " " + m + " n=" + n, () -> List.of(rule(r, n, m, 11 + m.ordinal()))));
      }
    }
    out.addAll(guarded("reductions n=" + n, () -> reductions(n)));
    out.addAll(guarded("means n=" + n, () -> means(n)));
    out.addAll(guarded("transfers n=" + n, () -> List.of(transfers(n))));
    out.addAll(guarded("non-finite gradients n=" + n, () -> nonFinite(n)));
    return out;
  }

  /**
   * Rules fed NaN and infinite gradients (which the step decision normally skips). The numbers must
   * match bit for bit; NaN payloads may not (x86 keeps an operand's payload, NVIDIA GPUs answer the
   * canonical 0x7fffffff), and the check says how many NaNs differ only in their payload.
   */
  public List<Check> nonFinite(int n) {
    List<Check> out = new ArrayList<>();
    for (Rule r : rules()) {
      if (List.of("sgd", "adam", "amsgrad", "lion", "rmsprop-centered-momentum-epsin").contains(r.label())) {
        out.add(rule(r, n, Mode.ALL, 61, true));
      }
    }
    return out;
  }

  /**
   * The checks of {@code group}, or one failed check carrying the exception if it threw, so that
   * one failure does not hide the rest (a GPU run may be the only one).
   */
  static List<Check> guarded(String group, java.util.function.Supplier<List<Check>> checks) {
    try {
      return checks.get();
    } catch (RuntimeException e) {
      return List.of(new Check(group, false, "threw " + e));
    }
  }

  /** Uploads and downloads of sub-ranges at odd offsets land where the cpu backend puts them. */
  public Check transfers(int n) {
    String name = "upload/download at offsets n=" + n;
    float[] src = values(new SplittableRandom(51), n, 1f);
    DeviceArray d = device.allocate(n);
    DeviceArray c = cpu.allocate(n);
    try {
      int half = n / 2;
      int len = Math.max(0, Math.min(n - half - 1, n / 3));
      device.upload(src, 1, d, half, len);
      cpu.upload(src, 1, c, half, len);
      int k = Math.min(5, n);
      device.upload(src, n - k, d, 0, k);
      cpu.upload(src, n - k, c, 0, k);
      String diff = differ("whole", d, c, n);
      if (diff.isEmpty()) {
        float[] a = new float[n];
        float[] b = new float[n];
        device.download(d, half, a, 3, len);
        cpu.download(c, half, b, 3, len);
        diff = firstDifference("part", a, b);
      }
      return new Check(name, diff.isEmpty(), diff);
    } finally {
      device.release(d);
      cpu.release(c);
    }
  }

  /** Three steps of {@code r} on both backends; compares parameters and every state slot. */
  public Check rule(Rule r, int n, Mode mode, long seed) {
    return rule(r, n, mode, seed, false);
  }

  private Check rule(Rule r, int n, Mode mode, long seed, boolean nonFinite) {
    String name = r.label() + " " + mode + (nonFinite ? " with NaN/inf gradients" : "") + " n=" + n;
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] p0 = values(rnd, n, 1f);
    UpdateKernel k = r.kernel();
    int slots = k.stateSlots().size();
    DeviceArray dp = device.allocate(n);
    DeviceArray dg = device.allocate(n);
    DeviceArray[] ds = new DeviceArray[slots];
    DeviceArray cp = cpu.allocate(n);
    DeviceArray cg = cpu.allocate(n);
    DeviceArray[] cs = new DeviceArray[slots];
    try {
      for (int j = 0; j < slots; j++) {
        ds[j] = device.allocate(n);
        cs[j] = cpu.allocate(n);
        device.fill(ds[j], k.initialValue(j));
        cpu.fill(cs[j], k.initialValue(j));
      }
      device.upload(p0, 0, dp, 0, n);
      cpu.upload(p0, 0, cp, 0, n);
      for (int step = 1; step <= 3; step++) {
        float[] g = values(rnd, n, 2f);
        if (nonFinite) {
          for (int i = step; i < n; i += 97) {
            g[i] = i % 3 == 0 ? Float.NaN : i % 3 == 1 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
          }
        }
        device.upload(g, 0, dg, 0, n);
        cpu.upload(g, 0, cg, 0, n);
        StepScalars s = mode.scalars(step, r.decoupled());
        device.apply(k, dp, dg, ds, s);
        cpu.apply(k, cp, cg, cs, s);
      }
      int[] nanPayloads = new int[1];
      String diff = differ("param", dp, cp, n, nonFinite, nanPayloads);
      for (int j = 0; diff.isEmpty() && j < slots; j++) {
        diff = differ(k.stateSlots().get(j), ds[j], cs[j], n, nonFinite, nanPayloads);
      }
      if (diff.isEmpty() && nanPayloads[0] > 0) {
        return new Check(name, true, "equal but for the payloads of " + nanPayloads[0] + " NaNs");
      }
      return new Check(name, diff.isEmpty(), diff);
    } finally {
      release(device, dp, dg);
      release(device, ds);
      release(cpu, cp, cg);
      release(cpu, cs);
    }
  }

  /** The per-block sums and the first non-finite index, for a clamp, none, and non-finite inputs. */
  public List<Check> reductions(int n) {
    List<Check> out = new ArrayList<>();
    SplittableRandom rnd = new SplittableRandom(21);
    float[] g = values(rnd, n, 3f);
    out.add(reduce("reduce no clamp n=" + n, g, Float.POSITIVE_INFINITY));
    out.add(reduce("reduce clamp 0.75 n=" + n, g, 0.75f));
    out.add(reduce("reduce clamp 1e-30 n=" + n, g, 1e-30f));
    if (n > 2 * ReductionBlocks.BLOCK + 10) {
      float[] bad = g.clone();
      bad[ReductionBlocks.BLOCK + 7] = Float.POSITIVE_INFINITY;
      bad[2 * ReductionBlocks.BLOCK + 3] = Float.NaN;
      out.add(reduce("reduce first non-finite (+inf at BLOCK+7, NaN later)", bad, 0.75f));
      float[] nan = g.clone();
      nan[n - 1] = Float.NaN;
      nan[n - 2] = Float.NEGATIVE_INFINITY;
      out.add(reduce("reduce first non-finite (-inf at n-2, NaN at n-1)", nan, Float.POSITIVE_INFINITY));
    }
    float[] small = Arrays.copyOf(g, Math.min(n, 100));
    out.add(reduce("reduce n=" + small.length, small, 0.75f));
    return out;
  }

  private Check reduce(String name, float[] g, float clip) {
    DeviceArray d = device.allocate(g.length);
    DeviceArray c = cpu.allocate(g.length);
    try {
      device.upload(g, 0, d, 0, g.length);
      cpu.upload(g, 0, c, 0, g.length);
      GradientReduction got = device.reduce(d, clip);
      GradientReduction want = cpu.reduce(c, clip);
      if (got.firstNonFinite() != want.firstNonFinite()) {
        return new Check(name, false,
            "first non-finite " + got.firstNonFinite() + ", cpu " + want.firstNonFinite());
      }
      double[] a = got.blockSums();
      double[] b = want.blockSums();
      if (a.length != b.length) {
        return new Check(name, false, a.length + " block sums, cpu " + b.length);
      }
      for (int i = 0; i < a.length; i++) {
        if (Double.doubleToRawLongBits(a[i]) != Double.doubleToRawLongBits(b[i])) {
          return new Check(name, false, String.format(Locale.ROOT,
              "block %d: %s (%016x), cpu %s (%016x)", i, a[i], Double.doubleToRawLongBits(a[i]), b[i],
              Double.doubleToRawLongBits(b[i])));
        }
      }
      return new Check(name, true, "");
    } finally {
      device.release(d);
      cpu.release(c);
    }
  }

  /** trainerMean for K = 1..4, addInPlace, windowMean with and without a sum, fill, copy. */
  public List<Check> means(int n) {
    List<Check> out = new ArrayList<>();
    SplittableRandom rnd = new SplittableRandom(31);
    float[][] g = new float[4][];
    for (int r = 0; r < 4; r++) {
      g[r] = values(rnd, n, 5f);
    }
    DeviceArray[] dg = new DeviceArray[4];
    DeviceArray[] cg = new DeviceArray[4];
    DeviceArray dOut = device.allocate(n);
    DeviceArray cOut = cpu.allocate(n);
    try {
      for (int r = 0; r < 4; r++) {
        dg[r] = device.allocate(n);
        cg[r] = cpu.allocate(n);
        device.upload(g[r], 0, dg[r], 0, n);
        cpu.upload(g[r], 0, cg[r], 0, n);
      }
      for (int k = 1; k <= 4; k++) {
        device.trainerMean(List.of(dg).subList(0, k), dOut);
        cpu.trainerMean(List.of(cg).subList(0, k), cOut);
        String diff = differ("out", dOut, cOut, n);
        out.add(new Check("trainerMean K=" + k + " n=" + n, diff.isEmpty(), diff));
      }
      device.windowMean(null, dg[0], 3f, dOut);
      cpu.windowMean(null, cg[0], 3f, cOut);
      String diff = differ("out", dOut, cOut, n);
      out.add(new Check("windowMean(null, x, 3) n=" + n, diff.isEmpty(), diff));
      device.addInPlace(dg[1], dg[2]);
      cpu.addInPlace(cg[1], cg[2]);
      diff = differ("sum", dg[1], cg[1], n);
      out.add(new Check("addInPlace n=" + n, diff.isEmpty(), diff));
      device.windowMean(dg[1], dg[3], 3f, dOut);
      cpu.windowMean(cg[1], cg[3], 3f, cOut);
      diff = differ("out", dOut, cOut, n);
      out.add(new Check("windowMean(sum, x, 3) n=" + n, diff.isEmpty(), diff));
      device.fill(dOut, -0f);
      cpu.fill(cOut, -0f);
      diff = differ("out", dOut, cOut, n);
      out.add(new Check("fill -0.0 n=" + n, diff.isEmpty(), diff));
      device.copy(dg[3], dOut);
      cpu.copy(cg[3], cOut);
      diff = differ("out", dOut, cOut, n);
      out.add(new Check("copy n=" + n, diff.isEmpty(), diff));
      return out;
    } finally {
      release(device, dg);
      release(cpu, cg);
      device.release(dOut);
      cpu.release(cOut);
    }
  }

  /** "" when equal bit for bit, else the first differing element. */
  private String differ(String what, DeviceArray d, DeviceArray c, int n) {
    return differ(what, d, c, n, false, new int[1]);
  }

  /**
   * As {@link #differ(String, DeviceArray, DeviceArray, int)}; with {@code nanPayloadsFree}, two NaNs
   * count as equal and are added to {@code nanPayloads[0]} when their bits differ.
   */
  private String differ(String what, DeviceArray d, DeviceArray c, int n, boolean nanPayloadsFree,
      int[] nanPayloads) {
    float[] a = new float[n];
    float[] b = new float[n];
    device.download(d, 0, a, 0, n);
    cpu.download(c, 0, b, 0, n);
    if (nanPayloadsFree) {
      for (int i = 0; i < n; i++) {
        if (Float.isNaN(a[i]) && Float.isNaN(b[i])
            && Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
          nanPayloads[0]++;
          a[i] = b[i];
        }
      }
    }
    return firstDifference(what, a, b);
  }

  /** "" when {@code a} and {@code b} are equal bit for bit, else the first difference and a count. */
  public static String firstDifference(String what, float[] a, float[] b) {
    int first = -1;
    int count = 0;
    for (int i = 0; i < a.length; i++) {
      if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
        if (first < 0) {
          first = i;
        }
        count++;
      }
    }
    if (first < 0) {
      return "";
    }
    return String.format(Locale.ROOT, "%s[%d] = %s (%08x), cpu %s (%08x); %d of %d differ", what, first,
        a[first], Float.floatToRawIntBits(a[first]), b[first], Float.floatToRawIntBits(b[first]), count,
        a.length);
  }

  /**
   * Gradient-like values: mostly uniform in (-scale, scale), with exact zeros, negative zeros,
   * subnormals, and values far beyond the clamps of {@link Mode}, all finite.
   */
  static float[] values(SplittableRandom rnd, int n, float scale) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      int kind = rnd.nextInt(64);
      v[i] = switch (kind) {
        case 0 -> 0f;
        case 1 -> -0f;
        case 2 -> Float.MIN_VALUE * (1 + rnd.nextInt(1000)) * (rnd.nextBoolean() ? 1 : -1);
        case 3 -> (float) (rnd.nextDouble(-1e6, 1e6));
        case 4 -> (float) (rnd.nextDouble(-1e-20, 1e-20));
        default -> (float) rnd.nextDouble(-scale, scale);
      };
    }
    return v;
  }

  private static void release(DeviceBackend b, DeviceArray... arrays) {
    for (DeviceArray a : arrays) {
      if (a != null) {
        b.release(a);
      }
    }
  }
}
