package dev.shardopt.bench.cluster;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * CPU time of this JVM's threads between two points, grouped by thread name without its trailing
 * number ("grpc-default-worker-ELG", "worker-rpc", "step-*", ...), plus the process total (which
 * also counts GC and JIT threads), the bytes allocated on the heap by all Java threads, and the
 * time the collectors report. On a shared two-core machine, CPU time per operation is the steadier
 * figure: wall time also depends on what else runs.
 */
final class CpuMeter {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final com.sun.management.OperatingSystemMXBean OS =
      (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
  private static final com.sun.management.ThreadMXBean ALLOC =
      THREADS instanceof com.sun.management.ThreadMXBean t ? t : null;

  static {
    if (THREADS.isThreadCpuTimeSupported()) {
      THREADS.setThreadCpuTimeEnabled(true);
    }
    if (ALLOC != null && ALLOC.isThreadAllocatedMemorySupported()) {
      ALLOC.setThreadAllocatedMemoryEnabled(true);
    }
  }

  private final Map<Long, Long> start = new HashMap<>();
  private final Map<Long, Long> allocStart = new HashMap<>();
  private final Map<Long, String> names = new HashMap<>();
  private final long processStart;
  private final long gcStart;

  private CpuMeter() {
    gcStart = gcMillis();
    processStart = OS.getProcessCpuTime();
    snapshot(start, allocStart);
  }

  private static long gcMillis() {
    long t = 0;
    for (java.lang.management.GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      t += Math.max(0, gc.getCollectionTime());
    }
    return t;
  }

  static CpuMeter start() {
    return new CpuMeter();
  }

  private void snapshot(Map<Long, Long> cpu, Map<Long, Long> alloc) {
    long[] ids = THREADS.getAllThreadIds();
    ThreadInfo[] infos = THREADS.getThreadInfo(ids);
    long[] allocated = ALLOC == null ? null : ALLOC.getThreadAllocatedBytes(ids);
    for (int i = 0; i < ids.length; i++) {
      long t = THREADS.getThreadCpuTime(ids[i]);
      if (t >= 0 && infos[i] != null) {
        cpu.put(ids[i], t);
        names.put(ids[i], infos[i].getThreadName());
      }
      if (allocated != null && allocated[i] >= 0) {
        alloc.put(ids[i], allocated[i]);
      }
    }
  }

  /** The CPU used since {@link #start()}. */
  Usage stop() {
    long process = OS.getProcessCpuTime() - processStart;
    Map<Long, Long> end = new HashMap<>();
    Map<Long, Long> allocEnd = new HashMap<>();
    snapshot(end, allocEnd);
    long gc = gcMillis() - gcStart;
    Map<String, Long> groups = new TreeMap<>();
    for (Map.Entry<Long, Long> e : end.entrySet()) {
      long d = e.getValue() - start.getOrDefault(e.getKey(), 0L);
      if (d > 0) {
        groups.merge(group(names.get(e.getKey())), d, Long::sum);
      }
    }
    long allocated = 0;
    for (Map.Entry<Long, Long> e : allocEnd.entrySet()) {
      allocated += Math.max(0, e.getValue() - allocStart.getOrDefault(e.getKey(), 0L));
    }
    return new Usage(process, groups, allocated, gc);
  }

  static String group(String thread) {
    String g = thread.replaceAll("[-#]?\\d+$", "").replaceAll("-\\d+-", "-");
    if (g.startsWith("step-")) {
      return "step-*";
    }
    return g;
  }

  /**
   * Process CPU nanoseconds, per-thread-group nanoseconds, heap bytes allocated by Java threads
   * (threads that ended in between are not counted), and milliseconds the collectors report.
   */
  record Usage(long processNanos, Map<String, Long> groups, long allocatedBytes, long gcMillis) {
    /** The groups using at least 2% of the process CPU, largest first, in ms per operation. */
    String describe(int ops) {
      long total = Math.max(1, processNanos);
      Map<String, Long> top = groups.entrySet().stream()
          .filter(e -> e.getValue() * 50 >= total)
          .sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
          .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, LinkedHashMap::new));
      long named = groups.values().stream().mapToLong(Long::longValue).sum();
      StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "cpu %.0f ms/op, allocated %.0f MB/op, gc %.0f ms/op;",
          processNanos / 1e6 / ops, allocatedBytes / 1e6 / ops, gcMillis / (double) ops));
      top.forEach((k, v) -> b.append(String.format(Locale.ROOT, " %s %.0f,", k, v / 1e6 / ops)));
      b.append(String.format(Locale.ROOT, " not on a Java thread (GC, JIT) %.0f", Math.max(0, processNanos - named) / 1e6 / ops));
      return b.toString();
    }

    double processMillisPerOp(int ops) {
      return processNanos / 1e6 / ops;
    }
  }
}
