package dev.shardopt.dsl;

import static dev.shardopt.dsl.Optimizers.*;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class PipelineTextTest {

  /** One pipeline per vocabulary item, plus the 32 reference cases' pipelines. */
  static Stream<String> corpus() {
    return Stream.of(
        "sgd()", "sgd(0.1)", "sgd(5e-3).weightDecay(0.05)",
        "momentum()", "momentum(2e-3).beta(0.8).dampening(0.3)",
        "nesterov()", "nesterov(5e-4).beta(0.95).weightDecay(0.01)",
        "adagrad()", "adagrad(0.05).eps(1e-6).initialAccumulator(0.1).lrDecay(0.01)",
        "rmsprop()", "rmsprop(5e-4).rho(0.9).eps(1e-6).momentum(0.9).centered()",
        "rmsprop(1e-3).eps(1e-14).epsInsideSqrt()",
        "adam()", "adam(0.01).beta1(0.8).beta2(0.95).eps(1e-7)", "adam(5e-3).amsgrad().weightDecay(1e-3)",
        "adamw()", "adamw(3e-3).beta1(0.85).beta2(0.98).weightDecay(0.1)", "adamw(0.01).weightDecay(0.0)",
        "lion()", "lion(3e-4).beta1(0.95).beta2(0.98).weightDecay(0.1)",
        "adam(0.01).warmup(10)", "sgd(0.01).cosine(30, 1e-4)", "momentum(5e-3).stepDecay(10, 0.5)",
        "momentum(5e-3).stepDecay(10)", "rmsprop(3e-3).exponentialDecay(0.95)",
        "adamw(0.01).cosineRestarts(8, 2, 1e-4)", "adamw(0.01).cosineRestarts(8)",
        "adamw(0.01).cosineRestarts(8, 3)", "adamw(0.01).cosineRestarts(8, 1, 1e-5)",
        "sgd(0.2).clipNorm(0.5)", "sgd(5e-3).clipValue(0.8)", "momentum(0.01).accumulate(4)",
        "adam(0.01).skipNonFinite()", "adamw(0.01).weightDecay(0.1).noDecay(\"*.bias\", \"norm.*\")",
        "momentum(0.02).clipNorm(1.0).freeze(\"embed.*\").lrScale(\"head.*\", 0.1)",
        "nesterov(2e-3).skipNonFinite()", "sgd(3000.0).clipNorm(2e-6)",
        "adam().beta2(0.98).warmup(500).cosine(100000).clipNorm(1.0).weightDecay(0.01)",
        "adam().warmup(500).cosine(100000, 1e-5).clipValue(2.5).clipNorm(1.0).weightDecay(0.01)"
            + ".accumulate(8).skipNonFinite().noDecay(\"*.bias\").freeze(\"emb?d.*\")"
            + ".lrScale(\"head.*\", 0.1).lrScale(\"say \\\"hi\\\"\\\\\", 2.0)");
  }

  @ParameterizedTest
  @MethodSource("corpus")
  void canonicalTextIsAFixedPointAndRoundTrips(String text) {
    Pipeline p = Pipeline.parse(text);
    assertThat(p.toString()).isEqualTo(text);
    assertThat(Pipeline.parse(p.toString())).isEqualTo(p).hasSameHashCodeAs(p);
  }

  @Test
  void textAndJavaBuildTheSameValue() {
    Pipeline java = adam(1e-3).beta2(0.98).warmup(500).cosine(1e5).clipNorm(1.0).weightDecay(0.01);
    Pipeline text = Pipeline.parse("adam(1e-3).beta2(0.98).warmup(500).cosine(1e5).clipNorm(1.0).weightDecay(0.01)");
    assertThat(text).isEqualTo(java);
    assertThat(java.toString())
        .isEqualTo("adam().beta2(0.98).warmup(500).cosine(100000).clipNorm(1.0).weightDecay(0.01)");
  }

  @Test
  void canonicalOrderIgnoresTheWrittenOrderAndDropsDefaults() {
    Pipeline p = Pipeline.parse(
        " adam( 1e-3 ) . weightDecay(0.01).clipNorm(1).cosine(100_000).warmup(500).eps(1e-8).amsgrad()");
    assertThat(p.toString())
        .isEqualTo("adam().amsgrad().warmup(500).cosine(100000).clipNorm(1.0).weightDecay(0.01)");
    assertThat(Pipeline.parse("adamw(1e-3).weightDecay(0.01)").toString()).isEqualTo("adamw()");
    assertThat(Pipeline.parse("lion(1e-4).beta1(0.9).beta2(0.99)").toString()).isEqualTo("lion()");
    assertThat(Pipeline.parse("sgd().noDecay(\"a\").freeze(\"f\").noDecay(\"b\")").toString())
        .isEqualTo("sgd().noDecay(\"a\", \"b\").freeze(\"f\")");
  }

  @Test
  void numbersFollowJavaLiteralSyntax() {
    assertThat(Pipeline.parse("sgd().warmup(100_000).cosine(2e5)").warmupSteps()).isEqualTo(100_000);
    assertThat(((Decay.Cosine) Pipeline.parse("sgd().cosine(2e5)").decay()).totalSteps()).isEqualTo(200_000);
    assertThat(Pipeline.parse("sgd(.5)").rule().lr()).isEqualTo(0.5);
    assertThat(Pipeline.parse("sgd(5.)").rule().lr()).isEqualTo(5.0);
    assertThat(Pipeline.parse("sgd(1E-3d)").rule().lr()).isEqualTo(1e-3);
    assertThat(Pipeline.parse("sgd(1e-3f)").rule().lr()).isEqualTo((double) 1e-3f);
    assertThat(Pipeline.parse("sgd().accumulate(4L)").accumulateSteps()).isEqualTo(4);
    assertThat(Pipeline.parse("sgd(1_000.5)").rule().lr()).isEqualTo(1000.5);
  }

  @Test
  void numberFormattingIsShortAndExact() {
    assertThat(Numbers.format(1e-3)).isEqualTo("1e-3");
    assertThat(Numbers.format(0.01)).isEqualTo("0.01");
    assertThat(Numbers.format(0.9)).isEqualTo("0.9");
    assertThat(Numbers.format(0.999)).isEqualTo("0.999");
    assertThat(Numbers.format(2.5e-7)).isEqualTo("2.5e-7");
    assertThat(Numbers.format(1.0)).isEqualTo("1.0");
    assertThat(Numbers.format(3000)).isEqualTo("3000.0");
    assertThat(Numbers.format(1e5)).isEqualTo("1e5");
    assertThat(Numbers.format(0.1 + 0.2)).isEqualTo("0.30000000000000004");
    for (double x : new double[] {1e-3, 0.1 + 0.2, Math.PI, 1.0 / 3, 123456.789, 4.9e-324, 1e300}) {
      assertThat(Double.parseDouble(Numbers.format(x))).isEqualTo(x);
    }
  }

  /** The canonical text is valid Java against the DSL: compile every corpus entry. */
  @Test
  void canonicalTextCompilesAsJava() throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertThat(javac).as("a JDK compiler").isNotNull();
    StringBuilder src = new StringBuilder(
        "import static dev.shardopt.dsl.Optimizers.*;\nimport dev.shardopt.dsl.Pipeline;\n"
            + "class Canonical {\n  static final Pipeline[] ALL = {\n");
    corpus().forEach(t -> src.append("    ").append(Pipeline.parse(t)).append(",\n"));
    src.append("  };\n}\n");
    JavaFileObject file =
        new SimpleJavaFileObject(URI.create("string:///Canonical.java"), JavaFileObject.Kind.SOURCE) {
          @Override
          public CharSequence getCharContent(boolean ignore) {
            return src;
          }
        };
    List<String> diagnostics = new ArrayList<>();
    java.nio.file.Path out = java.nio.file.Files.createTempDirectory("canonical");
    try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null)) {
      boolean ok = javac.getTask(null, fm, d -> diagnostics.add(d.toString()),
              List.of("-classpath", System.getProperty("java.class.path"), "-d", out.toString()),
              null, List.of(file))
          .call();
      assertThat(diagnostics).isEmpty();
      assertThat(ok).isTrue();
    }
  }

  @Test
  void modifiersReturnNewValuesAndLeaveTheOriginalAlone() {
    AdamPipeline base = adam(1e-3);
    Pipeline warm = base.warmup(10);
    AdamPipeline b2 = base.beta2(0.98);
    assertThat(base.toString()).isEqualTo("adam()");
    assertThat(warm.toString()).isEqualTo("adam().warmup(10)");
    assertThat(b2.toString()).isEqualTo("adam().beta2(0.98)");
    assertThat(warm).isNotSameAs(base).isNotEqualTo(base);
  }
}
