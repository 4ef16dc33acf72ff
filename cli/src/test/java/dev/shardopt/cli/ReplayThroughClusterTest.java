package dev.shardopt.cli;

import dev.shardopt.embedded.ShardoptLocal;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.kernel.ParallelApply;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every reference case replayed through embedded clusters of 1 and 3 workers (1-block shards for
 * 3, so even these small tensors are split) writes byte-identical files, identical to the
 * in-process replay.
 */
class ReplayThroughClusterTest {
  @TempDir Path dir;

  /** Embedded clusters of 1 worker, and of 3 workers with 1-block shards, one kernel thread each. */
  static EmbeddedCluster.Builder oneWorker() {
    return EmbeddedCluster.builder().workers(1).worker((i, c) -> c.withThreads(1));
  }

  static EmbeddedCluster.Builder threeWorkersOneBlockShards() {
    return EmbeddedCluster.builder().workers(3).worker((i, c) -> c.withThreads(1))
        .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(1));
  }

  /** A reference case's case.properties. */
  static Properties properties(Path c) throws java.io.IOException {
    Properties props = new Properties();
    try (Reader r = Files.newBufferedReader(c.resolve("case.properties"))) {
      props.load(r);
    }
    return props;
  }

  @Test
  void oneAndThreeWorkersWriteTheSameBytesAsTheLocalReplay() throws Exception {
    List<Path> cases = ReferenceConformanceTest.cases().toList();
    assertThat(cases).hasSize(32);
    ExecutorService pool = Executors.newFixedThreadPool(1);
    try (ShardoptCluster c1 = ShardoptLocal.start(oneWorker(), ClientOptions.defaults());
        ShardoptCluster c3 = ShardoptLocal.start(threeWorkersOneBlockShards(), ClientOptions.defaults())) {
      List<String> compared = new ArrayList<>();
      for (Path c : cases) {
        Properties props = properties(c);
        Pipeline p = Pipeline.parse(Files.readString(c.resolve("pipeline.txt")).strip());
        int k = Integer.parseInt(props.getProperty("trainers"));
        Map<String, Tensor> init = TensorFiles.read(ReferenceConformanceTest.file(c, "init"));
        Map<String, Tensor> grads = TensorFiles.read(ReferenceConformanceTest.file(c, "grads"));
        String ext = ReferenceConformanceTest.file(c, "init").toString().endsWith(".npz") ? ".npz" : ".npy";
        Path local = dir.resolve(c.getFileName() + "-local" + ext);
        Path w1 = dir.resolve(c.getFileName() + "-w1" + ext);
        Path w3 = dir.resolve(c.getFileName() + "-w3" + ext);
        TensorFiles.write(local, Replay.run(p, init, grads, k, new ParallelApply(pool, 1)).trajectory());
        Replay.Result r1 = Replay.runOnCluster(c1, "case", p, init, grads, k);
        TensorFiles.write(w1, r1.trajectory());
        TensorFiles.write(w3, Replay.runOnCluster(c3, "case", p, init, grads, k).trajectory());
        assertThat(Files.readAllBytes(w1)).as("%s: 1 worker vs 3", c.getFileName()).isEqualTo(Files.readAllBytes(w3));
        assertThat(Files.readAllBytes(w1)).as("%s: cluster vs local", c.getFileName()).isEqualTo(Files.readAllBytes(local));
        assertThat(r1.updatesApplied()).isEqualTo(Long.parseLong(props.getProperty("updatesApplied")));
        assertThat(r1.stepsSkipped()).isEqualTo(Long.parseLong(props.getProperty("stepsSkipped")));
        compared.add(c.getFileName().toString());
      }
      assertThat(compared).hasSize(32);
    } finally {
      pool.shutdownNow();
    }
  }
}
