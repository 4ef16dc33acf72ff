package dev.shardopt.cli.train;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * deploy/kubernetes read the way the API server would: every manifest through fabric8's typed
 * model (a kind/apiVersion pair it does not know stays a {@link GenericKubernetesResource}; a field
 * the type does not have lands in an {@code additionalProperties} map), and the kustomization, whose
 * secretGenerator defines the Secrets' keys.
 */
final class KubernetesManifests {
  final Path dir;
  /** Every object, by the file it is in (file name order). */
  final Map<String, List<HasMetadata>> byFile = new TreeMap<>();
  final JsonNode kustomization;

  KubernetesManifests(Path dir) throws IOException {
    this.dir = dir;
    KubernetesSerialization serialization = new KubernetesSerialization();
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files = s.filter(p -> p.toString().endsWith(".yaml") && !p.getFileName().toString().equals("kustomization.yaml"))
          .sorted().toList();
    }
    for (Path f : files) {
      Object loaded;
      try (InputStream in = Files.newInputStream(f)) {
        loaded = serialization.unmarshal(in);
      }
      List<HasMetadata> objects = new ArrayList<>();
      if (loaded instanceof KubernetesList list) {
        objects.addAll(list.getItems());
      } else if (loaded instanceof List<?> list) {
        list.forEach(o -> objects.add((HasMetadata) o));
      } else {
        objects.add((HasMetadata) loaded);
      }
      byFile.put(f.getFileName().toString(), objects);
    }
    ObjectMapper yaml = new YAMLMapper();
    kustomization = yaml.readTree(dir.resolve("kustomization.yaml").toFile());
  }

  List<HasMetadata> all() {
    return byFile.values().stream().flatMap(List::stream).toList();
  }

  <T extends HasMetadata> T one(Class<T> type, String name) {
    List<T> found = all().stream().filter(type::isInstance).map(type::cast)
        .filter(o -> o.getMetadata().getName().equals(name)).toList();
    if (found.size() != 1) {
      throw new AssertionError("expected one " + type.getSimpleName() + " " + name + ", found " + found.size());
    }
    return found.get(0);
  }

  /** The Secrets the kustomization generates: name to the file each key comes from ("key=path" or "path", key its file name). */
  Map<String, Map<String, String>> generatedSecrets() {
    Map<String, Map<String, String>> out = new TreeMap<>();
    for (JsonNode generator : kustomization.path("secretGenerator")) {
      Map<String, String> keys = new LinkedHashMap<>();
      for (JsonNode file : generator.path("files")) {
        String spec = file.asString();
        int eq = spec.indexOf('=');
        keys.put(eq >= 0 ? spec.substring(0, eq) : Path.of(spec).getFileName().toString(), eq >= 0 ? spec.substring(eq + 1) : spec);
      }
      out.put(generator.path("name").asString(), keys);
    }
    return out;
  }

  /**
   * Every field of {@code object} and below that the model did not know (a typo such as
   * {@code readinesProbe}, or a field from another API version), as "Type.path: field".
   */
  static List<String> unknownFields(Object object) {
    List<String> out = new ArrayList<>();
    collectUnknown(object, object.getClass().getSimpleName(), out);
    return out;
  }

  private static void collectUnknown(Object o, String path, List<String> out) {
    if (o == null) {
      return;
    }
    if (o instanceof Collection<?> c) {
      int i = 0;
      for (Object e : c) {
        collectUnknown(e, path + "[" + i++ + "]", out);
      }
      return;
    }
    if (o instanceof Map<?, ?> m) {
      m.forEach((k, v) -> collectUnknown(v, path + "[" + k + "]", out));
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      return;
    }
    for (Method getter : o.getClass().getMethods()) {
      if (getter.getParameterCount() != 0 || Modifier.isStatic(getter.getModifiers()) || !getter.getName().startsWith("get")
          || getter.getDeclaringClass() == Object.class) {
        continue;
      }
      Object value;
      try {
        value = getter.invoke(o);
      } catch (IllegalAccessException | InvocationTargetException e) {
        continue;
      }
      if (getter.getName().equals("getAdditionalProperties")) {
        if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
          out.add(path + ": " + new TreeSet<>(extra.keySet().stream().map(String::valueOf).toList()));
        }
      } else {
        collectUnknown(value, path + "." + getter.getName().substring(3), out);
      }
    }
  }
}
