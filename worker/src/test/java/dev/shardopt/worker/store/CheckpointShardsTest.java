package dev.shardopt.worker.store;

import static dev.shardopt.worker.store.TestModels.pull;
import static dev.shardopt.worker.store.TestModels.push;
import static dev.shardopt.worker.store.TestModels.refused;
import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.checkpoint.CheckpointException;
import dev.shardopt.checkpoint.CheckpointLayout;
import dev.shardopt.checkpoint.CheckpointPlan;
import dev.shardopt.checkpoint.CheckpointReader;
import dev.shardopt.checkpoint.FileRange;
import dev.shardopt.checkpoint.ManifestWriter;
import dev.shardopt.checkpoint.PendingCheckpoint;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.InitialValues;
import dev.shardopt.engine.LocalOptimizer;
import dev.shardopt.engine.ShardSpec;
import dev.shardopt.engine.TensorShape;
import dev.shardopt.engine.device.CpuBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.CreateShardsRequest;
import dev.shardopt.v1.Initializer;
import dev.shardopt.v1.Model;
import dev.shardopt.v1.PipelineGeneration;
import dev.shardopt.v1.PipelineSchedule;
import dev.shardopt.v1.RestoreSpec;
import dev.shardopt.v1.Shard;
import dev.shardopt.v1.TensorSpec;
import dev.shardopt.v1.TrainingMode;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints on the worker side: SnapshotShards, PersistShards and CreateShards.restore against the
 * checkpoint format and against the in-process optimizer, bitwise.
 */
class CheckpointShardsTest {
  private static final Pipeline ADAM = Pipeline.parse("adam(1e-2)");
  private static final List<String> ADAM_SLOTS = List.of("exp_avg", "exp_avg_sq");
  // Shards start at multiples of the 8192-element reduction block: w has two and a bit, b one and a bit.
  private static final TensorSpec W = tensor("w", 2, 8242);
  private static final TensorSpec B = tensor("b", 8229);
  private static final List<TensorSpec> TENSORS = List.of(W, B);

  private final TestModels models = new TestModels();
  private final List<ShardStore> stores = new ArrayList<>();
  @TempDir
  Path root;

  @AfterEach
  void stop() {
    stores.forEach(ShardStore::close);
    models.close();
  }

  private static TensorSpec tensor(String name, long... shape) {
    TensorSpec.Builder t = TensorSpec.newBuilder().setName(name)
        .setInit(Initializer.newBuilder().setNormal(Initializer.Normal.newBuilder().setStd(0.5).setSeed(name.length())));
    for (long d : shape) {
      t.addShape(d);
    }
    return t.build();
  }

  private static int size(TensorSpec t) {
    return (int) t.getShapeList().stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
  }

  /** One simulated worker: its own store and coordinator (Adam without global clipping decides the same everywhere). */
  private record SimWorker(WorkerModel model, FakeCoordinator coordinator) {}

  /** A worker holding {@code shards}: {tensor index, offset, length} each; restored from {@code restore} if set. */
  private SimWorker worker(RestoreSpec restore, int[]... shards) {
    FakeCoordinator c = new FakeCoordinator(ADAM, List.of("w", "b"));
    ShardStore store = new ShardStore(c, new CpuBackend(new ParallelApply(models.pool, 1)), new ParallelApply(models.pool, 1), models.timeouts, models.checkpoints);
    stores.add(store);
    Model spec = Model.newBuilder().setName("models/m").setPipeline(ADAM.toProto()).setTrainers(1)
        .setMode(TrainingMode.SYNC).addAllTensors(TENSORS)
        .addPipelineSchedule(PipelineGeneration.newBuilder().setGeneration(0).setFromStep(0).setPipeline(ADAM.toProto()))
        .build();
    CreateShardsRequest.Builder r = CreateShardsRequest.newBuilder().setModel(spec);
    for (int[] s : shards) {
      r.addShards(Shard.newBuilder().setTensor(TENSORS.get(s[0]).getName()).setTensorIndex(s[0]).setOffset(s[1])
          .setLength(s[2]));
    }
    if (restore != null) {
      r.setRestore(restore);
      c.continueFrom(restore.getStep(), restore.getUpdatesApplied());
    }
    return new SimWorker(store.create(r.build()), c);
  }

  /** Step {@code step}'s gradient of every tensor, by name. */
  private static Map<String, float[]> gradient(long step) {
    Random r = new Random(1000 + step);
    Map<String, float[]> g = new LinkedHashMap<>();
    for (TensorSpec t : TENSORS) {
      float[] v = new float[size(t)];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) r.nextGaussian();
      }
      g.put(t.getName(), v);
    }
    return g;
  }

  /** Step {@code step}'s gradient cut to a worker's shards. */
  private static float[][] gradientOf(WorkerModel m, long step) {
    Map<String, float[]> full = gradient(step);
    float[][] out = new float[m.shards().size()][];
    for (int i = 0; i < out.length; i++) {
      ShardSpec s = m.shards().get(i);
      out[i] = java.util.Arrays.copyOfRange(full.get(s.name()), s.offset(), s.offset() + s.length());
    }
    return out;
  }

  private static void train(long from, long to, SimWorker... workers) throws Exception {
    for (long step = from; step < to; step++) {
      for (SimWorker w : workers) {
        assertThat(push(w.model(), 0, step, gradientOf(w.model(), step)).duplicate()).isFalse();
      }
    }
    for (SimWorker w : workers) {
      pull(w.model(), to);
    }
  }

  private static LocalOptimizer reference(long steps) {
    Map<TensorShape, float[]> init = new LinkedHashMap<>();
    for (TensorSpec t : TENSORS) {
      float[] v = new float[size(t)];
      InitialValues.fill(t.getInit(), 0, v);
      init.put(new TensorShape(t.getName(), t.getShapeList().stream().mapToLong(Long::longValue).toArray()), v);
    }
    LocalOptimizer local = new LocalOptimizer(ADAM, init, 1, new ParallelApply(java.util.concurrent.ForkJoinPool.commonPool(), 1));
    for (long s = 0; s < steps; s++) {
      local.push(List.of(gradient(s)));
    }
    return local;
  }

  /**
   * Two workers train 3 steps and snapshot at 3, train on to step 5 (the snapshot must not see those
   * steps), then persist; the checkpoint is committed and its directory returned.
   */
  private Path checkpointAfterThreeSteps() throws Exception {
    SimWorker a = worker(null, new int[] {0, 0, 8192}, new int[] {1, 0, 8229});
    SimWorker b = worker(null, new int[] {0, 8192, 16484 - 8192});
    train(0, 3, a, b);
    PendingCheckpoint pending = CheckpointLayout.create(root, 3, CheckpointPlan.of(TENSORS, ADAM_SLOTS));
    assertThat(a.model().snapshotShards(3, pending.dir(), 5000).get(10, TimeUnit.SECONDS))
        .isEqualTo((8192L + 8229) * 3 * 4);
    assertThat(b.model().snapshotShards(3, pending.dir(), 5000).get(10, TimeUnit.SECONDS))
        .isEqualTo((16484L - 8192) * 3 * 4);
    train(3, 5, a, b);
    List<FileRange> ranges = new ArrayList<>(a.model().persistShards(3, pending.dir()).get(10, TimeUnit.SECONDS));
    ranges.addAll(b.model().persistShards(3, pending.dir()).get(10, TimeUnit.SECONDS));
    // each shard's parameters and both slots: 2 shards on a, 1 on b
    assertThat(ranges).hasSize(9);
    CheckpointManifest fields = CheckpointManifest.newBuilder().setModelId("m").setPipelineText(ADAM.toString())
        .setPipelineSchedule(PipelineSchedule.newBuilder().setFixedThrough(3).addGenerations(
            PipelineGeneration.newBuilder().setGeneration(0).setFromStep(0).setPipeline(ADAM.toProto())))
        .setTrainers(1).setMode(TrainingMode.SYNC).addAllTensors(TENSORS).setUpdatesApplied(3).setNextStep(3).build();
    return ManifestWriter.commit(pending, fields, ranges);
  }

  private static RestoreSpec restoreSpec(Path dir) {
    return RestoreSpec.newBuilder().setPath(dir.toString()).setStep(3).setUpdatesApplied(3).build();
  }

  private static int[] bits(float[] v) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Float.floatToRawIntBits(v[i]);
    }
    return out;
  }

  @Test
  void aCheckpointFromTwoWorkersHoldsTheParametersAndAdamStateBitwise() throws Exception {
    Path dir = checkpointAfterThreeSteps();
    LocalOptimizer local = reference(3);
    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.dir()).isEqualTo(dir);
      r.verify();
      for (TensorSpec t : TENSORS) {
        assertThat(bits(r.readAll(t.getName(), ""))).isEqualTo(bits(local.parameter(t.getName())));
        Map<String, float[]> state = local.state(t.getName());
        assertThat(state.keySet()).containsExactlyElementsOf(ADAM_SLOTS);
        for (String slot : ADAM_SLOTS) {
          assertThat(bits(r.readAll(t.getName(), slot))).isEqualTo(bits(state.get(slot)));
        }
      }
    }
  }

  @Test
  void aModelRestoredOnAnotherSplitContinuesBitwiseAsIfNeverStopped() throws Exception {
    Path dir = checkpointAfterThreeSteps();
    SimWorker c = worker(restoreSpec(dir), new int[] {0, 0, 16384});
    SimWorker d = worker(restoreSpec(dir), new int[] {0, 16384, 100}, new int[] {1, 0, 8229});
    assertThat(c.model().version()).isEqualTo(3);
    assertThat(d.model().updatesApplied()).isEqualTo(3);
    // what they read: every file's data exactly, its CRC32Cs combining into the manifest's
    List<FileRange> read = new ArrayList<>(c.model().restoredFrom());
    read.addAll(d.model().restoredFrom());
    assertThat(read).hasSize(3 + 2 * 3);
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      r.checkRanges(read);
    }
    assertThat(d.model().fixedThrough()).isEqualTo(3);
    train(3, 6, c, d);
    LocalOptimizer local = reference(6);
    float[] w = local.parameter("w");
    assertThat(bits(pull(c.model(), 6)[0])).isEqualTo(bits(java.util.Arrays.copyOfRange(w, 0, 16384)));
    float[][] dShards = pull(d.model(), 6);
    assertThat(bits(dShards[0])).isEqualTo(bits(java.util.Arrays.copyOfRange(w, 16384, 16484)));
    assertThat(bits(dShards[1])).isEqualTo(bits(local.parameter("b")));
    assertThat(d.model().updatesApplied()).isEqualTo(6);
    // the barrier continues at step 3 (a schedule call may come first, as for a push racing a decision)
    assertThat(d.coordinator().calls.stream().filter(call -> call.startsWith("decide")))
        .containsExactly("decide 3 under 0", "decide 4 under 0", "decide 5 under 0");
  }

  @Test
  void aRestoreOfAFlippedByteLoadsButItsRangesFailTheChecksumNamingTheFile() throws Exception {
    Path dir = checkpointAfterThreeSteps();
    Path file = dir.resolve("b.exp_avg.npy");
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
      f.seek(f.length() - 5);
      int b = f.read();
      f.seek(f.length() - 5);
      f.write(b ^ 0x04);
    }
    SimWorker all = worker(restoreSpec(dir), new int[] {0, 0, 16484}, new int[] {1, 0, 8229});
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      CheckpointException e = org.junit.jupiter.api.Assertions.assertThrows(CheckpointException.class,
          () -> r.checkRanges(all.model().restoredFrom()));
      assertThat(e.kind()).isEqualTo(CheckpointException.Kind.CHECKSUM);
      assertThat(e.getMessage()).startsWith(file + ": checksum mismatch: CRC32C got ");
    }
  }

  @Test
  void afterARestoreARetryOfAnEarlierStepIsADuplicateAndTheNextStepIsCollected() throws Exception {
    Path dir = checkpointAfterThreeSteps();
    WorkerModel m = worker(restoreSpec(dir), new int[] {1, 0, 8229}).model();
    // no checksum is kept from before the checkpoint: any data of steps < 3 is acknowledged as received
    assertThat(push(m, 0, 2, gradientOf(m, 2))).isEqualTo(new PushAck(2, true, 3));
    assertThat(push(m, 0, 0, new float[][] {new float[8229]})).isEqualTo(new PushAck(0, true, 3));
    PushAck next = push(m, 0, 3, gradientOf(m, 3));
    assertThat(next.step()).isEqualTo(3);
    assertThat(next.duplicate()).isFalse();
    assertThat(pull(m, 4)).hasDimensions(1, 8229);
    assertThat(m.duplicatesReceived()).isEqualTo(2);
    ApiException ahead = refused(() -> push(m, 0, 5, gradientOf(m, 5)));
    assertThat(ahead).hasMessageContaining("is collecting step 4 (completed 4)");
  }

  @Test
  void aRestoreFromACheckpointOfAnotherShapeOrStepCreatesNothing() throws Exception {
    Path dir = checkpointAfterThreeSteps();
    FakeCoordinator c = new FakeCoordinator(ADAM, List.of("w", "b"));
    ShardStore store = new ShardStore(c, new CpuBackend(new ParallelApply(models.pool, 1)), new ParallelApply(models.pool, 1), models.timeouts, models.checkpoints);
    stores.add(store);
    TensorSpec wider = tensor("b", 8230);
    Model spec = Model.newBuilder().setName("models/m").setPipeline(ADAM.toProto()).setTrainers(1).addTensors(W)
        .addTensors(wider).build();
    CreateShardsRequest r = CreateShardsRequest.newBuilder().setModel(spec)
        .addShards(Shard.newBuilder().setTensor("b").setTensorIndex(1).setOffset(0).setLength(8230))
        .setRestore(restoreSpec(dir)).build();
    ApiException shape = refused(() -> store.create(r));
    assertThat(shape.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(shape).hasMessage("tensor 'b' of models/m has shape [8230], but the checkpoint " + dir + " holds shape [8229]");
    ApiException step = refused(() -> store.create(r.toBuilder().setRestore(restoreSpec(dir).toBuilder().setStep(4)).build()));
    assertThat(step).hasMessage("restore.step is 4 but the checkpoint " + dir + " is of step 3");
    Files.delete(dir.resolve("b.exp_avg_sq.npy"));
    ApiException missing = refused(() -> store.create(r.toBuilder().setModel(spec.toBuilder().setTensors(1, B))
        .setShards(0, r.getShards(0).toBuilder().setLength(8229)).build()));
    assertThat(missing.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(missing.getMessage()).startsWith("worker workers/w1 could not restore models/m from " + dir + ": "
        + dir.resolve("b.exp_avg_sq.npy") + ": missing");
    assertThat(store.models()).isEmpty();
  }

  // ---------------------------------------------------------------- SnapshotShards on one small model

  private WorkerModel small(String pipeline, TrainingMode mode) {
    Pipeline p = Pipeline.parse(pipeline);
    return models.model(p, 1, mode, 0, new FakeCoordinator(p, List.of("w")), List.of("w"), new float[] {1, 2, 3});
  }

  private PendingCheckpoint pendingOfSmall(long step) throws Exception {
    return CheckpointLayout.create(root, step, CheckpointPlan.of(
        List.of(TensorSpec.newBuilder().setName("w").addShape(3).build()), List.of("momentum_buffer")));
  }

  @Test
  void aSnapshotWaitsForItsStepWithARegisteredWaiter() throws Exception {
    WorkerModel m = small("momentum(0.5)", TrainingMode.SYNC);
    PendingCheckpoint pending = pendingOfSmall(1);
    CompletableFuture<Long> snap = m.snapshotShards(1, pending.dir(), 5000);
    assertThat(snap).isNotDone();
    assertThat(m.waitingPulls()).isEqualTo(1); // a waiter on the completed steps, no thread
    push(m, 0, 0, new float[][] {{1, 1, 1}});
    assertThat(snap.get(10, TimeUnit.SECONDS)).isEqualTo(3 * 2 * 4L); // parameters and momentum_buffer
    assertThat(m.waitingPulls()).isZero();
    List<FileRange> ranges = m.persistShards(1, pending.dir()).get(10, TimeUnit.SECONDS);
    assertThat(ranges).extracting(FileRange::path).containsExactly("w.npy", "w.momentum_buffer.npy");
    // read back exactly what the shards hold after one step; the buffer after one step is the gradient
    float[] params = pull(m, 1)[0];
    try (var r = CheckpointReader.open(ManifestWriter.commit(pending, CheckpointManifest.newBuilder()
        .addTensors(TensorSpec.newBuilder().setName("w").addShape(3)).build(), ranges))) {
      assertThat(bits(r.readAll("w", ""))).isEqualTo(bits(params));
      assertThat(r.readAll("w", "momentum_buffer")).containsExactly(1f, 1f, 1f);
    }
    ApiException gone = refused(() -> m.persistShards(1, pending.dir()).get(10, TimeUnit.SECONDS));
    assertThat(gone.code()).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(gone).hasMessage("no snapshot of step 1 of models/m on worker workers/w1; call SnapshotShards first");
  }

  @Test
  void aSnapshotOfAStepNotReachedInTimeIsDeadlineExceeded() throws Exception {
    WorkerModel m = small("momentum(0.5)", TrainingMode.SYNC);
    Path dir = pendingOfSmall(2).dir();
    ApiException e = refused(() -> m.snapshotShards(2, dir, 20).get(10, TimeUnit.SECONDS));
    assertThat(e.code()).isEqualTo(Status.Code.DEADLINE_EXCEEDED);
    assertThat(e).hasMessage("step 2 of models/m is not complete on worker workers/w1 after 20 ms (completed 0 steps);"
        + " are all trainers pushing?");
    assertThat(m.waitingPulls()).isZero();
  }

  @Test
  void aSnapshotIsTakenOnlyAtAnUpdateBoundaryTheModelHasNotPassed() throws Exception {
    WorkerModel m = small("momentum(0.5).accumulate(2)", TrainingMode.SYNC);
    ApiException odd = refused(() -> m.snapshotShards(1, root, 1000).get(10, TimeUnit.SECONDS));
    assertThat(odd.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(odd).hasMessage("step 1 of models/m is not an update boundary: a checkpoint's step must be a multiple"
        + " of the pipeline's accumulate 2");
    for (int s = 0; s < 3; s++) {
      push(m, 0, s, new float[][] {{1, 1, 1}});
    }
    pull(m, 3);
    // step 2 only filled the window: the shards are still those of boundary 2
    Path dir = pendingOfSmall(2).dir();
    assertThat(m.snapshotShards(2, dir, 1000).get(10, TimeUnit.SECONDS)).isEqualTo(24L);
    push(m, 0, 3, new float[][] {{1, 1, 1}});
    pull(m, 4);
    ApiException passed = refused(() -> m.snapshotShards(2, dir, 1000).get(10, TimeUnit.SECONDS));
    assertThat(passed.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(passed).hasMessage("models/m has passed step 2 on this worker (completed 4 steps, so the update of the"
        + " window 2..3 is applied); choose a step >= 4");
  }

  @Test
  void aSnapshotWaitsForTheEarlierPersistToFinish() throws Exception {
    WorkerModel m = small("momentum(0.5)", TrainingMode.SYNC);
    CountDownLatch writerBusy = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    models.checkpointWriter.execute(() -> {
      writerBusy.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    writerBusy.await();
    PendingCheckpoint pending = pendingOfSmall(0);
    m.snapshotShards(0, pending.dir(), 5000).get(10, TimeUnit.SECONDS);
    CompletableFuture<List<FileRange>> persist = m.persistShards(0, pending.dir());
    Path next = CheckpointLayout.create(root.resolve("next"), 0, pending.plan()).dir();
    CompletableFuture<Long> second = m.snapshotShards(0, next, 5000);
    assertThat(persist).isNotDone(); // queued behind the busy writer
    assertThat(second).isNotDone(); // back-pressure: waits for that persist
    release.countDown();
    assertThat(persist.get(10, TimeUnit.SECONDS)).hasSize(2);
    assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(24L);
  }

  @Test
  void aFailedSnapshotWriteNamesTheWorkerAndFileAndTrainingGoesOn() throws Exception {
    WorkerModel m = small("momentum(0.5)", TrainingMode.SYNC);
    Path missing = root.resolve("step-0000000000.partial-gone");
    ApiException e = refused(() -> m.snapshotShards(0, missing, 5000).get(10, TimeUnit.SECONDS));
    assertThat(e.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(e).hasMessage("worker workers/w1 could not write its shards of the checkpoint of step 0 of models/m: "
        + missing.resolve("w.npy") + ": missing (cannot open: no such file)");
    ApiException none = refused(() -> m.persistShards(0, missing).get(10, TimeUnit.SECONDS));
    assertThat(none.code()).isEqualTo(Status.Code.NOT_FOUND);

    PendingCheckpoint pending = pendingOfSmall(0);
    Path file = pending.dir().resolve("w.momentum_buffer.npy");
    Files.delete(file);
    Files.createDirectory(file); // not a writable file
    ApiException io = refused(() -> m.snapshotShards(0, pending.dir(), 5000).get(10, TimeUnit.SECONDS));
    assertThat(io.code()).isEqualTo(Status.Code.INTERNAL);
    assertThat(io.getMessage()).startsWith("worker workers/w1 could not write its shards of the checkpoint of step 0 of"
        + " models/m: " + file + ": cannot open: ");

    assertThat(push(m, 0, 0, new float[][] {{2, 2, 2}}).duplicate()).isFalse();
    assertThat(pull(m, 1)[0]).hasSize(3);
    assertThat(m.version()).isEqualTo(1);
  }

  @Test
  void aSnapshotIsPersistedOnlyFromTheDirectoryItWasWrittenIntoAndALaterOneReplacesIt() throws Exception {
    WorkerModel m = small("momentum(0.5)", TrainingMode.SYNC);
    PendingCheckpoint first = pendingOfSmall(0);
    PendingCheckpoint second = CheckpointLayout.create(root.resolve("other"), 0, first.plan());
    m.snapshotShards(0, first.dir(), 5000).get(10, TimeUnit.SECONDS);
    m.snapshotShards(0, second.dir(), 5000).get(10, TimeUnit.SECONDS); // the first attempt was given up
    ApiException elsewhere = refused(() -> m.persistShards(0, first.dir()).get(10, TimeUnit.SECONDS));
    assertThat(elsewhere.code()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(elsewhere).hasMessage("the snapshot of step 0 of models/m on worker workers/w1 was written into "
        + second.dir() + ", not " + first.dir());
    List<FileRange> ranges = m.persistShards(0, second.dir()).get(10, TimeUnit.SECONDS);
    try (var r = CheckpointReader.open(ManifestWriter.commit(second, CheckpointManifest.newBuilder()
        .addTensors(TensorSpec.newBuilder().setName("w").addShape(3)).build(), ranges))) {
      r.verify();
      assertThat(r.readAll("w", "")).containsExactly(1f, 2f, 3f);
      assertThat(r.readAll("w", "momentum_buffer")).containsExactly(0f, 0f, 0f);
    }
  }
}
