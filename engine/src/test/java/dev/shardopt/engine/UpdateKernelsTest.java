package dev.shardopt.engine;

import static org.assertj.core.api.Assertions.assertThat;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.dsl.RuleKind;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The engine's layer of the rule count: every rule the DSL knows has a kernel that descends. */
class UpdateKernelsTest {
  private static final ExecutorService POOL = Executors.newSingleThreadExecutor();

  @AfterAll
  static void stop() {
    POOL.shutdownNow();
  }

  /** Optimizer state slots of each rule at its defaults, from each kernel's update formula. */
  private static final Map<RuleKind, List<String>> SLOTS = new EnumMap<>(Map.of(
      RuleKind.SGD, List.of(),
      RuleKind.MOMENTUM, List.of("momentum_buffer"),
      RuleKind.NESTEROV, List.of("momentum_buffer"),
      RuleKind.ADAGRAD, List.of("sum"),
      RuleKind.RMSPROP, List.of("square_avg"),
      RuleKind.ADAM, List.of("exp_avg", "exp_avg_sq"),
      RuleKind.ADAMW, List.of("exp_avg", "exp_avg_sq"),
      RuleKind.LION, List.of("exp_avg")));

  @Test
  void everyRuleKindHasAKernelThatStepsAgainstAPositiveGradient() {
    assertThat(SLOTS.keySet()).containsExactlyInAnyOrder(RuleKind.values());
    for (RuleKind kind : RuleKind.values()) {
      Pipeline p = Pipeline.parse(kind.dslName() + "(0.1)");
      assertThat(p.rule().kind()).isEqualTo(kind);
      assertThat(UpdateKernels.forRule(p.rule()).stateSlots()).as("%s", kind).isEqualTo(SLOTS.get(kind));
      LocalOptimizer opt = new LocalOptimizer(p, Map.of(new TensorShape("w", new long[] {1}), new float[] {0f}), 1,
          new ParallelApply(POOL, 1, 1));
      opt.push(List.of(Map.of("w", new float[] {1f})));
      // every rule's first step on g = 1 from 0 is negative; sgd's is exactly -lr
      assertThat(opt.parameter("w")[0]).as("%s", kind).isNegative();
      if (kind == RuleKind.SGD) {
        assertThat(opt.parameter("w")[0]).isEqualTo(-0.1f);
      }
    }
  }
}
