package dev.shardopt.chaos;

import io.grpc.Status;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The calls a blackhole holds now, until {@link #releaseAll()}. */
final class Blackhole {
  private final Set<BlackholedCall> held = ConcurrentHashMap.newKeySet();

  void hold(BlackholedCall call) {
    held.add(call);
  }

  void gone(BlackholedCall call) {
    held.remove(call);
  }

  int size() {
    return held.size();
  }

  /** Ends every held call with UNAVAILABLE, as a caller sees a call lost in a partition; returns how many. */
  int releaseAll() {
    List<BlackholedCall> all = List.copyOf(held);
    held.removeAll(all);
    all.forEach(c -> c.cut(Status.UNAVAILABLE.withDescription("shardopt chaos: the call was lost in a blackhole")));
    return all.size();
  }
}
