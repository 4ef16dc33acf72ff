package dev.shardopt.client;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParsePipelineResponse;
import java.util.List;

/**
 * The coordinator's reading of a pipeline ({@code Coordinator.ParsePipeline}): its canonical text
 * and message when it is valid, else what is wrong with it.
 *
 * @param canonicalText the canonical DSL text; empty when invalid
 * @param message the {@code OptimizerPipeline} with every effective value; the default instance when invalid
 * @param errors empty when valid
 */
public record PipelineCheck(String canonicalText, OptimizerPipeline message, List<Error> errors) {

  /**
   * One thing wrong.
   *
   * @param field the request field: {@code pipeline_text}, {@code pipeline}, both, or {@code tensor_names[i]}
   * @param message what is wrong and what is allowed, with the column for text
   * @param column the 1-based column in the text, 0 when not from the text
   */
  public record Error(String field, String message, int column) {}

  public PipelineCheck {
    errors = List.copyOf(errors);
  }

  static PipelineCheck of(ParsePipelineResponse r) {
    return new PipelineCheck(r.getCanonicalText(), r.getPipeline(),
        r.getErrorsList().stream().map(e -> new Error(e.getField(), e.getMessage(), e.getColumn())).toList());
  }

  public boolean valid() {
    return errors.isEmpty();
  }

  /**
   * The pipeline, read from the coordinator's message.
   *
   * @throws IllegalStateException when the pipeline is invalid, with every error's message
   */
  public Pipeline pipeline() {
    if (!valid()) {
      throw new IllegalStateException("the pipeline is invalid: "
          + String.join("; ", errors.stream().map(Error::message).toList()));
    }
    return Pipeline.fromProto(message);
  }
}
