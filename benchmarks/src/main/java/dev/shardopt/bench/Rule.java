package dev.shardopt.bench;

import dev.shardopt.engine.kernel.AdagradKernel;
import dev.shardopt.engine.kernel.AdamKernel;
import dev.shardopt.engine.kernel.LionKernel;
import dev.shardopt.engine.kernel.MomentumKernel;
import dev.shardopt.engine.kernel.NesterovKernel;
import dev.shardopt.engine.kernel.RmspropKernel;
import dev.shardopt.engine.kernel.SgdKernel;
import dev.shardopt.engine.kernel.UpdateKernel;
import java.util.function.Supplier;

/**
 * The benchmarked rules with their typical hyperparameters and the bytes each moves per parameter:
 * every array it reads once plus every array it writes once (all written arrays are also read, so
 * a write-allocate read adds nothing), at 4 bytes an element.
 */
enum Rule {
  SGD("sgd", 3, false, SgdKernel::new),
  MOMENTUM("momentum", 5, false, () -> new MomentumKernel(0.9, 0)),
  NESTEROV("nesterov", 5, false, () -> new NesterovKernel(0.9)),
  ADAGRAD("adagrad", 5, false, () -> new AdagradKernel(1e-10, 0.1, 0)),
  RMSPROP("rmsprop", 5, false, () -> new RmspropKernel(0.99, 1e-8, 0, false, false)),
  RMSPROP_CENTERED_MOMENTUM(
      "rmsprop_cm", 9, false, () -> new RmspropKernel(0.99, 1e-8, 0.9, true, false)),
  ADAM("adam", 7, false, () -> new AdamKernel(0.9, 0.999, 1e-8, false, false)),
  ADAMW("adamw", 7, true, () -> new AdamKernel(0.9, 0.999, 1e-8, false, true)),
  AMSGRAD("amsgrad", 9, false, () -> new AdamKernel(0.9, 0.999, 1e-8, true, false)),
  LION("lion", 5, true, () -> new LionKernel(0.9, 0.99)),
  /** The baseline: reads b, c, writes a (not read): 3 elements, 4 with write-allocate. */
  TRIAD("triad", 3, false, TriadKernel::new);

  final String id;
  /** Elements moved per parameter, without write-allocate. */
  final int elements;
  /** Whether the rule takes a decoupled weight decay. */
  final boolean decoupled;
  private final Supplier<UpdateKernel> factory;

  Rule(String id, int elements, boolean decoupled, Supplier<UpdateKernel> factory) {
    this.id = id;
    this.elements = elements;
    this.decoupled = decoupled;
    this.factory = factory;
  }

  UpdateKernel kernel() {
    return factory.get();
  }

  int bytes() {
    return 4 * elements;
  }

  /** Bytes with the write-allocate read counted: only the triad writes an array it does not read. */
  int bytesWithWriteAllocate() {
    return this == TRIAD ? bytes() + 4 : bytes();
  }

  static Rule of(String id) {
    for (Rule r : values()) {
      if (r.id.equals(id)) {
        return r;
      }
    }
    throw new IllegalArgumentException("unknown rule " + id);
  }
}
