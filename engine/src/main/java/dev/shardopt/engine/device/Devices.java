package dev.shardopt.engine.device;

import dev.shardopt.engine.kernel.ParallelApply;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/**
 * Opens the backend a {@link DeviceSelection} names: {@code cpu} is built in; {@code opencl} and
 * {@code cuda} come from the {@link DeviceBackendProvider}s on the class path (the
 * shardopt-device-opencl and shardopt-device-cuda modules), so that the engine loads no native
 * library; {@code auto} tries cuda, then opencl, then takes cpu, and says which it chose and why the
 * others did not open, in one line.
 */
public final class Devices {
  private static final int MAX_BROKEN = 16;

  private final List<DeviceBackendProvider> providers;
  private final List<String> broken;

  /** Over these providers (tests pass fakes). */
  public Devices(List<DeviceBackendProvider> providers) {
    this(providers, List.of());
  }

  /** @param broken one line per provider that failed to load, named when a kind is not found */
  Devices(List<DeviceBackendProvider> providers, List<String> broken) {
    this.providers = List.copyOf(providers);
    this.broken = List.copyOf(broken);
  }

  /**
   * The providers registered on the class path ({@code META-INF/services}). A provider that fails
   * to load is left out and named when its kind is asked for.
   */
  public static Devices installed() {
    List<DeviceBackendProvider> found = new ArrayList<>();
    List<String> broken = new ArrayList<>();
    Iterator<DeviceBackendProvider> it =
        ServiceLoader.load(DeviceBackendProvider.class, Devices.class.getClassLoader()).iterator();
    while (broken.size() < MAX_BROKEN) {
      try {
        if (!it.hasNext()) {
          break;
        }
        found.add(it.next());
      } catch (ServiceConfigurationError e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
          root = root.getCause();
        }
        broken.add(oneLine(e) + (root == e ? "" : " (" + oneLine(root) + ")"));
      }
    }
    return new Devices(found, broken);
  }

  /** The providers that failed to load, one line each. */
  List<String> brokenProviders() {
    return broken;
  }

  /** The kinds that have a provider here, besides cpu. */
  public List<String> providedKinds() {
    return providers.stream().map(DeviceBackendProvider::kind).toList();
  }

  /**
   * Opens {@code selection}'s device, under its memory limit when it has one.
   *
   * @param parallel the threads of the cpu backend (also when auto falls back to it)
   * @param log gets auto's one line
   * @throws DeviceUnavailableException with one line saying why, for a kind that cannot open here
   */
  public DeviceBackend open(DeviceSelection selection, ParallelApply parallel, Consumer<String> log) {
    DeviceBackend b = open(selection.kind(), selection.index(), parallel, log);
    return selection.memoryLimitBytes() > 0 ? new MemoryLimitedBackend(b, selection.memoryLimitBytes()) : b;
  }

  /**
   * Opens device {@code index} of {@code kind}.
   *
   * @throws IllegalArgumentException for a kind not in {@link DeviceSelection#KINDS} or a bad index
   * @throws DeviceUnavailableException with one line saying why, for a kind that cannot open here
   */
  public DeviceBackend open(String kind, int index, ParallelApply parallel, Consumer<String> log) {
    new DeviceSelection(kind, index, 0); // the checks of the arguments
    Objects.requireNonNull(parallel, "parallel");
    Objects.requireNonNull(log, "log");
    switch (kind) {
      case "cpu":
        return new CpuBackend(parallel);
      case "auto":
        return auto(index, parallel, log);
      default:
        try {
          return provided(kind, index);
        } catch (Unavailable u) {
          throw new DeviceUnavailableException("device " + kind + " " + index + " is unavailable: " + u.getMessage());
        }
    }
  }

  private DeviceBackend auto(int index, ParallelApply parallel, Consumer<String> log) {
    List<String> whyNot = new ArrayList<>();
    for (String kind : List.of("cuda", "opencl")) {
      try {
        DeviceBackend b = provided(kind, index);
        log.accept("device auto: chose " + kind + " " + index + " \"" + b.info().name() + "\""
            + (whyNot.isEmpty() ? "" : " (" + String.join("; ", whyNot) + ")"));
        return b;
      } catch (Unavailable u) {
        whyNot.add(kind + ": " + u.getMessage());
      }
    }
    CpuBackend cpu = new CpuBackend(parallel);
    log.accept("device auto: chose cpu (" + String.join("; ", whyNot) + ")");
    return cpu;
  }

  /** Why a provided kind did not open, without the "device X" prefix. */
  private static final class Unavailable extends Exception {
    Unavailable(String why) {
      super(why, null, false, false);
    }
  }

  private DeviceBackend provided(String kind, int index) throws Unavailable {
    DeviceBackendProvider provider = null;
    for (DeviceBackendProvider p : providers) {
      if (kind.equals(p.kind())) {
        provider = p;
        break;
      }
    }
    if (provider == null) {
      throw new Unavailable("not in this build (no shardopt-device-" + kind + " on the class path)"
          + (broken.isEmpty() ? "" : "; providers that failed to load: " + String.join("; ", broken)));
    }
    try {
      DeviceBackend b = provider.open(index);
      if (b == null) {
        throw new Unavailable(provider.getClass().getName() + " opened nothing");
      }
      return b;
    } catch (DeviceUnavailableException e) {
      throw new Unavailable(oneLine(e.getMessage(), e));
    } catch (RuntimeException | LinkageError e) {
      // a native library that does not load (UnsatisfiedLinkError: no jnicudart), or a provider's bug
      throw new Unavailable(oneLine(e));
    }
  }

  private static String oneLine(Throwable t) {
    return oneLine(t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage()), t);
  }

  private static String oneLine(String message, Throwable t) {
    String m = message == null || message.isBlank() ? t.getClass().getSimpleName() : message;
    return m.strip().replaceAll("\\s*[\\r\\n]+\\s*", " ");
  }
}
