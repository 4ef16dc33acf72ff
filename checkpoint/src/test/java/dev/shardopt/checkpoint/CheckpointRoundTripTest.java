package dev.shardopt.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.shardopt.v1.CheckpointManifest;
import dev.shardopt.v1.TrainingMode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointRoundTripTest {

  @TempDir Path root;

  @Test
  void threeWritersWithInterleavedRangesGiveACheckpointThatReadsBackBitExactly() throws Exception {
    CheckpointPlan plan = Fixtures.plan();
    Map<String, float[]> values = Fixtures.values(plan, 42);
    PendingCheckpoint pending = CheckpointLayout.create(root, 120, plan);
    assertThat(pending.dir().getFileName().toString()).matches("step-0000000120\\.partial-[0-9a-f]{8}");
    List<FileRange> ranges = Fixtures.write(pending, values, 3, 42);
    assertThat(ranges.size()).isGreaterThan(3 * plan.files().size() / 2);

    Path committed = ManifestWriter.commit(pending, Fixtures.model(120), ranges);
    assertThat(committed).isEqualTo(root.resolve("step-0000000120"));
    assertThat(pending.dir()).doesNotExist();

    try (CheckpointReader r = CheckpointReader.open(root)) {
      assertThat(r.dir()).isEqualTo(committed);
      assertThat(r.step()).isEqualTo(120);
      assertThat(r.skipped()).isEmpty();
      r.verify();
      for (CheckpointFile f : plan.files()) {
        float[] got = r.readAll(f.tensor(), f.slot());
        assertThat(bits(got)).as(f.describe()).isEqualTo(bits(values.get(f.path())));
        // Every file on disk: the header we encode, then the values little-endian; its CRC is the manifest's.
        byte[] bytes = Files.readAllBytes(committed.resolve(f.path()));
        assertThat(bytes).isEqualTo(npy(f.shape(), values.get(f.path())));
        CRC32C crc = new CRC32C();
        crc.update(bytes);
        CheckpointManifest.File e = r.manifest().getFilesList().stream()
            .filter(x -> x.getPath().equals(f.path())).findFirst().orElseThrow();
        assertThat(e.getCrc32C()).isEqualTo((int) crc.getValue());
        assertThat(e.getSizeBytes()).isEqualTo(bytes.length);
        assertThat(e.getTensor()).isEqualTo(f.tensor());
        assertThat(e.getSlot()).isEqualTo(f.slot());
      }
    }
  }

  @Test
  void aRangeWrittenFromASourceAndReadIntoASinkChunkByChunkIsTheArrayPathsBytesAndChecksum() throws Exception {
    int chunk = Io.CHUNK / 4; // the reader's
    int staged = ShardWriter.CHUNK / 4; // the writer's
    int n = 2 * chunk + 12_345; // three of the reader's chunks, the last one partial
    float[] values = new float[n + 7];
    java.util.Random random = new java.util.Random(3);
    for (int i = 0; i < values.length; i++) {
      values[i] = (float) random.nextGaussian();
    }
    values[chunk + 1] = Float.NaN;
    values[2 * chunk] = -0f;
    dev.shardopt.v1.TensorSpec spec = dev.shardopt.v1.TensorSpec.newBuilder().setName("w").addShape(2).addShape(n).build();
    CheckpointPlan plan = CheckpointPlan.of(List.of(spec), List.of());
    PendingCheckpoint pending = CheckpointLayout.create(root, 1, plan);
    List<Long> asked = new ArrayList<>();
    FileRange fromSource;
    FileRange fromArray;
    try (ShardWriter w = ShardWriter.open(pending.dir())) {
      // elements [n, 2n): read from values[7 ...] through the source
      fromSource = w.writeUnforced("w", "", n, n, (from, dst, count) -> {
        asked.add(from);
        System.arraycopy(values, 7 + (int) from, dst, 0, count);
      });
      fromArray = w.writeUnforced("w", "", 0, java.util.Arrays.copyOfRange(values, 7, 7 + n));
      w.force();
    }
    assertThat(asked).hasSize((n + staged - 1) / staged);
    for (int i = 0; i < asked.size(); i++) {
      assertThat(asked.get(i)).isEqualTo((long) i * staged);
    }
    assertThat(fromSource.crc32c()).isEqualTo(fromArray.crc32c());
    assertThat(fromSource.length()).isEqualTo(4L * n);
    ByteBuffer le = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    le.asFloatBuffer().put(values, 7, n);
    CRC32C independent = new CRC32C();
    independent.update(le.array());
    assertThat(fromSource.crc32c()).isEqualTo((int) independent.getValue());

    Path committed = ManifestWriter.commit(pending,
        Fixtures.model(1).toBuilder().clearTensors().addTensors(spec).build(), List.of(fromArray, fromSource));
    try (CheckpointReader r = CheckpointReader.open(committed)) {
      float[] back = new float[n];
      List<Long> given = new ArrayList<>();
      FileRange read = r.readRange("w", "", n, n, (from, src, count) -> {
        given.add(from);
        System.arraycopy(src, 0, back, (int) from, count);
      });
      assertThat(given).containsExactly(0L, (long) chunk, 2L * chunk);
      assertThat(read).isEqualTo(fromSource);
      assertThat(bits(back)).isEqualTo(bits(java.util.Arrays.copyOfRange(values, 7, 7 + n)));
      assertThatThrownBy(() -> r.readRange("w", "", n + 1, n, (from, src, count) -> { }))
          .isInstanceOf(CheckpointException.class)
          .hasMessageContaining("elements [" + (n + 1) + ", " + (2 * n + 1) + ") are outside the tensor's " + 2 * n
              + " elements");
    }
  }

  @Test
  void rangesWrittenUnforcedThenForcedOnceCommitAndReadBackBitExactly() throws Exception {
    CheckpointPlan plan = Fixtures.plan();
    Map<String, float[]> values = Fixtures.values(plan, 7);
    PendingCheckpoint pending = CheckpointLayout.create(root, 8, plan);
    List<FileRange> ranges = new ArrayList<>();
    try (ShardWriter w = ShardWriter.open(pending.dir())) {
      for (CheckpointFile f : plan.files()) {
        float[] v = values.get(f.path());
        int half = v.length / 2;
        ranges.add(w.writeUnforced(f.tensor(), f.slot(), 0, java.util.Arrays.copyOfRange(v, 0, half)));
        ranges.add(w.writeUnforced(f.tensor(), f.slot(), half, java.util.Arrays.copyOfRange(v, half, v.length)));
      }
      w.force();
    }
    Path committed = ManifestWriter.commit(pending, Fixtures.model(8), ranges);
    try (CheckpointReader r = CheckpointReader.open(committed)) {
      r.verify();
      for (CheckpointFile f : plan.files()) {
        assertThat(bits(r.readAll(f.tensor(), f.slot()))).as(f.describe()).isEqualTo(bits(values.get(f.path())));
      }
    }
  }

  @Test
  void theManifestHoldsEverythingNeededToContinue() throws Exception {
    Path dir = Fixtures.checkpoint(root, 30, 1);
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      CheckpointManifest m = r.manifest();
      assertThat(m.getFormatVersion()).isEqualTo(Manifests.FORMAT_VERSION);
      assertThat(m.getModelId()).isEqualTo("mlp");
      assertThat(m.getStep()).isEqualTo(30);
      assertThat(m.getPipelineText()).isEqualTo("adam(lr=0.001) | accumulate(2)");
      assertThat(m.getPipelineSchedule().getGenerationsList()).extracting(g -> g.getFromStep()).containsExactly(0L, 5L);
      assertThat(m.getPipelineSchedule().getGenerations(1).getPipeline().getAccumulate()).isEqualTo(2);
      assertThat(m.getTrainers()).isEqualTo(3);
      assertThat(m.getMode()).isEqualTo(TrainingMode.ASYNC);
      assertThat(m.getStaleness()).isEqualTo(2);
      assertThat(m.getTensorsList()).isEqualTo(Fixtures.specs());
      assertThat(m.getUpdatesApplied()).isEqualTo(29);
      assertThat(m.getStepsSkipped()).isEqualTo(1);
      assertThat(m.getNextPushList()).containsExactly(11L, 10L, 10L);
      // Files: each tensor's parameters, then its slots, in the tensors' order.
      assertThat(m.getFilesList()).extracting(CheckpointManifest.File::getPath).startsWith(
          "encoder%2Flayer%2E0%2Eweight.npy", "encoder%2Flayer%2E0%2Eweight.m.npy", "encoder%2Flayer%2E0%2Eweight.v.npy",
          "bias%20%CF%80%20%CE%B8.npy");
      assertThat(m.getFilesList()).extracting(CheckpointManifest.File::getPath).contains("a%2Em.npy", "a.m.npy");
    }
    String json = Files.readString(dir.resolve("manifest.json"), StandardCharsets.UTF_8);
    assertThat(json).contains("\"format_version\": 1", "\"model_id\": \"mlp\"", "\"pipeline_schedule\"",
        "\"from_step\": \"5\"", "\"next_push\"", "\"tensor\": \"encoder/layer.0.weight\"", "\"slot\": \"\"",
        "\"crc32c\"", "\"manifest_crc32c\"");
    // Nothing else is left in the directory: no temporary file.
    try (var s = Files.list(dir)) {
      assertThat(s.map(p -> p.getFileName().toString()).filter(n -> !n.endsWith(".npy")).toList())
          .containsExactly("manifest.json");
    }
  }

  @Test
  void theSameModelGivesTheSameBytesEverywhere() throws Exception {
    Path a = Fixtures.checkpoint(root.resolve("a"), 7, 5);
    Path b = Fixtures.checkpoint(root.resolve("b"), 7, 5);
    try (var s = Files.list(a)) {
      for (Path p : s.toList()) {
        assertThat(Files.readAllBytes(b.resolve(p.getFileName().toString()))).as(p.toString())
            .isEqualTo(Files.readAllBytes(p));
      }
    }
  }

  @Test
  void readRangeReadsAnyPartAndTheRangesOfARestoreCheckInOnePass() throws Exception {
    Path dir = Fixtures.checkpoint(root, 9, 3);
    Map<String, float[]> values = Fixtures.values(Fixtures.plan(), 3);
    try (CheckpointReader r = CheckpointReader.open(dir)) {
      float[] part = new float[100];
      r.readRange("a", "v", 900, part, 0, 100);
      float[] whole = values.get(FileNames.fileName("a", "v"));
      for (int i = 0; i < 100; i++) {
        assertThat(Float.floatToRawIntBits(part[i])).isEqualTo(Float.floatToRawIntBits(whole[900 + i]));
      }
      // A restore onto 2 workers, cut differently from the 3 writers: the reads' ranges check against the manifest.
      List<FileRange> reads = new ArrayList<>();
      for (CheckpointFile f : r.plan().files()) {
        int n = (int) f.elements();
        int half = n / 2;
        reads.add(r.readRange(f.tensor(), f.slot(), 0, new float[half]));
        reads.add(r.readRange(f.tensor(), f.slot(), half, new float[n - half]));
      }
      r.checkRanges(reads);
      // One range missing: the check names the file and the bytes nobody read.
      List<FileRange> missing = new ArrayList<>(reads);
      FileRange dropped = missing.remove(1);
      assertThatThrownBy(() -> r.checkRanges(missing)).isInstanceOfSatisfying(CheckpointException.class,
          e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.INCOMPLETE))
          .hasMessageContaining(dir.resolve(dropped.path()).toString())
          .hasMessageContaining("bytes [" + dropped.offset() + ", " + dropped.end() + ")")
          .hasMessageContaining("were not read");
      // A range whose bytes were not the checkpointed ones.
      List<FileRange> wrong = new ArrayList<>(reads);
      FileRange x = wrong.get(0);
      wrong.set(0, new FileRange(x.path(), x.offset(), x.length(), x.crc32c() ^ 1));
      assertThatThrownBy(() -> r.checkRanges(wrong)).isInstanceOfSatisfying(CheckpointException.class,
          e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.CHECKSUM)).hasMessageContaining("checksum mismatch");

      assertThatThrownBy(() -> r.readRange("a", "v", 950, new float[100])).isInstanceOfSatisfying(
          CheckpointException.class, e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.ARGUMENT))
          .hasMessageContaining("elements [950, 1050) are outside the tensor's 1001 elements");
      assertThatThrownBy(() -> r.readAll("nope", "")).isInstanceOfSatisfying(CheckpointException.class,
          e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.ARGUMENT)).hasMessageContaining("tensor 'nope'");
      assertThatThrownBy(() -> r.readAll("a", "momentum")).hasMessageContaining("slot 'momentum'");
    }
  }

  @Test
  void aGapAnOverlapOrAStrangeRangeFailsTheCommitNamingTheFileAndBytes() throws Exception {
    CheckpointPlan plan = Fixtures.plan();
    PendingCheckpoint p = CheckpointLayout.create(root, 4, plan);
    List<FileRange> ranges = Fixtures.write(p, Fixtures.values(plan, 4), 3, 4);

    List<FileRange> gap = new ArrayList<>(ranges);
    FileRange lost = gap.remove(gap.size() / 2);
    assertThatThrownBy(() -> ManifestWriter.commit(p, Fixtures.model(4), gap))
        .isInstanceOfSatisfying(CheckpointException.class,
            e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.INCOMPLETE))
        .hasMessageStartingWith(p.dir().resolve(lost.path()) + ": bytes [" + lost.offset() + ", " + lost.end()
            + ") (elements [")
        .hasMessageContaining("were not written: no worker reported them");

    List<FileRange> overlap = new ArrayList<>(ranges);
    FileRange twice = overlap.get(0);
    overlap.add(new FileRange(twice.path(), twice.offset() + 4, 4, 0));
    assertThatThrownBy(() -> ManifestWriter.commit(p, Fixtures.model(4), overlap))
        .hasMessageContaining(twice.path()).hasMessageContaining("twice (overlapping ranges)");

    List<FileRange> unknown = new ArrayList<>(ranges);
    unknown.add(new FileRange("../evil.npy", 128, 4, 0));
    assertThatThrownBy(() -> ManifestWriter.commit(p, Fixtures.model(4), unknown))
        .isInstanceOfSatisfying(CheckpointException.class,
            e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.ARGUMENT))
        .hasMessageContaining("not part of the checkpoint");

    List<FileRange> past = new ArrayList<>(ranges);
    FileRange any = past.get(0);
    past.add(new FileRange(any.path(), 1L << 40, 4, 0));
    assertThatThrownBy(() -> ManifestWriter.commit(p, Fixtures.model(4), past)).hasMessageContaining("past the end");

    // None of these left a manifest or a step directory; the right ranges still commit.
    assertThat(p.dir().resolve("manifest.json")).doesNotExist();
    assertThat(root.resolve("step-0000000004")).doesNotExist();
    assertThat(ManifestWriter.commit(p, Fixtures.model(4), ranges)).isEqualTo(root.resolve("step-0000000004"));
  }

  @Test
  void theWriterRefusesRangesOutsideTheTensorAndFilesThatAreNotThere() throws Exception {
    PendingCheckpoint p = CheckpointLayout.create(root, 1, Fixtures.plan());
    try (ShardWriter w = ShardWriter.open(p.dir())) {
      assertThatThrownBy(() -> w.write("a", "", 1000, new float[2])).isInstanceOfSatisfying(CheckpointException.class,
          e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.ARGUMENT))
          .hasMessageContaining("a.npy: elements [1000, 1002) are outside the tensor's 1001 elements");
      assertThatThrownBy(() -> w.write("a", "", -1, new float[2])).hasMessageContaining("outside");
      assertThatThrownBy(() -> w.write("nope", "", 0, new float[1])).isInstanceOfSatisfying(CheckpointException.class,
          e -> assertThat(e.kind()).isEqualTo(CheckpointException.Kind.MISSING)).hasMessageContaining("nope.npy");
      FileRange r = w.write("scalar", "m", 0, new float[] {1.5f});
      assertThat(r.path()).isEqualTo("scalar.m.npy");
      assertThat(r.offset()).isEqualTo(128);
      assertThat(r.length()).isEqualTo(4);
      CRC32C c = new CRC32C();
      c.update(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).array());
      assertThat(r.crc32c()).isEqualTo((int) c.getValue());
      assertThat(FileRange.fromProto(r.toProto())).isEqualTo(r);
    }
  }

  @Test
  void theManifestsTensorsMustBeThePlans() throws Exception {
    PendingCheckpoint p = CheckpointLayout.create(root, 1, Fixtures.plan());
    CheckpointManifest wrong = Fixtures.model(1).toBuilder().removeTensors(0).build();
    assertThatThrownBy(() -> ManifestWriter.commit(p, wrong, List.of()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not the checkpoint plan's");
  }

  static int[] bits(float[] v) {
    int[] out = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      out[i] = Float.floatToRawIntBits(v[i]);
    }
    return out;
  }

  /** What numpy.save writes for a float32 array (the header, then the raw little-endian values). */
  static byte[] npy(long[] shape, float[] values) {
    byte[] h = NpyHeader.encode(shape);
    ByteBuffer b = ByteBuffer.allocate(h.length + 4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(h);
    for (float v : values) {
      b.putFloat(v);
    }
    return b.array();
  }
}
