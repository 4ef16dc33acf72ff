package dev.shardopt.cli.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.ShardoptCli;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * deploy/kubernetes against the command line it runs: every manifest is a valid typed Kubernetes
 * object with no unknown field; every flag in a container's args exists on that command's picocli
 * spec and parses; ports are the commands' default ports and the gRPC probes ask --health-port; every file a flag names
 * is a key of a generated Secret mounted there (the state dir a PVC); and make-secrets.sh writes
 * exactly the Secrets' files, certificates that chain to its CA, match their keys and name the
 * addresses the manifests dial.
 */
class KubernetesManifestsTest {
  /** The flags that name a file which must come from a Secret. */
  static final Set<String> SECRET_FILE_FLAGS = Set.of("--tls-cert", "--tls-key", "--tls-ca", "--auth-tokens", "--token-file");
  static final String NAMESPACE = "shardopt";

  static KubernetesManifests manifests;
  @TempDir static Path secretsDir;

  @BeforeAll
  static void load() throws Exception {
    manifests = new KubernetesManifests(Path.of("").toAbsolutePath().getParent().resolve("deploy/kubernetes"));
  }

  @Test
  void everyManifestIsAKnownKindWithNoUnknownField() {
    Map<String, String> kinds = new LinkedHashMap<>();
    for (HasMetadata o : manifests.all()) {
      assertThat(o).as(o.getKind() + " " + o.getApiVersion()).isNotInstanceOf(GenericKubernetesResource.class);
      assertThat(KubernetesManifests.unknownFields(o)).as(o.getKind() + " " + o.getMetadata().getName()).isEmpty();
      kinds.put(o.getKind() + "/" + o.getMetadata().getName(), o.getApiVersion());
    }
    assertThat(kinds).containsExactlyInAnyOrderEntriesOf(Map.of(
        "ConfigMap/shardopt-pipeline", "v1",
        "PersistentVolumeClaim/shardopt-coordinator-state", "v1",
        "Deployment/shardopt-coordinator", "apps/v1",
        "Service/shardopt-coordinator", "v1",
        "Service/shardopt-worker", "v1",
        "StatefulSet/shardopt-worker", "apps/v1",
        "PodDisruptionBudget/shardopt-worker", "policy/v1",
        "Job/shardopt-train-example", "batch/v1"));
    // the kustomization lists every manifest file
    List<String> resources = new ArrayList<>();
    manifests.kustomization.path("resources").forEach(r -> resources.add(r.asString()));
    assertThat(resources).containsExactlyInAnyOrderElementsOf(manifests.byFile.keySet());
  }

  @Test
  void theCoordinatorIsOneReplicaWithItsStateOnAClaimAndTheWorkersHaveAHeadlessService() {
    Deployment coordinator = manifests.one(Deployment.class, "shardopt-coordinator");
    assertThat(coordinator.getSpec().getReplicas()).isEqualTo(1);
    assertThat(coordinator.getSpec().getStrategy().getType()).isEqualTo("Recreate");
    PodSpec pod = coordinator.getSpec().getTemplate().getSpec();
    Map<String, String> args = flags(pod.getContainers().get(0));
    String stateDir = args.get("--state-dir");
    VolumeMount mount = mountOf(pod.getContainers().get(0), stateDir);
    Volume volume = volume(pod, mount.getName());
    assertThat(volume.getPersistentVolumeClaim().getClaimName()).isEqualTo("shardopt-coordinator-state");
    assertThat(mount.getMountPath()).isEqualTo(stateDir);
    manifests.one(PersistentVolumeClaim.class, "shardopt-coordinator-state");

    StatefulSet workers = manifests.one(StatefulSet.class, "shardopt-worker");
    Service headless = manifests.one(Service.class, workers.getSpec().getServiceName());
    assertThat(headless.getSpec().getClusterIP()).isEqualTo("None");
    assertThat(headless.getSpec().getSelector()).isEqualTo(workers.getSpec().getTemplate().getMetadata().getLabels());
    PodDisruptionBudget pdb = manifests.one(PodDisruptionBudget.class, "shardopt-worker");
    assertThat(pdb.getSpec().getSelector().getMatchLabels()).isEqualTo(workers.getSpec().getSelector().getMatchLabels());
    assertThat(pdb.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
  }

  @Test
  void portsAreTheCommandsDefaultsAndProbesAskTheHealthPort() {
    int coordinatorPort = defaultInt("coordinator", "--port");
    int workerPort = defaultInt("worker", "--port");
    for (String[] server : List.of(new String[] {"coordinator", "shardopt-coordinator"}, new String[] {"worker", "shardopt-worker"})) {
      PodTemplateSpec template = server[0].equals("coordinator")
          ? manifests.one(Deployment.class, server[1]).getSpec().getTemplate()
          : manifests.one(StatefulSet.class, server[1]).getSpec().getTemplate();
      Container c = template.getSpec().getContainers().get(0);
      int port = defaultInt(server[0], "--port");
      assertThat(c.getArgs().get(0)).isEqualTo(server[0]);
      Map<String, String> args = flags(c);
      assertThat(Integer.parseInt(args.get("--port"))).isEqualTo(port);
      assertThat(args.get("--host")).isEqualTo("0.0.0.0"); // reachable from other pods
      assertThat(containerPort(c, "grpc")).isEqualTo(port);
      // the kubelet's gRPC probe speaks plaintext only: it asks the plaintext --health-port, not the TLS port
      assertThat(args).containsKey("--health-port");
      int health = Integer.parseInt(args.get("--health-port"));
      assertThat(health).as(server[0] + " --health-port").isNotEqualTo(port).isBetween(1, 65535);
      assertThat(containerPort(c, "health")).isEqualTo(health);
      for (Probe probe : List.of(c.getReadinessProbe(), c.getLivenessProbe())) {
        assertThat(probe.getGrpc()).as(server[0] + " probes are native gRPC").isNotNull();
        assertThat(probe.getGrpc().getPort()).as(server[0] + " probe port").isEqualTo(health);
        assertThat(probe.getGrpc().getService()).isEmpty(); // the servers' HealthStatusManager reports ""
        assertThat(probe.getHttpGet()).isNull();
        assertThat(probe.getTcpSocket()).isNull();
      }
      int metrics = Integer.parseInt(args.get("--metrics-port"));
      assertThat(containerPort(c, "metrics")).isEqualTo(metrics);
      assertThat(template.getMetadata().getAnnotations()).containsEntry("prometheus.io/port", String.valueOf(metrics));
      Service service = manifests.one(Service.class, server[1]);
      ServicePort grpc = service.getSpec().getPorts().stream().filter(p -> p.getName().equals("grpc")).findFirst().orElseThrow();
      assertThat(grpc.getPort()).isEqualTo(port);
      assertThat(grpc.getTargetPort().getStrVal()).isEqualTo("grpc");
    }
    // whoever dials the coordinator uses its default port
    Container worker = manifests.one(StatefulSet.class, "shardopt-worker").getSpec().getTemplate().getSpec().getContainers().get(0);
    Container train = manifests.one(Job.class, "shardopt-train-example").getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(port(flags(worker).get("--coordinator"))).isEqualTo(coordinatorPort);
    assertThat(port(flags(train).get("--coordinator"))).isEqualTo(coordinatorPort);
    assertThat(port(expand(worker, flags(worker).get("--advertise")))).isEqualTo(workerPort);
  }

  @Test
  void everyFlagExistsOnItsCommandAndTheArgsParse() {
    for (Container c : containers()) {
      String command = c.getArgs().get(0);
      CommandLine cmd = ShardoptCli.commandLine().getSubcommands().get(command);
      assertThat(cmd).as("command " + command).isNotNull();
      CommandSpec spec = cmd.getCommandSpec();
      List<String> parse = new ArrayList<>(List.of(command));
      for (String arg : c.getArgs().subList(1, c.getArgs().size())) {
        assertThat(arg).as("args are --flag=value").matches("--[a-z-]+=.+");
        String flag = arg.substring(0, arg.indexOf('='));
        assertThat(spec.findOption(flag)).as(command + " has option " + flag).isNotNull();
        parse.add(expand(c, arg)); // as the kubelet expands $(VAR)
      }
      // picocli parses them as the command would: types, ranges it checks while parsing, required options
      CommandLine.ParseResult parsed = ShardoptCli.commandLine().parseArgs(parse.toArray(String[]::new));
      assertThat(parsed.subcommand().commandSpec().name()).isEqualTo(command);
      assertThat(parsed.subcommand().matchedOptions()).hasSize(parse.size() - 1);
    }
  }

  @Test
  void theSecurityFlagsAreTheContractOnes() {
    // The manifests use exactly the contract's TLS and token flags, each on the commands that take it.
    Map<String, Set<String>> used = new HashMap<>();
    for (Container c : containers()) {
      used.put(c.getArgs().get(0), new TreeSet<>(flags(c).keySet()));
    }
    assertThat(used.get("coordinator")).contains("--tls-cert", "--tls-key", "--tls-ca", "--auth-tokens").doesNotContain("--token-file");
    assertThat(used.get("worker")).contains("--tls-cert", "--tls-key", "--tls-ca", "--auth-tokens", "--token-file");
    assertThat(used.get("train")).contains("--tls-cert", "--tls-key", "--tls-ca", "--token-file").doesNotContain("--auth-tokens");
  }

  @Test
  void everyFileAFlagNamesIsASecretKeyMountedThere() throws Exception {
    Map<String, Map<String, String>> secrets = manifests.generatedSecrets();
    assertThat(secrets).containsOnlyKeys("shardopt-tls", "shardopt-tokens");
    Map<String, String> mountedKeys = new HashMap<>(); // "command --flag" -> the Secret key behind the file
    for (PodSpec pod : pods()) {
      Container c = pod.getContainers().get(0);
      for (Map.Entry<String, String> f : flags(c).entrySet()) {
        if (!SECRET_FILE_FLAGS.contains(f.getKey())) {
          continue;
        }
        Path file = Path.of(f.getValue());
        VolumeMount mount = mountOf(c, f.getValue());
        assertThat(mount.getReadOnly()).as(f.getKey() + " mount read-only").isTrue();
        Volume volume = volume(pod, mount.getName());
        assertThat(volume.getSecret()).as(f + " comes from a Secret").isNotNull();
        String relative = Path.of(mount.getMountPath()).relativize(file).toString();
        KeyToPath item = volume.getSecret().getItems().stream().filter(i -> i.getPath().equals(relative)).findFirst()
            .orElseThrow(() -> new AssertionError(f + ": no item of Secret volume " + volume.getName() + " is " + relative));
        assertThat(secrets.get(volume.getSecret().getSecretName())).as(f + ": the generated Secret's keys")
            .containsKey(item.getKey());
        mountedKeys.put(c.getArgs().get(0) + " " + f.getKey(), item.getKey());
      }
    }
    // each process its own certificate, its key beside it, the one CA; each client the token of its role
    for (String command : List.of("coordinator", "worker", "train")) {
      String name = command.equals("train") ? "trainer" : command;
      assertThat(mountedKeys).containsEntry(command + " --tls-cert", name + ".crt").containsEntry(command + " --tls-key", name + ".key")
          .containsEntry(command + " --tls-ca", "ca.crt");
    }
    assertThat(mountedKeys).containsEntry("coordinator --auth-tokens", "auth-tokens").containsEntry("worker --auth-tokens", "auth-tokens")
        .containsEntry("worker --token-file", "worker.token")
        .containsEntry("train --token-file", "admin.token"); // train creates its model: admin
  }

  @Test
  void makeSecretsWritesEveryKeyWithCertificatesForTheAddressesDialled() throws Exception {
    Path dir = generated();
    Map<String, Map<String, String>> secrets = manifests.generatedSecrets();
    Set<String> expected = new TreeSet<>();
    secrets.values().forEach(keys -> keys.values().forEach(path -> expected.add(Path.of(path).getFileName().toString())));
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString()).toList()).containsExactlyInAnyOrderElementsOf(expected);
    }
    CertificateFactory x509 = CertificateFactory.getInstance("X.509");
    X509Certificate ca = (X509Certificate) x509.generateCertificate(Files.newInputStream(dir.resolve("ca.crt")));
    assertThat(ca.getBasicConstraints()).isGreaterThanOrEqualTo(0);
    Map<String, X509Certificate> certs = new HashMap<>();
    for (String name : List.of("coordinator", "worker", "trainer")) {
      X509Certificate cert = (X509Certificate) x509.generateCertificate(Files.newInputStream(dir.resolve(name + ".crt")));
      cert.verify(ca.getPublicKey()); // signed by the CA
      cert.checkValidity();
      assertThat(cert.getExtendedKeyUsage()).contains("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"); // server and client auth
      // the key is PKCS#8 (what the servers read) and is the certificate's
      String pem = Files.readString(dir.resolve(name + ".key"));
      assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----");
      byte[] der = Base64.getMimeDecoder().decode(pem.replaceAll("-----[A-Z ]+-----", ""));
      RSAPrivateCrtKey key = (RSAPrivateCrtKey) KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(der));
      assertThat(key.getModulus()).isEqualTo(((RSAPublicKey) cert.getPublicKey()).getModulus());
      certs.put(name, cert);
    }
    // the names dialled: the coordinator as the workers and the trainer reach it, each worker as it registers
    Container worker = manifests.one(StatefulSet.class, "shardopt-worker").getSpec().getTemplate().getSpec().getContainers().get(0);
    Container train = manifests.one(Job.class, "shardopt-train-example").getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(names(certs.get("coordinator"))).anySatisfy(san -> assertThat(matches(san, host(expand(worker, flags(worker).get("--coordinator"))))).isTrue());
    assertThat(names(certs.get("coordinator"))).anySatisfy(san -> assertThat(matches(san, host(flags(train).get("--coordinator")))).isTrue());
    String advertised = host(expand(worker, flags(worker).get("--advertise")));
    assertThat(advertised).isEqualTo("shardopt-worker-0.shardopt-worker." + NAMESPACE + ".svc.cluster.local");
    assertThat(names(certs.get("worker"))).anySatisfy(san -> assertThat(matches(san, advertised)).isTrue());
    assertThat(names(certs.get("worker"))).noneSatisfy(san -> assertThat(matches(san, "shardopt-coordinator")).isTrue());

    // one token per role, and the servers' file lists each with its role
    List<String> lines = Files.readAllLines(dir.resolve("auth-tokens"));
    Map<String, String> byRole = new HashMap<>();
    for (String line : lines) {
      String[] parts = line.split(" ");
      assertThat(parts).hasSize(2);
      byRole.put(parts[0], parts[1]);
    }
    assertThat(byRole).containsOnlyKeys("admin", "worker", "trainer");
    for (Map.Entry<String, String> e : byRole.entrySet()) {
      assertThat(e.getValue()).matches("[0-9a-f]{64}");
      assertThat(Files.readString(dir.resolve(e.getKey() + ".token")).strip()).isEqualTo(e.getValue());
    }
    assertThat(new TreeSet<>(byRole.values())).hasSize(3);
  }

  @Test
  void everyContainerHasRequestsAndLimits() {
    for (Container c : containers()) {
      Map<String, Quantity> requests = c.getResources().getRequests();
      Map<String, Quantity> limits = c.getResources().getLimits();
      assertThat(requests).as(c.getName()).containsKeys("cpu", "memory");
      assertThat(limits).as(c.getName()).containsKeys("cpu", "memory");
      for (String r : List.of("cpu", "memory")) {
        assertThat(requests.get(r).getNumericalAmount()).as(c.getName() + " " + r)
            .isLessThanOrEqualTo(limits.get(r).getNumericalAmount());
      }
    }
  }

  @Test
  void theJobTakesThePipelineDefaultsFromTheConfigMap() {
    Container train = manifests.one(Job.class, "shardopt-train-example").getSpec().getTemplate().getSpec().getContainers().get(0);
    ConfigMap defaults = manifests.one(ConfigMap.class, "shardopt-pipeline");
    assertThat(train.getEnvFrom()).extracting(e -> e.getConfigMapRef().getName()).containsExactly("shardopt-pipeline");
    // the pipeline parses, and the run is as long as its cosine
    String pipeline = expand(train, flags(train).get("--pipeline"));
    assertThat(pipeline).isEqualTo(defaults.getData().get("PIPELINE"));
    assertThat(dev.shardopt.dsl.Pipeline.parse(pipeline).toString()).contains("cosine(" + defaults.getData().get("STEPS"));
  }

  // ---- helpers

  private static Path generated() throws Exception {
    Path out = secretsDir.resolve("secrets");
    if (!Files.isDirectory(out)) {
      ProcessBuilder pb = new ProcessBuilder("bash", manifests.dir.resolve("make-secrets.sh").toString(), NAMESPACE)
          .redirectErrorStream(true);
      pb.environment().put("SHARDOPT_SECRETS_DIR", out.toString());
      Process p = pb.start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(log).isEqualTo(0);
    }
    return out;
  }

  private static List<PodSpec> pods() {
    return List.of(manifests.one(Deployment.class, "shardopt-coordinator").getSpec().getTemplate().getSpec(),
        manifests.one(StatefulSet.class, "shardopt-worker").getSpec().getTemplate().getSpec(),
        manifests.one(Job.class, "shardopt-train-example").getSpec().getTemplate().getSpec());
  }

  private static List<Container> containers() {
    List<Container> out = new ArrayList<>();
    pods().forEach(p -> out.addAll(p.getContainers()));
    assertThat(out).hasSize(3);
    return out;
  }

  /** The container's {@code --flag=value} args, by flag. */
  private static Map<String, String> flags(Container c) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String arg : c.getArgs().subList(1, c.getArgs().size())) {
      int eq = arg.indexOf('=');
      out.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    return out;
  }

  private static int defaultInt(String command, String option) {
    String value = ShardoptCli.commandLine().getSubcommands().get(command).getCommandSpec().findOption(option).defaultValue();
    assertThat(value).as(command + " " + option + " has a default").isNotNull();
    return Integer.parseInt(value);
  }

  private static int containerPort(Container c, String name) {
    return c.getPorts().stream().filter(p -> name.equals(p.getName())).map(ContainerPort::getContainerPort).findFirst()
        .orElseThrow(() -> new AssertionError(c.getName() + " has no port " + name));
  }

  /** The mount under which {@code file} lies (the deepest one). */
  private static VolumeMount mountOf(Container c, String file) {
    return c.getVolumeMounts().stream().filter(m -> Path.of(file).startsWith(Path.of(m.getMountPath())))
        .max((a, b) -> Integer.compare(a.getMountPath().length(), b.getMountPath().length()))
        .orElseThrow(() -> new AssertionError(c.getName() + ": nothing is mounted where " + file + " is"));
  }

  private static Volume volume(PodSpec pod, String name) {
    return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  private static final Pattern VAR = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

  /**
   * {@code value} with each $(VAR) replaced as the kubelet would, from the container's env and
   * envFrom ConfigMaps; the pod's name and namespace are worker 0's in {@link #NAMESPACE}. An
   * undefined variable fails (the kubelet would leave it as text).
   */
  private static String expand(Container c, String value) {
    Map<String, String> env = new HashMap<>();
    for (EnvFromSource from : c.getEnvFrom()) {
      env.putAll(manifests.one(ConfigMap.class, from.getConfigMapRef().getName()).getData());
    }
    for (EnvVar e : c.getEnv()) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else if (e.getValueFrom() != null && e.getValueFrom().getFieldRef() != null) {
        String field = e.getValueFrom().getFieldRef().getFieldPath();
        env.put(e.getName(), switch (field) {
          case "metadata.name" -> "shardopt-worker-0";
          case "metadata.namespace" -> NAMESPACE;
          default -> throw new AssertionError("unexpected fieldRef " + field);
        });
      }
    }
    Matcher m = VAR.matcher(value);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String v = env.get(m.group(1));
      assertThat(v).as(c.getName() + ": $(" + m.group(1) + ") is defined").isNotNull();
      m.appendReplacement(out, Matcher.quoteReplacement(v));
    }
    m.appendTail(out);
    return out.toString();
  }

  private static String host(String hostPort) {
    return hostPort.substring(0, hostPort.lastIndexOf(':'));
  }

  private static int port(String hostPort) {
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  private static List<String> names(X509Certificate cert) throws Exception {
    List<String> out = new ArrayList<>();
    for (List<?> san : cert.getSubjectAlternativeNames()) {
      if (Integer.valueOf(2).equals(san.get(0))) {
        out.add((String) san.get(1));
      }
    }
    return out;
  }

  /** RFC 6125: a leading "*." matches exactly one label. */
  private static boolean matches(String san, String host) {
    if (san.startsWith("*.")) {
      int dot = host.indexOf('.');
      return dot > 0 && host.substring(dot + 1).equals(san.substring(2));
    }
    return san.equals(host);
  }
}
