package dev.shardopt.cli;

import dev.shardopt.embedded.ShardoptLocal;
import dev.shardopt.cli.io.Tensor;
import dev.shardopt.cli.io.TensorFiles;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.Shardopt;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.embedded.EmbeddedCluster;
import dev.shardopt.coordinator.CoordinatorConfig;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.DeviceBackend;
import dev.shardopt.engine.device.DeviceSelection;
import dev.shardopt.engine.device.Devices;
import dev.shardopt.engine.kernel.ParallelApply;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shardopt replay}: the conformance interface. */
@Command(
    name = "replay",
    description = {
      "Runs a gradient sequence through a pipeline and writes the parameters after every push.",
      "grads has shape [T, *shape], or [T, K, *shape] with --trainers K (the step's gradient is the trainer mean);",
      "out gets [T, *shape]. .npy files hold one tensor named 'param'; .npz files hold named tensors.",
      "",
      "Checkpoint and resume (with --workers): --checkpoint-dir DIR --checkpoint-at S writes a checkpoint of the",
      "state after S pushes into DIR/step-<S> and replays on to the end (out is as without it). --resume PATH",
      "restores that state on the embedded cluster (any --workers) and replays pushes S..T-1 of the same grads:",
      "out then gets those T-S rows, [T-S, *shape]. Rows 0..S-1 of the first run's out followed by them are,",
      "byte for byte, the trajectory of a replay that never stopped."
    },
    mixinStandardHelpOptions = true)
public final class ReplayCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--pipeline", required = true, paramLabel = "DSL", description = "The pipeline, e.g. 'adam(1e-3).warmup(10)'.")
  String pipelineText;

  @Option(names = "--params", required = true, paramLabel = "FILE", description = "Initial parameters (.npy or .npz).")
  Path params;

  @Option(names = "--grads", required = true, paramLabel = "FILE", description = "Gradients (.npy or .npz).")
  Path grads;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "Trajectory to write (.npy or .npz).")
  Path out;

  @Option(names = "--trainers", defaultValue = "1", paramLabel = "K", description = "Trainers per push (default: ${DEFAULT-VALUE}).")
  int trainers;

  @Option(names = "--threads", paramLabel = "N", description = "Kernel threads (default: the number of cores).")
  Integer threads;

  @Option(names = "--workers", paramLabel = "N",
      description = "Replay through an embedded cluster of N workers (real gRPC servers on loopback) instead of in process.")
  Integer workers;

  @Option(names = "--shard-blocks", paramLabel = "B", defaultValue = "0",
      description = "With --workers: the largest shard in 8192-element blocks (default: no limit).")
  long shardBlocks;

  @Option(names = "--checkpoint-dir", paramLabel = "DIR",
      description = "With --workers and --checkpoint-at: the directory to write the checkpoint into, as DIR/step-<S>.")
  Path checkpointDir;

  @Option(names = "--checkpoint-at", paramLabel = "S",
      description = "With --checkpoint-dir: the step boundary to capture, the state after S pushes (0..T, a multiple of the "
          + "pipeline's accumulate).")
  Long checkpointAt;

  @Option(names = "--resume", paramLabel = "PATH",
      description = "With --workers: restore from PATH (a checkpoint, or a directory whose latest complete checkpoint is "
          + "used) and replay from its step S on; out gets rows S..T-1. --pipeline, --params and --trainers must be "
          + "the checkpoint's.")
  Path resume;

  @Mixin DeviceOptions device = new DeviceOptions();

  @Override
  public Integer call() throws Exception {
    if ((checkpointDir == null) != (checkpointAt == null)) {
      throw new UserErrorException("--checkpoint-dir and --checkpoint-at go together; got only "
          + (checkpointDir == null ? "--checkpoint-at" : "--checkpoint-dir"));
    }
    if (workers == null && (checkpointDir != null || resume != null)) {
      throw new UserErrorException((resume != null ? "--resume" : "--checkpoint-dir") + " needs --workers N: "
          + "checkpoints are taken and restored by a cluster");
    }
    Pipeline pipeline;
    try {
      pipeline = Pipeline.parse(pipelineText);
    } catch (InvalidPipelineException e) {
      throw new UserErrorException("--pipeline: " + e.getMessage(), e);
    }
    DeviceSelection selection = device.selection();
    TensorFiles.Format.of(out); // refuse a bad output name before any work
    Map<String, Tensor> init = TensorFiles.read(params);
    Map<String, Tensor> gradients = TensorFiles.read(grads);
    int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
    if (n < 1) {
      throw new UserErrorException("--threads must be >= 1, got " + n);
    }
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, n - 1), r -> {
      Thread t = new Thread(r, "shardopt-kernel");
      t.setDaemon(true);
      return t;
    });
    try {
      Replay.Result result;
      if (workers != null) {
        if (workers < 1) {
          throw new UserErrorException("--workers must be >= 1, got " + workers);
        }
        EmbeddedCluster.Builder cluster = EmbeddedCluster.builder().workers(workers).device(selection)
            .coordinator(CoordinatorConfig.defaults().withMaxShardBlocks(shardBlocks))
            .worker((i, c) -> c.withThreads(Math.max(1, n / workers)));
        Replay.CheckpointAt at = checkpointDir == null ? null : new Replay.CheckpointAt(checkpointDir, checkpointAt);
        Replay.ClusterReplay run;
        try (ShardoptCluster c = ShardoptLocal.start(cluster, ClientOptions.defaults())) {
          run = resume == null
              ? Replay.runOnCluster(c, "replay", pipeline, init, gradients, trainers, at)
              : Replay.resumeOnCluster(c, "replay", resume, pipeline, init, gradients, trainers, at);
        }
        result = run.result();
        if (run.checkpoint() != null) {
          spec.commandLine().getOut().printf("checkpoint at push %d: %s, %d bytes%n", run.checkpoint().step(),
              run.checkpoint().path(), run.checkpoint().bytes());
        }
        if (resume != null) {
          spec.commandLine().getOut().printf("resumed from %s at push %d%n", resume, run.firstPush());
        }
      } else {
        ParallelApply parallel = new ParallelApply(pool, n);
        try (DeviceBackend backend = Devices.installed().open(selection, parallel, spec.commandLine().getErr()::println)) {
          result = Replay.run(pipeline, init, gradients, trainers, backend, parallel);
        }
      }
      TensorFiles.write(out, result.trajectory());
      spec.commandLine().getOut().printf(
          "replayed %d pushes of %s: %d updates applied, %d skipped -> %s%n",
          result.trajectory().values().iterator().next().dim(0), pipeline, result.updatesApplied(),
          result.stepsSkipped(), out);
    } finally {
      pool.shutdownNow();
    }
    return ShardoptCli.EXIT_OK;
  }
}
