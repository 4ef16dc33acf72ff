package dev.shardopt.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.TensorBytes;
import dev.shardopt.v1.Checkpoint;
import dev.shardopt.v1.CheckpointModelRequest;
import dev.shardopt.v1.CoordinatorGrpc;
import dev.shardopt.v1.GetModelRequest;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.ModelState;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code shardopt checkpoint} against a fake coordinator: what it sends, prints, and how it fails. */
class CheckpointCommandTest {
  @TempDir Path dir;

  /** Knows model "m" and the ASYNC model "a"; answers a checkpoint with fixed figures, or refuses at_step 5. */
  static final class FakeCoordinator extends CoordinatorGrpc.CoordinatorImplBase {
    final List<CheckpointModelRequest> requests = new CopyOnWriteArrayList<>();

    @Override
    public void getModel(GetModelRequest request, StreamObserver<Model> response) {
      if (!request.getName().equals("models/m") && !request.getName().equals("models/a")) {
        response.onError(Status.NOT_FOUND.withDescription("no model " + request.getName()).asRuntimeException());
        return;
      }
      boolean async = request.getName().equals("models/a");
      response.onNext(Model.newBuilder().setName(request.getName()).setTrainers(async ? 3 : 1).setState(ModelState.READY)
          .setMode(async ? TrainingMode.ASYNC : TrainingMode.SYNC)
          .addPipelineSchedule(PipelineGeneration.newBuilder().setPipeline(Pipeline.parse("sgd(0.1)").toProto()))
          .build());
      response.onCompleted();
    }

    @Override
    public void checkpointModel(CheckpointModelRequest request, StreamObserver<Checkpoint> response) {
      requests.add(request);
      if (request.getAtStep() == 5) {
        response.onError(Status.INVALID_ARGUMENT.withDescription(
            "at_step 5 is not a multiple of the pipeline's accumulate 4; choose 4 or 8").asRuntimeException());
        return;
      }
      long step = request.hasAtStep() ? request.getAtStep() : 12;
      Checkpoint.Builder c = Checkpoint.newBuilder().setModel(request.getName()).setStep(step)
          .setPath(request.getDirectory() + "/step-" + String.format("%010d", step))
          .setBytes(3_145_728).setSnapshotMillis(2.46).setTotalMillis(187.04);
      if (request.getName().equals("models/a")) {
        c.addNextPush(5).addNextPush(4).addNextPush(3);
      }
      response.onNext(c.build());
      response.onCompleted();
    }
  }

  private static ShardoptCliTest.Result run(String... args) {
    return ShardoptCliTest.run(ShardoptCli.commandLine(), args);
  }

  private final FakeCoordinator fake = new FakeCoordinator();
  private Server server;
  private String target;

  @BeforeEach
  void serve() throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .maxInboundMessageSize(TensorBytes.MAX_MESSAGE_BYTES).addService(fake).build().start();
    target = "127.0.0.1:" + server.getPort();
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination();
  }

  @Test
  void printsOneLineWithTheStepPathBytesAndTime() {
    ShardoptCliTest.Result next = run("checkpoint", "--coordinator", target, "--model", "m", "--dir", dir.toString());
    ShardoptCliTest.Result at = run("checkpoint", "--coordinator", target, "--model", "m", "--dir",
        dir.resolve("sub/..").toString(), "--at-step", "8");

    assertThat(next.err()).isEmpty();
    assertThat(next.status()).isZero();
    assertThat(next.out()).isEqualTo("checkpoint of models/m at step 12: " + dir + "/step-0000000012, 3145728 bytes, "
        + "187.0 ms (snapshot 2.5 ms)" + System.lineSeparator());
    assertThat(at.status()).isZero();
    assertThat(at.out()).startsWith("checkpoint of models/m at step 8: " + dir + "/step-0000000008, ");
    assertThat(fake.requests).hasSize(2);
    assertThat(fake.requests.get(0).hasAtStep()).isFalse();
    assertThat(fake.requests.get(1).getAtStep()).isEqualTo(8);
    assertThat(fake.requests).extracting(CheckpointModelRequest::getDirectory)
        .containsOnly(dir.toAbsolutePath().normalize().toString());
    assertThat(fake.requests).extracting(CheckpointModelRequest::getName).containsOnly("models/m");
  }

  @Test
  void anAsyncCheckpointPrintsItsCut() {
    ShardoptCliTest.Result r = run("checkpoint", "--coordinator", target, "--model", "a", "--dir", dir.toString());
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out()).isEqualTo("checkpoint of models/a at the cut [5, 4, 3] (pushes per trainer; step 12): " + dir
        + "/step-0000000012, 3145728 bytes, 187.0 ms (snapshot 2.5 ms)" + System.lineSeparator());
  }

  @Test
  void refusalsAreOneLineAndExit2() {
    ShardoptCliTest.Result refused = run("checkpoint", "--coordinator", target, "--model", "m", "--dir", "/d",
        "--at-step", "5");
    ShardoptCliTest.Result unknown = run("checkpoint", "--coordinator", target, "--model", "other", "--dir", "/d");

    assertThat(refused.status()).isEqualTo(2);
    assertThat(refused.out()).isEmpty();
    assertThat(refused.err()).isEqualTo("shardopt: CheckpointModel of models/m into /d at step 5 at coordinator "
        + target + " failed: INVALID_ARGUMENT: at_step 5 is not a multiple of the pipeline's accumulate 4; choose 4 or 8"
        + System.lineSeparator());
    assertThat(unknown.status()).isEqualTo(2);
    assertThat(unknown.err()).isEqualTo("shardopt: GetModel of models/other at coordinator " + target
        + " failed: NOT_FOUND: no model models/other" + System.lineSeparator());
    assertThat(fake.requests).hasSize(1);
  }

  @Test
  void anUnreachableCoordinatorIsOneLineAndExit2() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    ShardoptCliTest.Result r = run("checkpoint", "--coordinator", "127.0.0.1:" + port, "--model", "m", "--dir", "/d");
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err().lines()).hasSize(1);
    assertThat(r.err()).startsWith("shardopt: GetModel of models/m at coordinator 127.0.0.1:" + port
        + " failed: UNAVAILABLE");
  }

  @Test
  void missingOrBadOptionsAreOneLineAndExit2() {
    ShardoptCliTest.Result noDir = run("checkpoint", "--model", "m");
    assertThat(noDir.status()).isEqualTo(2);
    assertThat(noDir.err()).isEqualTo("shardopt: Missing required option: '--dir=DIR' (see 'shardopt checkpoint --help')"
        + System.lineSeparator());

    ShardoptCliTest.Result negative = run("checkpoint", "--model", "m", "--dir", "/d", "--at-step", "-4");
    assertThat(negative.status()).isEqualTo(2);
    assertThat(negative.err()).isEqualTo("shardopt: --at-step must be >= 0, got -4" + System.lineSeparator());

    ShardoptCliTest.Result badId = run("checkpoint", "--model", "Bad Id", "--dir", "/d");
    assertThat(badId.status()).isEqualTo(2);
    assertThat(badId.err()).startsWith("shardopt: --model: model id 'Bad Id' is not valid");
  }

  @Test
  void helpDescribesTheCommandAndTheTopLevelListsIt() {
    ShardoptCliTest.Result help = run("checkpoint", "--help");
    assertThat(help.status()).isZero();
    assertThat(help.out()).contains("Usage: shardopt checkpoint", "--coordinator=HOST:PORT", "--model=ID", "--dir=DIR",
        "--at-step=S", "default: 127.0.0.1:7070", "shared filesystem");
    assertThat(run("--help").out()).contains("checkpoint");
  }
}
