package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crashes at each point of writing a checkpoint leave it recognisably incomplete; retries are not blocked. */
class CrashAndRetryTest {

  @TempDir Path root;

  /** Step 20 was being written when the process died: some ranges, no manifest. */
  private PendingCheckpoint crashAfterSomeRanges(long step) throws Exception {
    CheckpointPlan plan = Fixtures.plan();
    PendingCheckpoint p = CheckpointLayout.create(root, step, plan);
    List<FileRange> ranges = Fixtures.write(p, Fixtures.values(plan, step), 3, step);
    assertThat(ranges).isNotEmpty(); // ... and the coordinator never committed
    return p;
  }

  @Test
  void aCheckpointInterruptedBeforeItsManifestIsSkippedAndThePreviousOneIsPicked() throws Exception {
    Path ten = Fixtures.checkpoint(root, 10, 10);
    PendingCheckpoint twenty = crashAfterSomeRanges(20);
    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.dir()).isEqualTo(ten);
      assertThat(r.step()).isEqualTo(10);
      assertThat(r.skipped()).extracting(CheckpointReader.Skipped::dir).containsExactly(twenty.dir());
      assertThat(r.skipped().get(0).reason()).contains("unfinished attempt");
      r.verify();
    }
    // The attempt directory itself cannot be opened as a checkpoint.
    assertThatThrownBy(() -> CheckpointReader.open(twenty.dir())).isInstanceOfSatisfying(CheckpointException.class,
        e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.INCOMPLETE))
        .hasMessageContaining(twenty.dir().toString()).hasMessageContaining("never committed");
  }

  @Test
  void aCrashBetweenTheManifestAndTheDirectoryRenameIsStillIncomplete() throws Exception {
    Path ten = Fixtures.checkpoint(root, 10, 10);
    CheckpointPlan plan = Fixtures.plan();
    PendingCheckpoint p = CheckpointLayout.create(root, 20, plan);
    Fixtures.write(p, Fixtures.values(plan, 20), 3, 20);
    ManifestWriter.writeManifest(p.dir(), Manifests.seal(Fixtures.model(20).toBuilder()
        .setFormatVersion(1).setStep(20).build()));
    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.dir()).isEqualTo(ten);
    }
  }

  @Test
  void aStepDirectoryWithoutAManifestIsIncompleteAndSkipped() throws Exception {
    Path ten = Fixtures.checkpoint(root, 10, 10);
    Path thirty = Files.createDirectories(root.resolve("step-0000000030"));
    Files.write(thirty.resolve("a.npy"), NpyHeader.encode(new long[] {1001}));
    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.dir()).isEqualTo(ten);
      assertThat(r.skipped()).extracting(CheckpointReader.Skipped::dir).containsExactly(thirty);
      assertThat(r.skipped().get(0).reason()).isEqualTo("incomplete: no manifest.json");
    }
    assertThatThrownBy(() -> CheckpointReader.open(thirty)).isInstanceOfSatisfying(CheckpointException.class,
        e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.INCOMPLETE))
        .hasMessageContaining(thirty.resolve("manifest.json").toString()).hasMessageContaining("incomplete");
  }

  @Test
  void aRetryAtTheSameStepIsNotBlockedAndReplacesTheLeftovers() throws Exception {
    PendingCheckpoint crashed = crashAfterSomeRanges(20);
    Path leftover = Files.createDirectories(root.resolve("step-0000000020")); // an incomplete step dir too
    CheckpointPlan plan = Fixtures.plan();
    Map<String, float[]> values = Fixtures.values(plan, 99);
    PendingCheckpoint retry = CheckpointLayout.create(root, 20, plan);
    assertThat(crashed.dir()).doesNotExist();
    assertThat(retry.dir()).isNotEqualTo(crashed.dir());
    Path done = ManifestWriter.commit(retry, Fixtures.model(20), Fixtures.write(retry, values, 3, 99));
    assertThat(done).isEqualTo(leftover);
    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.step()).isEqualTo(20);
      assertThat(r.skipped()).isEmpty();
      r.verify();
      assertThat(CheckpointRoundTripTest.bits(r.readAll("a", "m")))
          .isEqualTo(CheckpointRoundTripTest.bits(values.get("a.m.npy")));
    }
  }

  @Test
  void aStragglingWriterOfAFailedAttemptCannotTouchTheRetry() throws Exception {
    CheckpointPlan plan = Fixtures.plan();
    PendingCheckpoint first = CheckpointLayout.create(root, 5, plan);
    try (ShardWriter straggler = ShardWriter.open(first.dir())) {
      straggler.write("a", "", 0, new float[10]); // its file is open
      PendingCheckpoint retry = CheckpointLayout.create(root, 5, plan);
      Map<String, float[]> values = Fixtures.values(plan, 5);
      List<FileRange> ranges = Fixtures.write(retry, values, 3, 5);
      // The straggler goes on writing garbage, into the deleted attempt.
      straggler.write("a", "", 0, new float[1001]);
      ManifestWriter.commit(retry, Fixtures.model(5), ranges);
      try (CheckpointReader r = CheckpointReader.open(root)) {
        r.verify();
        assertThat(CheckpointRoundTripTest.bits(r.readAll("a", "")))
            .isEqualTo(CheckpointRoundTripTest.bits(values.get("a.npy")));
      }
    }
  }

  @Test
  void aCompleteCheckpointOfTheStepIsNotOverwritten() throws Exception {
    Path ten = Fixtures.checkpoint(root, 10, 10);
    assertThatThrownBy(() -> CheckpointLayout.create(root, 10, Fixtures.plan()))
        .isInstanceOfSatisfying(CheckpointException.class,
            e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.EXISTS))
        .hasMessageStartingWith(ten + ": a checkpoint of step 10 already exists");
  }

  @Test
  void removeIncompleteDeletesAttemptsAndStepDirectoriesWithoutManifest() throws Exception {
    Path ten = Fixtures.checkpoint(root, 10, 10);
    PendingCheckpoint crashed = crashAfterSomeRanges(20);
    Path empty = Files.createDirectories(root.resolve("step-0000000030"));
    Path other = Files.createDirectories(root.resolve("notes"));
    assertThat(CheckpointLayout.removeIncomplete(root)).containsExactlyInAnyOrder(crashed.dir(), empty);
    assertThat(ten).isDirectory();
    assertThat(other).isDirectory();
  }

  @Test
  void openSaysWhyThereIsNothingToResumeFrom() throws Exception {
    assertThatThrownBy(() -> CheckpointReader.open(root.resolve("nope"))).isInstanceOfSatisfying(
        CheckpointException.class, e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.MISSING))
        .hasMessageContaining("no such directory");
    PendingCheckpoint crashed = crashAfterSomeRanges(20);
    assertThatThrownBy(() -> CheckpointReader.open(root)).isInstanceOfSatisfying(CheckpointException.class,
        e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.MISSING))
        .hasMessageContaining("no complete checkpoint")
        .hasMessageContaining(crashed.dir().getFileName() + " (an unfinished attempt");
  }

  @Test
  void theLatestOfSeveralIsPickedByStepNotByName() throws Exception {
    Fixtures.checkpoint(root, 9, 1);
    Path hundred = Fixtures.checkpoint(root, 100, 2);
    Fixtures.checkpoint(root, 99, 3);
    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.dir()).isEqualTo(hundred);
    }
    assertThat(CheckpointLayout.stepDirName(7)).isEqualTo("step-0000000007");
    assertThat(CheckpointLayout.stepOf("step-0000000007")).hasValue(7);
    assertThat(CheckpointLayout.stepOf("step-7")).isEmpty();
    assertThat(CheckpointLayout.stepOf("step-0000000007.partial-0123abcd")).isEmpty();
  }
}
