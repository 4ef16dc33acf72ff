package dev.shardopt.cli;

import dev.shardopt.client.CheckpointInfo;
import dev.shardopt.client.ClientOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.ShardoptException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shardopt checkpoint}: a consistent checkpoint of a running model (SYNC: at a step; ASYNC: at a cut). */
@Command(name = "checkpoint", mixinStandardHelpOptions = true,
    description = {
      "Writes a consistent checkpoint of a model into DIR/step-<s> and prints its step, path, size and time.",
      "SYNC: at a step boundary. ASYNC: at a cut of the trainers' pushes, printed as each trainer's pushes captured;",
      "s is their sum.",
      "DIR is sent as an absolute path: the coordinator and every worker must reach it under that path",
      "(a shared filesystem mount when they run on other machines). Restore it with CreateModel.restore_from."
    })
public final class CheckpointCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--coordinator", defaultValue = "127.0.0.1:7070", paramLabel = "HOST:PORT",
      description = "The coordinator's address (default: ${DEFAULT-VALUE}).")
  String coordinator;

  @Option(names = "--model", required = true, paramLabel = "ID", description = "The model's id.")
  String model;

  @Option(names = "--dir", required = true, paramLabel = "DIR", description = "The directory of checkpoints.")
  Path dir;

  @Option(names = "--at-step", paramLabel = "S",
      description = "SYNC: the step boundary to capture, a multiple of the pipeline's accumulate that the model has not"
          + " passed (default: the next one). Not for ASYNC models.")
  Long atStep;

  @Mixin SecurityOptions security = new SecurityOptions();

  @Override
  public Integer call() {
    if (atStep != null && atStep < 0) {
      throw new UserErrorException("--at-step must be >= 0, got " + atStep);
    }
    try (ShardoptCluster cluster = new ShardoptCluster(coordinator, security.client(ClientOptions.defaults()), null)) {
      RemoteModel m = cluster.model(model);
      CheckpointInfo c = atStep == null ? m.checkpoint(dir) : m.checkpoint(dir, atStep);
      String at = c.nextPush().isEmpty() ? "at step " + c.step()
          : "at the cut " + c.nextPush() + " (pushes per trainer; step " + c.step() + ")";
      spec.commandLine().getOut().printf("checkpoint of %s %s: %s, %d bytes, %.1f ms (snapshot %.1f ms)%n",
          m.name(), at, c.path(), c.bytes(), c.totalMillis(), c.snapshotMillis());
      spec.commandLine().getOut().flush();
      return ShardoptCli.EXIT_OK;
    } catch (ShardoptException e) {
      throw new UserErrorException(e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      throw new UserErrorException("--model: " + e.getMessage(), e);
    }
  }
}
