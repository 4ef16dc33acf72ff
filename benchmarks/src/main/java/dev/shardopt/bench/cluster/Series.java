package dev.shardopt.bench.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The measured repetitions of one figure: wall times, and the CPU they used. */
final class Series {
  final String id;
  final String what;
  /** Bytes of payload one repetition moves (0: not a transfer). */
  final long bytes;
  private final List<Double> seconds = new ArrayList<>();
  private long cpuNanos;
  private long allocated;
  private long gcMillis;
  private final Map<String, Long> groups = new TreeMap<>();
  private boolean metered;

  Series(String id, String what, long bytes) {
    this.id = id;
    this.what = what;
    this.bytes = bytes;
  }

  void add(double wallSeconds, CpuMeter.Usage cpu) {
    seconds.add(wallSeconds);
    if (cpu != null) {
      metered = true;
      cpuNanos += cpu.processNanos();
      allocated += cpu.allocatedBytes();
      gcMillis += cpu.gcMillis();
      cpu.groups().forEach((k, v) -> groups.merge(k, v, Long::sum));
    }
  }

  int count() {
    return seconds.size();
  }

  Samples samples() {
    return new Samples(id, seconds.stream().mapToDouble(Double::doubleValue).toArray());
  }

  double median() {
    return samples().median();
  }

  /** MB/s (10^6 bytes per second) at the median time. */
  double mbPerSecond() {
    return samples().mbPerSecond(bytes);
  }

  boolean metered() {
    return metered;
  }

  /** Process CPU (all threads, GC and JIT included) per repetition, in ms. */
  double cpuMillisPerOp() {
    return cpuNanos / 1e6 / Math.max(1, count());
  }

  /** Heap MB (10^6 bytes) allocated per repetition. */
  double allocatedMbPerOp() {
    return allocated / 1e6 / Math.max(1, count());
  }

  CpuMeter.Usage cpu() {
    return new CpuMeter.Usage(cpuNanos, groups, allocated, gcMillis);
  }

  String describe() {
    return samples().describe() + (metered ? "; " + cpu().describe(count()) : "");
  }
}
