package dev.shardopt.bench.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The markdown report of a {@link ClusterBenchmark} run: one table with every figure and ratio. */
final class Report {
  private Report() {}

  static String markdown(ClusterBenchmark.Options o, ClusterBenchmark.Results r) {
    StringBuilder b = new StringBuilder();
    List<Series> all = new ArrayList<>();
    b.append("Machine: ").append(ClusterBenchmark.Environment.describe()).append(".  \n");
    b.append("Load average (1, 5, 15 min; running/total tasks) at the start of the run: ").append(r.loadAtStart)
        .append("; at the end: ").append(ClusterBenchmark.Environment.load()).append(".  \n");
    b.append(String.format(Locale.ROOT,
        "Medians of %d interleaved rounds after %d warm-up rounds (part two, rows d-*, k1: %d after %d; "
            + "k2-k4: 3 after 1%s). MB = 10^6 bytes. Data travels in 4 MiB chunks unless noted. CPU/op: process CPU time "
            + "per operation (every thread, GC and JIT included; %d cores give at most %d ms of CPU per ms). "
            + "Alloc/op: heap bytes allocated by Java threads per operation.%s%n%n",
        o.reps(), o.warmup(), o.dReps(), o.dWarmup(),
        r.scale.isEmpty() ? "" : String.format(Locale.ROOT, "; part three, rows s*: %d after %d", o.sReps(), o.sWarmup()),
        Runtime.getRuntime().availableProcessors(),
        Runtime.getRuntime().availableProcessors(),
        o.chunkBytes() == dev.shardopt.rpc.TensorBytes.DEFAULT_CHUNK_BYTES ? ""
            : String.format(Locale.ROOT, " **What-if: Shardopt's pushes and pulls use %,d-byte chunks "
                + "(--chunk-bytes); the baseline rows still use 4 MiB.**", o.chunkBytes())));
    b.append("| Row | Measurement | Data/op | Median | Min – max | MB/s | CPU/op | Alloc/op | Ratio | Target | Met |\n");
    b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    if (r.rawPush != null) {
      row(b, all, r.rawPush, "1.00 (push ref.)", "", "");
      row(b, all, r.rawPull, "1.00 (pull ref.)", "", "");
      row(b, all, r.protoPush, times(r.protoPush.mbPerSecond() / r.rawPush.mbPerSecond()) + " a1", "", "");
      row(b, all, r.protoPull, times(r.protoPull.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2", "", "");
      if (r.keepPush != null) {
        row(b, all, r.keepPush, times(r.keepPush.mbPerSecond() / r.rawPush.mbPerSecond()) + " a1", "", "");
        row(b, all, r.keepPull, times(r.keepPull.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2", "", "");
      }
      if (r.concPush != null) {
        row(b, all, r.concPush, times(r.concPush.mbPerSecond() / r.rawPush.mbPerSecond()) + " a1", "", "");
        row(b, all, r.concPull, times(r.concPull.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2", "", "");
      }
    }
    if (r.inProcPush != null) {
      // (i): each in-process row against the same measurement on Netty loopback, in the same rounds.
      row(b, all, r.inProcPush, times(r.inProcPush.mbPerSecond() / r.rawPush.mbPerSecond()) + " a1", "", "");
      row(b, all, r.inProcPull, times(r.inProcPull.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2", "", "");
      row(b, all, r.inProcProtoPush, times(r.inProcProtoPush.mbPerSecond() / r.protoPush.mbPerSecond()) + " a3", "", "");
      row(b, all, r.inProcProtoPull, times(r.inProcProtoPull.mbPerSecond() / r.protoPull.mbPerSecond()) + " a4", "", "");
      Series b1Push = r.push.get(1);
      Series b1Pull = r.pull.get(1);
      row(b, all, r.embeddedPush, times(r.embeddedPush.mbPerSecond() / r.rawPush.mbPerSecond()) + " a1"
          + (b1Push == null ? "" : "; " + times(r.embeddedPush.mbPerSecond() / b1Push.mbPerSecond()) + " b1-push"), "", "");
      row(b, all, r.embeddedPull, times(r.embeddedPull.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2"
          + (b1Pull == null ? "" : "; " + times(r.embeddedPull.mbPerSecond() / b1Pull.mbPerSecond()) + " b1-pull"), "", "");
      row(b, all, r.embeddedPullAlloc, times(r.embeddedPullAlloc.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2", "", "");
      row(b, all, r.embeddedSettle, "", "", "");
    }
    for (int w : r.shapedPush.keySet()) {
      row(b, all, r.shapedPush.get(w), r.rawPush == null ? ""
          : times(r.shapedPush.get(w).mbPerSecond() / r.rawPush.mbPerSecond()) + " a1", "", "");
      row(b, all, r.shapedPull.get(w), r.rawPull == null ? ""
          : times(r.shapedPull.get(w).mbPerSecond() / r.rawPull.mbPerSecond()) + " a2", "", "");
    }
    for (int w : r.push.keySet()) {
      Series push = r.push.get(w);
      Series pull = r.pull.get(w);
      String target = w == 1 ? "≥ 0.90 × a" : "(≥ 0.90 × a)";
      if (w > 1 && r.shapedPush.containsKey(w)) {
        // (c)'s target: against raw gRPC in the same shape, measured in the same rounds
        Series sp = r.shapedPush.get(w);
        Series sl = r.shapedPull.get(w);
        double rp = push.mbPerSecond() / sp.mbPerSecond();
        double rl = pull.mbPerSecond() / sl.mbPerSecond();
        String t = "≥ 0.80 × c" + w + "-a";
        row(b, all, push, times(rp) + " " + sp.id + (r.rawPush == null ? ""
            : "; " + times(push.mbPerSecond() / r.rawPush.mbPerSecond()) + " a1"), t, met(rp >= ClusterBenchmark.TARGET_C));
        row(b, all, pull, times(rl) + " " + sl.id + (r.rawPull == null ? ""
            : "; " + times(pull.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2"), t, met(rl >= ClusterBenchmark.TARGET_C));
        Series alloc = r.pullAlloc.get(w);
        row(b, all, alloc, times(alloc.mbPerSecond() / sl.mbPerSecond()) + " " + sl.id, "", "");
      } else if (r.rawPush != null) {
        double rp = push.mbPerSecond() / r.rawPush.mbPerSecond();
        double rl = pull.mbPerSecond() / r.rawPull.mbPerSecond();
        row(b, all, push, times(rp) + " a1" + (r.keepPush == null ? ""
            : "; " + times(push.mbPerSecond() / r.keepPush.mbPerSecond()) + " a1-keep"), target,
            met(rp >= ClusterBenchmark.TARGET_B));
        row(b, all, pull, times(rl) + " a2" + (r.keepPull == null ? ""
            : "; " + times(pull.mbPerSecond() / r.keepPull.mbPerSecond()) + " a2-keep"), target,
            met(rl >= ClusterBenchmark.TARGET_B));
        Series alloc = r.pullAlloc.get(w);
        row(b, all, alloc, times(alloc.mbPerSecond() / r.rawPull.mbPerSecond()) + " a2; "
            + times(pull.mbPerSecond() / alloc.mbPerSecond()) + " for the pull into kept arrays", "", "");
      } else {
        row(b, all, push, "", target, "");
        row(b, all, pull, "", target, "");
        row(b, all, r.pullAlloc.get(w), "", "", "");
      }
      row(b, all, r.settle.get(w), "", "", "");
    }
    for (Series p : r.copyCosts) {
      row(b, all, p, "", "", "");
    }
    if (r.dRawPush != null && r.dRawPush.count() > 0) {
      row(b, all, r.dRawPush, "", "", "");
      row(b, all, r.dRawPull, "", "", "");
      row(b, all, r.dConcPush, "", "", "");
      row(b, all, r.dConcPull, "", "", "");
    }
    if (r.kernel != null) {
      row(b, all, r.kernel, "", "", "");
      if (r.validateScan != null && r.validateScan.count() > 0) {
        row(b, all, r.validateScan, "", "", "");
        row(b, all, r.trainerMean, "", "", "");
        row(b, all, r.statistics, "", "", "");
      }
    }
    if (r.dStep != null) {
      long n = r.dParams;
      long pushBytes = 2L * n * Float.BYTES;
      long pullBytes = 2L * n * Float.BYTES;
      Bound bound = bound(r, pushBytes, pullBytes);
      double ratio = r.dStep.median() / bound.total;
      row(b, all, r.dStep, times(ratio) + " bound", "≤ 1.30 × bound", met(ratio <= ClusterBenchmark.TARGET_D));
      b.append(String.format(Locale.ROOT,
          "| d-bound | lower bound = %s pushed at %.0f MB/s (%s) + %s pulled at %.0f MB/s (%s) + kernel k1 %.0f ms "
              + "= %.0f + %.0f + %.0f ms | %s | %.0f ms | | | | | | | |%n",
          mb(pushBytes), bound.pushMBs, bound.pushFrom, mb(pullBytes), bound.pullMBs, bound.pullFrom,
          bound.kernel * 1e3, bound.push * 1e3, bound.pull * 1e3, bound.kernel * 1e3, mb(pushBytes + pullBytes),
          bound.total * 1e3));
      row(b, all, r.dPush, times(r.dPush.median() / bound.push) + " its bound part", "", "");
      row(b, all, r.dCompute, bound.kernel > 0 ? times(r.dCompute.median() / bound.kernel) + " k1" : "", "", "");
      row(b, all, r.dPull, times(r.dPull.median() / bound.pull) + " its bound part", "", "");
      if (r.dConcPush != null && r.dConcPush.count() > 0) {
        // The bound takes the faster rate, a single stream on this machine; the step itself is four
        // concurrent streams each way (2 trainers × 2 workers), which raw gRPC moves at d-a5 / d-a6.
        double shapedPush = pushBytes / 1e6 / r.dConcPush.mbPerSecond();
        double shapedPull = pullBytes / 1e6 / r.dConcPull.mbPerSecond();
        double shaped = shapedPush + shapedPull + bound.kernel;
        b.append(String.format(Locale.ROOT,
            "| d-shape | (info) raw gRPC in the step's own shape: %s pushed at %.0f MB/s (d-a5, 4 concurrent streams) + "
                + "%s pulled at %.0f MB/s (d-a6) + kernel %.0f ms = %.0f + %.0f + %.0f ms, %s the bound | %s | %.0f ms | "
                + "| | | | | d is %s this | | |%n",
            mb(pushBytes), r.dConcPush.mbPerSecond(), mb(pullBytes), r.dConcPull.mbPerSecond(), bound.kernel * 1e3,
            shapedPush * 1e3, shapedPull * 1e3, bound.kernel * 1e3, times(shaped / bound.total), mb(pushBytes + pullBytes),
            shaped * 1e3, times(r.dStep.median() / shaped)));
      }
    }
    if (!r.scale.isEmpty()) {
      scalingRows(b, all, r);
    }
    b.append('\n');
    if (!r.scale.isEmpty()) {
      scalingSummary(b, r);
    }
    cpuCrossCheck(b, r);
    for (String note : r.notes) {
      b.append("Note: ").append(note).append("\n\n");
    }
    b.append("Where the CPU went, per operation: process CPU, heap allocated by Java threads, time the "
        + "collectors report, then CPU ms by thread group (groups under 2% left out):\n\n");
    for (Series s : all) {
      if (s.metered()) {
        b.append("- ").append(s.id).append(": ").append(s.cpu().describe(s.count())).append('\n');
      }
    }
    if (o.rounds()) {
      // Shows whether the JIT had settled: a series that still falls across its rounds wanted more warm-up.
      b.append("\nEach measured round's time, in ms, in the order run:\n\n");
      for (Series s : all) {
        b.append("- ").append(s.id).append(": ");
        double[] t = s.samples().seconds();
        for (int i = 0; i < t.length; i++) {
          b.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", t[i] * 1e3));
        }
        b.append('\n');
      }
    }
    return b.toString();
  }

  /**
   * The same comparisons in CPU time, which other work on the machine disturbs less than wall time:
   * for (b)/(c) the baseline's CPU per operation over Shardopt's; for (d) the step's CPU against
   * the baselines' CPU per MB times the bytes moved plus the kernel's CPU.
   */
  private static void cpuCrossCheck(StringBuilder b, ClusterBenchmark.Results r) {
    List<String> parts = new ArrayList<>();
    if (r.rawPush != null) {
      for (int w : r.push.keySet()) {
        Series basePush = r.shapedPush.getOrDefault(w, r.rawPush);
        Series basePull = r.shapedPull.getOrDefault(w, r.rawPull);
        parts.add(String.format(Locale.ROOT, "%d worker%s push %.2f×, pull %.2f× (of %s, %s)", w, w == 1 ? "" : "s",
            basePush.cpuMillisPerOp() / r.push.get(w).cpuMillisPerOp(),
            basePull.cpuMillisPerOp() / r.pull.get(w).cpuMillisPerOp(), basePush.id, basePull.id));
      }
    }
    String d = "";
    if (r.dStep != null && r.kernel != null && r.dRawPush != null && r.dRawPush.count() > 0) {
      Bound bound = bound(r, 8L * r.dParams, 8L * r.dParams);
      Series push = bound.pushFrom.equals(r.dRawPush.id) ? r.dRawPush : r.dConcPush;
      Series pull = bound.pullFrom.equals(r.dRawPull.id) ? r.dRawPull : r.dConcPull;
      double pushCpu = push.cpuMillisPerOp() / (push.bytes / 1e6) * (8L * r.dParams / 1e6);
      double pullCpu = pull.cpuMillisPerOp() / (pull.bytes / 1e6) * (8L * r.dParams / 1e6);
      double total = pushCpu + pullCpu + r.kernel.cpuMillisPerOp();
      d = String.format(Locale.ROOT, "; (d) used %.0f ms of CPU per step against %.0f ms for the same bytes at the "
          + "baselines' CPU cost (%s, %s) plus the kernel's CPU (%.0f ms): %.2f×", r.dStep.cpuMillisPerOp(), total,
          push.id, pull.id, r.kernel.cpuMillisPerOp(), r.dStep.cpuMillisPerOp() / total);
    }
    if (!parts.isEmpty() || !d.isEmpty()) {
      b.append("Cross-check in CPU time (less disturbed by other work on the machine than wall time): "
          + "baseline CPU per operation ÷ Shardopt's, ").append(String.join("; ", parts)).append(d).append(".\n\n");
    }
  }

  /** (s): the re-run baselines and kernel, then per worker count its step against its own bound, and the phases. */
  private static void scalingRows(StringBuilder b, List<Series> all, ClusterBenchmark.Results r) {
    row(b, all, r.sRawPush, "", "", "");
    row(b, all, r.sRawPull, "", "", "");
    for (ClusterBenchmark.ScaleRow s : r.scale.values()) {
      row(b, all, s.concPush(), "", "", "");
      row(b, all, s.concPull(), "", "", "");
    }
    row(b, all, r.sKernel, "", "", "");
    long bytes = 8L * r.sParams;
    for (ClusterBenchmark.ScaleRow s : r.scale.values()) {
      Bound bound = bound(r.sRawPush, s.concPush(), r.sRawPull, s.concPull(), r.sKernel, bytes, bytes);
      ClusterBenchmark.StepSeries st = s.steps();
      double ratio = st.step().median() / bound.total;
      row(b, all, st.step(), times(ratio) + " bound", "≤ 1.30 × bound", met(ratio <= ClusterBenchmark.TARGET_D));
      boundRow(b, "s" + s.workers() + "-bound", bytes, bytes, bound);
      row(b, all, st.push(), times(st.push().median() / bound.push) + " its bound part", "", "");
      row(b, all, st.compute(), times(st.compute().median() / bound.kernel) + " s-k1", "", "");
      row(b, all, st.pull(), times(st.pull().median() / bound.pull) + " its bound part", "", "");
    }
  }

  /** (s) in one line: each step time and CPU against the 1-worker step's. */
  private static void scalingSummary(StringBuilder b, ClusterBenchmark.Results r) {
    ClusterBenchmark.StepSeries one = r.scale.values().iterator().next().steps();
    List<String> parts = new ArrayList<>();
    for (ClusterBenchmark.ScaleRow s : r.scale.values()) {
      parts.add(String.format(Locale.ROOT, "%d worker%s %.0f ms (%.2f× the 1-worker step; CPU %.0f ms, %.2f×)",
          s.workers(), s.workers() == 1 ? "" : "s", s.steps().step().median() * 1e3,
          s.steps().step().median() / one.step().median(), s.steps().step().cpuMillisPerOp(),
          s.steps().step().cpuMillisPerOp() / one.step().cpuMillisPerOp()));
    }
    b.append("Scaling (s), median step: ").append(String.join("; ", parts)).append(".\n\n");
    List<String> cpu = new ArrayList<>();
    long bytes = 8L * r.sParams;
    for (ClusterBenchmark.ScaleRow s : r.scale.values()) {
      double push = Math.min(cpuPerMb(r.sRawPush), cpuPerMb(s.concPush())) * bytes / 1e6;
      double pull = Math.min(cpuPerMb(r.sRawPull), cpuPerMb(s.concPull())) * bytes / 1e6;
      double bound = push + pull + r.sKernel.cpuMillisPerOp();
      cpu.add(String.format(Locale.ROOT, "%d worker%s %.0f ms against %.0f ms: %.2f×", s.workers(),
          s.workers() == 1 ? "" : "s", s.steps().step().cpuMillisPerOp(), bound, s.steps().step().cpuMillisPerOp() / bound));
    }
    b.append("Cross-check of (s) in CPU time: CPU per step against the same bytes at the cheaper baseline's CPU per MB "
        + "(single stream or the shape's concurrent streams, each direction) plus the kernel's CPU: ")
        .append(String.join("; ", cpu)).append(".\n\n");
  }

  private static double cpuPerMb(Series s) {
    return s.cpuMillisPerOp() / (s.bytes / 1e6);
  }

  private static void boundRow(StringBuilder b, String id, long pushBytes, long pullBytes, Bound bound) {
    b.append(String.format(Locale.ROOT,
        "| %s | lower bound = %s pushed at %.0f MB/s (%s) + %s pulled at %.0f MB/s (%s) + kernel %.0f ms "
            + "= %.0f + %.0f + %.0f ms | %s | %.0f ms | | | | | | | |%n",
        id, mb(pushBytes), bound.pushMBs, bound.pushFrom, mb(pullBytes), bound.pullMBs, bound.pullFrom,
        bound.kernel * 1e3, bound.push * 1e3, bound.pull * 1e3, bound.kernel * 1e3, mb(pushBytes + pullBytes),
        bound.total * 1e3));
  }

  /** The (d) lower bound's parts, in seconds, and the baseline rates used. */
  record Bound(double push, double pull, double kernel, double total, double pushMBs, String pushFrom,
      double pullMBs, String pullFrom) {}

  /**
   * Transfer at the faster of the single-stream and the concurrent raw baseline of each direction
   * (the tighter bound), as re-measured in part two alongside the steps (else from part one), plus
   * the kernel. Every baseline ran on the same two cores as everything else, so its rate already
   * includes the client's and the server's CPU work; transfers and the kernel are added, not
   * overlapped, because SYNC orders them (pushes, then the step, then the pulls) and the cores are
   * shared anyway.
   */
  static Bound bound(ClusterBenchmark.Results r, long pushBytes, long pullBytes) {
    boolean two = r.dRawPush != null && r.dRawPush.count() > 0;
    return bound(two ? r.dRawPush : r.rawPush, two ? r.dConcPush : r.concPush, two ? r.dRawPull : r.rawPull,
        two ? r.dConcPull : r.concPull, r.kernel, pushBytes, pullBytes);
  }

  /**
   * Transfer at the faster of a single-stream and a concurrent raw baseline of each direction, plus
   * the kernel's median (0 without one); the rates are NaN without baselines.
   */
  static Bound bound(Series sp, Series cp, Series sl, Series cl, Series kernelSeries, long pushBytes, long pullBytes) {
    double pushMBs = Double.NaN;
    double pullMBs = Double.NaN;
    String pushFrom = "n/a";
    String pullFrom = "n/a";
    if (sp != null) {
      pushMBs = Math.max(sp.mbPerSecond(), cp.mbPerSecond());
      pushFrom = sp.mbPerSecond() >= cp.mbPerSecond() ? sp.id : cp.id;
      pullMBs = Math.max(sl.mbPerSecond(), cl.mbPerSecond());
      pullFrom = sl.mbPerSecond() >= cl.mbPerSecond() ? sl.id : cl.id;
    }
    double push = pushBytes / 1e6 / pushMBs;
    double pull = pullBytes / 1e6 / pullMBs;
    double kernel = kernelSeries == null ? 0 : kernelSeries.median();
    return new Bound(push, pull, kernel, push + pull + kernel, pushMBs, pushFrom, pullMBs, pullFrom);
  }

  static void row(StringBuilder b, List<Series> all, Series s, String ratio, String target, String met) {
    all.add(s);
    Samples x = s.samples();
    boolean transfer = s.bytes > 0;
    b.append(String.format(Locale.ROOT, "| %s | %s | %s | %.0f ms | %.0f – %.0f ms | %s | %s | %s | %s | %s | %s |%n",
        s.id, s.what, transfer ? mb(s.bytes) : "", x.median() * 1e3, x.min() * 1e3, x.max() * 1e3,
        transfer ? String.format(Locale.ROOT, "%.0f", x.mbPerSecond(s.bytes)) : "",
        s.metered() ? String.format(Locale.ROOT, "%.0f ms", s.cpuMillisPerOp()) : "",
        s.metered() ? String.format(Locale.ROOT, "%.0f MB", s.allocatedMbPerOp()) : "", ratio, target, met));
  }

  static String mb(long n) {
    return String.format(Locale.ROOT, "%,.1f MB", n / 1e6);
  }

  static String times(double x) {
    return String.format(Locale.ROOT, "%.2f×", x);
  }

  private static String met(boolean ok) {
    return ok ? "yes" : "**no**";
  }
}
