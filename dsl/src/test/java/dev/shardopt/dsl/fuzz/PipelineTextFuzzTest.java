package dev.shardopt.dsl.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes the text form's parser with arbitrary bytes read as UTF-8; the seeds under
 * {@code PipelineTextFuzzTestInputs/parse} are valid pipelines, so the fuzzer also mutates real
 * ones. Invariants: the parser either returns a pipeline or throws {@link InvalidPipelineException}
 * (nothing else: no NPE, no index or number-format exception, no stack overflow); a pipeline it
 * returns prints a canonical text that parses back to an equal pipeline, and whose proto form maps
 * back to an equal pipeline.
 */
class PipelineTextFuzzTest {

  @FuzzTest(maxDuration = "8s")
  void parse(byte[] input) {
    String text = new String(input, StandardCharsets.UTF_8);
    Pipeline p;
    try {
      p = Pipeline.parse(text);
    } catch (InvalidPipelineException e) {
      assertThat(e.getMessage()).isNotBlank();
      return;
    }
    String canonical = p.toString();
    assertThat(Pipeline.parse(canonical)).isEqualTo(p);
    assertThat(Pipeline.fromProto(p.toProto())).isEqualTo(p);
  }
}
