package dev.shardopt.cli;

import static dev.shardopt.client.Initializers.uniform;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.chaos.GrpcFaultProxy;
import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.kernel.ParallelApply;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code worker --advertise}: a worker process registers the address of a fault proxy in front of it;
 * status lists that address, and the coordinator's and the trainer's calls reach the worker through
 * the proxy and train as the in-process optimizer does. A value that is not HOST:PORT is refused.
 */
class WorkerAdvertiseTest {
  private final ClusterProcesses processes = new ClusterProcesses("256m");

  @AfterEach
  void killAll() throws InterruptedException {
    processes.close();
  }

  @Test
  void aWorkerReachedThroughAProxyRegistersTheProxysAddress() throws Exception {
    List<String> log = new ArrayList<>();
    String coordinator = processes.start(log, "coordinator", "--port", "0", "--heartbeat-ms", "100");
    String advertised = "127.0.0.1:" + ClusterProcesses.freePort();
    String bound = processes.start(log, "worker", "--port", "0", "--coordinator", coordinator, "--threads", "1",
        "--advertise", advertised);
    assertThat(bound).isNotEqualTo(advertised);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try (GrpcFaultProxy proxy = GrpcFaultProxy.start(bound, Integer.parseInt(advertised.split(":")[1]));
        ShardoptCluster cluster = Shardopt.connect(coordinator)) {
      StringWriter out = new StringWriter();
      assertThat(ShardoptCli.run(new PrintWriter(out), new PrintWriter(new StringWriter()),
          "status", "--coordinator", coordinator)).isZero();
      assertThat(out.toString()).contains("1 workers").containsPattern("workers/w1 +" + advertised.replace(".", "\\.") + " ")
          .doesNotContain(bound);

      Pipeline pipeline = Pipeline.parse("adam(0.01)");
      int n = 1000;
      RemoteModel model = cluster.createModel(ModelOptions.named("via-proxy").pipeline(pipeline).trainers(1)
          .tensors(Tensors.of("w", n).init(uniform(-1, 1, 4))));
      assertThat(model.shardMap().getShardsList()).extracting(s -> s.getAddress()).containsOnly(advertised);
      float[] g = new float[n];
      for (int i = 0; i < n; i++) {
        g[i] = (float) Math.sin(i);
      }
      model.trainer(0, 1).push(0, Map.of("w", g));
      float[] remote = model.pull(1).get("w");

      float[] init = new float[n];
      InitialValues.fill(uniform(-1, 1, 4), 0, init);
      Map<TensorShape, float[]> local = new LinkedHashMap<>();
      local.put(new TensorShape("w", new long[] {n}), init);
      LocalOptimizer opt = new LocalOptimizer(pipeline, local, 1, new ParallelApply(pool, 1));
      opt.push(List.of(Map.of("w", g)));
      assertThat(remote).isEqualTo(opt.parameter("w"));

      // every call to the worker went through the proxy
      assertThat(proxy.counters().calls("shardopt.v1.Worker/CreateShards")).isEqualTo(1);
      assertThat(proxy.counters().calls("shardopt.v1.Worker/Push")).isEqualTo(1);
      assertThat(proxy.counters().calls("shardopt.v1.Worker/Pull")).isEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anAdvertiseThatIsNotHostPortIsRefusedInOneLine() {
    for (String bad : List.of("nonsense", "127.0.0.1:0", "127.0.0.1:70000", ":7071", "host:port", "a b:80")) {
      StringWriter err = new StringWriter();
      int status = ShardoptCli.run(new PrintWriter(new StringWriter()), new PrintWriter(err),
          "worker", "--coordinator", "127.0.0.1:1", "--port", "0", "--advertise", bad);
      assertThat(status).as(bad).isEqualTo(ShardoptCli.EXIT_USER_ERROR);
      assertThat(err.toString()).isEqualTo("shardopt: --advertise must be HOST:PORT with a port in [1, 65535], got \""
          + bad + "\"" + System.lineSeparator());
    }
  }
}
