package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.Trainer;
import dev.shardopt.client.Tensors;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.embedded.ShardoptLocal;
import dev.shardopt.engine.kernel.ParallelApply;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Checkpoint and resume through real embedded clusters (the workers' and coordinator's checkpoint
 * support): a replay checkpointed at a step boundary and resumed on another number of workers
 * continues bitwise as a replay that never stopped. Rows 0..S-1 of the checkpointing run followed
 * by the resumed run's rows are compared, as written files, byte for byte with the uninterrupted
 * in-process replay (itself bitwise equal to every cluster replay: ReplayThroughClusterTest).
 */
class ReplayResumeTest {
  @TempDir Path dir;

  /** Rows 0..s-1 of {@code first} followed by every row of {@code rest}, per tensor. */
  static Map<String, Tensor> splice(Map<String, Tensor> first, long s, Map<String, Tensor> rest) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    first.forEach((name, t) -> {
      List<Tensor> rows = new ArrayList<>();
      for (int i = 0; i < s; i++) {
        rows.add(t.row(i));
      }
      Tensor r = rest.get(name);
      for (int i = 0; i < r.dim(0); i++) {
        rows.add(r.row(i));
      }
      out.put(name, Tensor.stack(rows));
    });
    return out;
  }

  /** T/2 rounded down to a multiple of accumulate. */
  static long half(long pushes, Pipeline p) {
    int k = p.accumulateSteps();
    return pushes / 2 / k * k;
  }

  @Test
  void everyReferenceCaseCheckpointedOnOneWorkerAndResumedOnThreeContinuesByteForByte() throws Exception {
    List<Path> cases = ReferenceConformanceTest.cases().toList();
    assertThat(cases).hasSize(32);
    ExecutorService pool = Executors.newFixedThreadPool(1);
    try (ShardoptCluster c1 = ShardoptLocal.start(ReplayThroughClusterTest.oneWorker(), ClientOptions.defaults());
        ShardoptCluster c3 = ShardoptLocal.start(ReplayThroughClusterTest.threeWorkersOneBlockShards(),
            ClientOptions.defaults())) {
      List<String> compared = new ArrayList<>();
      for (Path c : cases) {
        String name = c.getFileName().toString();
        Properties props = ReplayThroughClusterTest.properties(c);
        Pipeline p = Pipeline.parse(Files.readString(c.resolve("pipeline.txt")).strip());
        int k = Integer.parseInt(props.getProperty("trainers"));
        long steps = Long.parseLong(props.getProperty("steps"));
        long s = half(steps, p);
        Map<String, Tensor> init = TensorFiles.read(ReferenceConformanceTest.file(c, "init"));
        Map<String, Tensor> grads = TensorFiles.read(ReferenceConformanceTest.file(c, "grads"));
        String ext = ReferenceConformanceTest.file(c, "init").toString().endsWith(".npz") ? ".npz" : ".npy";
        Path uninterrupted = dir.resolve(name + "-uninterrupted" + ext);
        Path checkpointing = dir.resolve(name + "-checkpointing" + ext);
        Path resumed = dir.resolve(name + "-resumed" + ext);
        Path checkpoints = dir.resolve(name + "-checkpoints");
        TensorFiles.write(uninterrupted, Replay.run(p, init, grads, k, new ParallelApply(pool, 1)).trajectory());

        Replay.ClusterReplay first = Replay.runOnCluster(c1, "case", p, init, grads, k,
            new Replay.CheckpointAt(checkpoints, s));
        Replay.ClusterReplay second = Replay.resumeOnCluster(c3, "case", checkpoints, p, init, grads, k, null);

        assertThat(first.checkpoint().step()).as(name).isEqualTo(s);
        assertThat(first.checkpoint().path()).as(name)
            .isEqualTo(checkpoints.toAbsolutePath().resolve(String.format("step-%010d", s)).toString());
        assertThat(checkpoints.resolve(String.format("step-%010d", s)).resolve("manifest.json")).as(name).exists();
        TensorFiles.write(checkpointing, first.result().trajectory());
        assertThat(Files.readAllBytes(checkpointing)).as("%s: a checkpoint changes nothing", name)
            .isEqualTo(Files.readAllBytes(uninterrupted));
        assertThat(second.firstPush()).as(name).isEqualTo(s);
        assertThat(second.result().trajectory().values().iterator().next().dim(0)).as(name).isEqualTo(steps - s);
        TensorFiles.write(resumed, splice(first.result().trajectory(), s, second.result().trajectory()));
        assertThat(Files.readAllBytes(resumed)).as("%s: resumed at %d on 3 workers", name, s)
            .isEqualTo(Files.readAllBytes(uninterrupted));
        assertThat(second.result().updatesApplied()).as(name).isEqualTo(Long.parseLong(props.getProperty("updatesApplied")));
        assertThat(second.result().stepsSkipped()).as(name).isEqualTo(Long.parseLong(props.getProperty("stepsSkipped")));
        compared.add(name);
      }
      assertThat(compared).hasSize(32);
    } finally {
      pool.shutdownNow();
    }
  }

  /** Three tensors, one over two 8192-element blocks so that 1-block shards split it, K = 3 trainers, 24 pushes. */
  private Path[] writeCase() throws Exception {
    SplittableRandom random = new SplittableRandom(8);
    Map<String, Tensor> init = new LinkedHashMap<>();
    Map<String, Tensor> grads = new LinkedHashMap<>();
    long[][] shapes = {{150, 130}, {9000}, {37}};
    String[] names = {"dense.weight", "dense.bias", "head"};
    for (int t = 0; t < names.length; t++) {
      int n = Math.toIntExact(shapes[t].length == 1 ? shapes[t][0] : shapes[t][0] * shapes[t][1]);
      float[] v = new float[n];
      for (int i = 0; i < n; i++) {
        v[i] = (float) (random.nextGaussian() * 0.1);
      }
      float[] g = new float[24 * 3 * n];
      for (int i = 0; i < g.length; i++) {
        g[i] = (float) (random.nextGaussian() * 0.02);
      }
      long[] gShape = new long[shapes[t].length + 2];
      gShape[0] = 24;
      gShape[1] = 3;
      System.arraycopy(shapes[t], 0, gShape, 2, shapes[t].length);
      init.put(names[t], new Tensor(shapes[t], v));
      grads.put(names[t], new Tensor(gShape, g));
    }
    Path initFile = dir.resolve("init.npz");
    Path gradsFile = dir.resolve("grads.npz");
    TensorFiles.write(initFile, init);
    TensorFiles.write(gradsFile, grads);
    return new Path[] {initFile, gradsFile};
  }

  private static ReplayCommandTest.Run replay(String pipeline, Path[] files, Path out, String... more) {
    List<String> args = new ArrayList<>(List.of("replay", "--pipeline", pipeline, "--params", files[0].toString(),
        "--grads", files[1].toString(), "--trainers", "3", "--threads", "1", "--out", out.toString()));
    args.addAll(List.of(more));
    return ReplayCommandTest.run(args.toArray(String[]::new));
  }

  @ParameterizedTest(name = "{0} -> {1} workers")
  @CsvSource({"1, 3", "3, 2", "2, 5"})
  void adamWithClipNormAndAccumulateResumesOnAnotherWorkerCountByteForByte(int before, int after) throws Exception {
    String pipeline = "adam(0.01).warmup(4).clipNorm(0.5).accumulate(3)";
    Path[] files = writeCase();
    Path uninterrupted = dir.resolve("uninterrupted.npz");
    Path first = dir.resolve("first.npz");
    Path rest = dir.resolve("rest.npz");
    Path checkpoints = dir.resolve("checkpoints");

    ReplayCommandTest.Run u = replay(pipeline, files, uninterrupted);
    ReplayCommandTest.Run f = replay(pipeline, files, first, "--workers", String.valueOf(before), "--shard-blocks", "1",
        "--checkpoint-dir", checkpoints.toString(), "--checkpoint-at", "12");
    ReplayCommandTest.Run r = replay(pipeline, files, rest, "--workers", String.valueOf(after), "--shard-blocks", "1",
        "--resume", checkpoints.toString());

    assertThat(u.status()).as(u.err()).isZero();
    assertThat(f.err()).isEmpty();
    assertThat(f.status()).isZero();
    assertThat(f.out()).startsWith("checkpoint at push 12: " + checkpoints.toAbsolutePath() + "/step-0000000012, ")
        .endsWith("replayed 24 pushes of " + pipeline + ": 8 updates applied, 0 skipped -> " + first + "\n");
    assertThat(r.err()).isEmpty();
    assertThat(r.status()).isZero();
    assertThat(r.out()).isEqualTo("resumed from " + checkpoints + " at push 12\n"
        + "replayed 12 pushes of " + pipeline + ": 8 updates applied, 0 skipped -> " + rest + "\n");
    assertThat(Files.readAllBytes(first)).isEqualTo(Files.readAllBytes(uninterrupted));
    Path spliced = dir.resolve("spliced.npz");
    TensorFiles.write(spliced, splice(TensorFiles.read(first), 12, TensorFiles.read(rest)));
    assertThat(Files.readAllBytes(spliced)).isEqualTo(Files.readAllBytes(uninterrupted));
    // the checkpoint holds Adam's state whole: the parameters after 12 pushes and m, v of every tensor
    try (CheckpointReader reader = CheckpointReader.open(checkpoints)) {
      reader.verify();
      assertThat(reader.step()).isEqualTo(12);
      float[] after12 = TensorFiles.read(first).get("head").row(11).data();
      assertThat(reader.readAll("head", "")).isEqualTo(after12);
      assertThat(reader.readAll("dense.bias", "exp_avg")).hasSize(9000);
      assertThat(reader.readAll("dense.weight", "exp_avg_sq")).hasSize(150 * 130);
    }
  }

  @Test
  void resumingFromTheDirectoryTakesItsLatestCompleteCheckpoint() throws Exception {
    String pipeline = "adam(0.01).clipNorm(0.5).accumulate(3)";
    Path[] files = writeCase();
    Path checkpoints = dir.resolve("checkpoints");
    assertThat(replay(pipeline, files, dir.resolve("a.npz"), "--workers", "1", "--checkpoint-dir", checkpoints.toString(),
        "--checkpoint-at", "6").status()).isZero();
    assertThat(replay(pipeline, files, dir.resolve("b.npz"), "--workers", "2", "--checkpoint-dir", checkpoints.toString(),
        "--checkpoint-at", "15").status()).isZero();
    Files.createDirectories(checkpoints.resolve("step-0000000021.partial-0badf00d")); // a crashed attempt: never read

    ReplayCommandTest.Run r = replay(pipeline, files, dir.resolve("rest.npz"), "--workers", "2", "--resume",
        checkpoints.toString());
    ReplayCommandTest.Run six = replay(pipeline, files, dir.resolve("rest6.npz"), "--workers", "3", "--resume",
        checkpoints.resolve("step-0000000006").toString());

    assertThat(r.err()).isEmpty();
    assertThat(r.out()).startsWith("resumed from " + checkpoints + " at push 15\nreplayed 9 pushes");
    assertThat(six.out()).startsWith("resumed from " + checkpoints.resolve("step-0000000006") + " at push 6\nreplayed 18 pushes");
    Map<String, Tensor> full = TensorFiles.read(dir.resolve("a.npz"));
    TensorFiles.write(dir.resolve("s15.npz"), splice(full, 15, TensorFiles.read(dir.resolve("rest.npz"))));
    TensorFiles.write(dir.resolve("s6.npz"), splice(full, 6, TensorFiles.read(dir.resolve("rest6.npz"))));
    assertThat(Files.readAllBytes(dir.resolve("s15.npz"))).isEqualTo(Files.readAllBytes(dir.resolve("a.npz")));
    assertThat(Files.readAllBytes(dir.resolve("s6.npz"))).isEqualTo(Files.readAllBytes(dir.resolve("a.npz")));
  }

  @Test
  void aResumeWithAnotherPipelineIsRefusedWithOneLineBeforeAnyPush() throws Exception {
    Path[] files = writeCase();
    Path checkpoints = dir.resolve("checkpoints");
    assertThat(replay("adam(0.01)", files, dir.resolve("a.npz"), "--workers", "1", "--checkpoint-dir",
        checkpoints.toString(), "--checkpoint-at", "10").status()).isZero();
    Path out = dir.resolve("rest.npz");

    ReplayCommandTest.Run pipeline = replay("adam(0.02)", files, out, "--workers", "1", "--resume", checkpoints.toString());

    assertThat(pipeline.status()).isEqualTo(2);
    assertThat(pipeline.err()).isEqualTo("shardopt: the checkpoint at " + checkpoints
        + " (step 10) has pipeline adam(0.01), but --pipeline is adam(0.02)\n");
    assertThat(out).doesNotExist();
  }

  @Test
  void theCheckpointCommandCapturesARunningModelAtTheStepAsked() throws Exception {
    Path checkpoints = dir.resolve("checkpoints");
    try (ShardoptCluster cluster = ShardoptLocal.start(2)) {
      RemoteModel m = cluster.createModel("m", Pipeline.parse("momentum(0.1)"), Tensors.of("w", 3000));
      Trainer t = m.trainer(0, 1);
      float[] g = new float[3000];
      for (int i = 0; i < g.length; i++) {
        g[i] = (i % 7) - 3;
      }
      for (int step = 0; step < 4; step++) {
        t.push(step, Map.of("w", g));
      }
      float[] after4 = m.pull(4).get("w");

      ShardoptCliTest.Result r = ShardoptCliTest.run(ShardoptCli.commandLine(), "checkpoint", "--coordinator",
          cluster.target(), "--model", "m", "--dir", checkpoints.toString(), "--at-step", "4");

      assertThat(r.err()).isEmpty();
      assertThat(r.status()).isZero();
      assertThat(r.out()).startsWith("checkpoint of models/m at step 4: " + checkpoints.toAbsolutePath()
          + "/step-0000000004, 24000 bytes, ");
      try (CheckpointReader reader = CheckpointReader.open(checkpoints)) {
        reader.verify();
        assertThat(reader.step()).isEqualTo(4);
        assertThat(reader.readAll("w", "")).isEqualTo(after4);
        // momentum's buffer after four equal gradients: (1 + 0.9 + 0.81 + 0.729) g, g[12] = 2
        assertThat(reader.readAll("w", "momentum_buffer")[12]).isCloseTo(6.878f, within(1e-5f));
      }
    }
  }
}
