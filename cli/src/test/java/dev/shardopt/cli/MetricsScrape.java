package dev.shardopt.cli;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One scrape of a {@code /metrics} endpoint as Prometheus' own parser reads it: Debian's
 * python3-prometheus-client ({@code prometheus_client.parser} for the text format, its {@code
 * openmetrics.parser} for OpenMetrics), run by {@code src/test/python/scrape_metrics.py}. Shared
 * with cli-train's tests through this module's test jar.
 */
public final class MetricsScrape {
  /** One sample: its name (with _total, _bucket, _count, _sum), labels and value. */
  public record Sample(String name, Map<String, String> labels, double value) {}

  private final Map<String, String> types;
  private final List<Sample> samples;

  private MetricsScrape(Map<String, String> types, List<Sample> samples) {
    this.types = types;
    this.samples = samples;
  }

  /** Scrapes {@code url} asking for {@code format}, "text" or "openmetrics"; fails when the parser does. */
  public static MetricsScrape of(String url, String format) throws IOException, InterruptedException {
    Path script = script();
    Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), url, format).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException("the scrape of " + url + " did not end within 60 s");
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IllegalStateException("the scrape of " + url + " (" + format + ") failed; the Prometheus parser needs"
          + " Debian's python3-prometheus-client (apt-get install python3-prometheus-client):\n" + text);
    }
    Map<String, String> types = new LinkedHashMap<>();
    List<Sample> samples = new ArrayList<>();
    for (String line : text.split("\n")) {
      String[] f = line.split("\t", -1);
      if (f[0].equals("family")) {
        types.put(f[1], f[2]);
      } else if (f[0].equals("sample")) {
        samples.add(new Sample(f[1], labels(f[3]), number(f[2])));
      }
    }
    return new MetricsScrape(types, samples);
  }

  private static Path script() {
    for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
      Path s = dir.resolve("cli/src/test/python/scrape_metrics.py");
      if (Files.isRegularFile(s)) {
        return s;
      }
    }
    throw new IllegalStateException("cli/src/test/python/scrape_metrics.py not found above " + Path.of("").toAbsolutePath());
  }

  private static Map<String, String> labels(String encoded) {
    Map<String, String> out = new TreeMap<>();
    if (!encoded.isEmpty()) {
      for (String kv : encoded.split("&")) {
        int eq = kv.indexOf('=');
        out.put(decode(kv.substring(0, eq)), decode(kv.substring(eq + 1)));
      }
    }
    return out;
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }

  private static double number(String repr) {
    return switch (repr) {
      case "nan" -> Double.NaN;
      case "inf" -> Double.POSITIVE_INFINITY;
      case "-inf" -> Double.NEGATIVE_INFINITY;
      default -> Double.parseDouble(repr);
    };
  }

  /** Family name (without _total for counters, as the parser names them) to its type. */
  public Map<String, String> types() {
    return types;
  }

  public List<Sample> samples() {
    return samples;
  }

  /** The samples named {@code name} whose labels include {@code labels}. */
  public List<Sample> samples(String name, Map<String, String> labels) {
    Predicate<Sample> match = s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet());
    return samples.stream().filter(match).toList();
  }

  /** The one sample named {@code name} with exactly {@code labels}; fails when there is none. */
  public double value(String name, Map<String, String> labels) {
    return samples.stream().filter(s -> s.name().equals(name) && s.labels().equals(new TreeMap<>(labels)))
        .mapToDouble(Sample::value).reduce((a, b) -> {
          throw new IllegalStateException("two samples " + name + labels);
        })
        .orElseThrow(() -> new AssertionError("no sample " + name + labels + " in the scrape; its samples named "
            + name + ": " + samples(name, Map.of())));
  }
}
