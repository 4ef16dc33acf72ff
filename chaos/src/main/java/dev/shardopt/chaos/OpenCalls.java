package dev.shardopt.chaos;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** The calls open in the proxy now, for {@link GrpcFaultProxy#cutAll()}. */
final class OpenCalls {
  private final Set<OpenCall> open = ConcurrentHashMap.newKeySet();

  void opened(OpenCall call) {
    open.add(call);
  }

  void closed(OpenCall call) {
    open.remove(call);
  }

  /** The open calls, taken out of the set: each is the caller's to cut. */
  List<OpenCall> takeAll() {
    List<OpenCall> all = List.copyOf(open);
    open.removeAll(all);
    return all;
  }

  int size() {
    return open.size();
  }
}
