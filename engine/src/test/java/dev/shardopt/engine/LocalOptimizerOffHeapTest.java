package dev.shardopt.engine;

import dev.shardopt.dsl.Pipeline;
import dev.shardopt.engine.device.OffHeapTestBackend;
import dev.shardopt.engine.kernel.ParallelApply;
import java.util.Map;

/**
 * {@link LocalOptimizerTest}'s cases, whose expected values are worked out by hand, on a device's
 * path: gradients uploaded into staging arrays, parameters and state downloaded.
 */
class LocalOptimizerOffHeapTest extends LocalOptimizerTest {
  @Override
  LocalOptimizer optimizer(Pipeline p, Map<TensorShape, float[]> init, int trainers, ParallelApply parallel) {
    return new LocalOptimizer(p, init, trainers, new OffHeapTestBackend(parallel), parallel);
  }
}
