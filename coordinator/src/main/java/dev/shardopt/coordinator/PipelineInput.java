package dev.shardopt.coordinator;

import dev.shardopt.dsl.InvalidPipelineException;
import dev.shardopt.dsl.Pipeline;
import dev.shardopt.rpc.ApiException;
import dev.shardopt.v1.OptimizerPipeline;
import dev.shardopt.v1.ParsePipelineRequest;
import dev.shardopt.v1.ParsePipelineResponse;
import dev.shardopt.v1.PipelineError;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A pipeline as a request gives it: the {@code OptimizerPipeline} message, the DSL text, or both.
 * The rule, the same for CreateModel, UpdatePipeline and ParsePipeline: at least one is given (an
 * empty text is not given); the text is parsed by the DSL parser and the message read as {@link
 * Pipeline#fromProto} reads it; with both, each must be valid and their canonical texts equal
 * (the same pipeline, whatever defaults the message spells out). Nothing here has state.
 */
final class PipelineInput {
  private PipelineInput() {}

  /** One thing wrong: the request field, the message a person reads, and the text's 1-based column (0: none). */
  record Problem(String field, String message, int column) {
    PipelineError toProto() {
      return PipelineError.newBuilder().setField(field).setMessage(message).setColumn(column).build();
    }
  }

  /** The pipeline, or what is wrong with the input (then {@code pipeline} is null). */
  record Outcome(Pipeline pipeline, List<Problem> problems) {
    boolean valid() {
      return problems.isEmpty();
    }
  }

  /**
   * Reads the pipeline of a request whose fields are named {@code prefix + "pipeline"} and
   * {@code prefix + "pipeline_text"}.
   *
   * @param message the message field, or null when unset
   * @param text the text field; null or empty when unset
   * @return null when neither is given
   */
  static Outcome read(String prefix, OptimizerPipeline message, String text) {
    boolean hasText = text != null && !text.isEmpty();
    if (message == null && !hasText) {
      return null;
    }
    String messageField = prefix + "pipeline";
    String textField = prefix + "pipeline_text";
    List<Problem> problems = new ArrayList<>();
    Pipeline fromText = null;
    Pipeline fromMessage = null;
    if (hasText) {
      try {
        fromText = Pipeline.parse(text);
      } catch (InvalidPipelineException e) {
        problems.add(new Problem(textField, e.getMessage(), e.column()));
      }
    }
    if (message != null) {
      try {
        fromMessage = Pipeline.fromProto(message);
      } catch (InvalidPipelineException e) {
        problems.add(new Problem(messageField, e.getMessage(), 0));
      }
    }
    if (fromText != null && fromMessage != null && !fromText.toString().equals(fromMessage.toString())) {
      problems.add(new Problem(textField + ", " + messageField,
          messageField + " and " + textField + " are different pipelines: " + messageField + " is " + fromMessage
              + ", " + textField + " is " + fromText + "; send one of them, or both the same", 0));
    }
    return problems.isEmpty() ? new Outcome(fromText != null ? fromText : fromMessage, List.of())
        : new Outcome(null, List.copyOf(problems));
  }

  /**
   * The pipeline of a request, as {@link #read}.
   *
   * @throws ApiException INVALID_ARGUMENT when neither field is given, or for each problem, its
   *     field first (e.g. {@code model.pipeline_text: unknown method 'cosin' at column 24 — did
   *     you mean 'cosine'?})
   */
  static Pipeline require(String prefix, OptimizerPipeline message, String text) {
    Outcome o = read(prefix, message, text);
    if (o == null) {
      throw ApiException.invalidArgument(prefix + "pipeline is missing: send " + prefix
          + "pipeline_text, the DSL text (e.g. \"adam(1e-3).warmup(500)\"), or " + prefix + "pipeline, the message");
    }
    if (!o.valid()) {
      throw ApiException.invalidArgument(o.problems().stream()
          .map(p -> p.field().contains(",") ? p.message() : p.field() + ": " + p.message())
          .collect(Collectors.joining("; ")));
    }
    return o.pipeline();
  }

  /**
   * ParsePipeline's answer: the canonical text and the message, or every problem in {@code
   * errors}, including a tensor name that the parameter rules refuse. Creates nothing.
   *
   * @throws ApiException INVALID_ARGUMENT when the request has neither a text nor a message
   */
  static ParsePipelineResponse parse(ParsePipelineRequest request) {
    Outcome o = read("", request.hasPipeline() ? request.getPipeline() : null, request.getPipelineText());
    if (o == null) {
      throw ApiException.invalidArgument("pipeline_text and pipeline are both missing; send the DSL text in"
          + " pipeline_text (e.g. \"adam(1e-3).warmup(500)\"), the message in pipeline, or both");
    }
    ParsePipelineResponse.Builder b = ParsePipelineResponse.newBuilder();
    if (!o.valid()) {
      o.problems().forEach(p -> b.addErrors(p.toProto()));
      return b.build();
    }
    List<String> names = request.getTensorNamesList();
    for (int i = 0; i < names.size(); i++) {
      try {
        o.pipeline().settingsFor(names.get(i));
      } catch (InvalidPipelineException e) {
        b.addErrors(new Problem("tensor_names[" + i + "]", e.getMessage(), 0).toProto());
      }
    }
    if (b.getErrorsCount() > 0) {
      return b.build();
    }
    return b.setCanonicalText(o.pipeline().toString()).setPipeline(o.pipeline().toProto()).build();
  }
}
