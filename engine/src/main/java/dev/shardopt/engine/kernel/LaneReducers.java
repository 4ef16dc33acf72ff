package dev.shardopt.engine.kernel;

/** Chooses the fastest {@link LaneReducer} this JVM can run; all of them agree bitwise. */
public final class LaneReducers {

  /** The JVM option that makes the vector implementation available. */
  public static final String VECTOR_MODULE_OPTION = "--add-modules=jdk.incubator.vector";

  /**
   * Ranges shorter than this stay on the plain loops even where the vector module is loaded: half a
   * {@link ReductionBlocks#BLOCK}, so every full block of a large tensor runs vectorized.
   */
  static final int MIN_VECTOR_LENGTH = ReductionBlocks.BLOCK / 2;

  private LaneReducers() {}

  /**
   * The vector implementation when the {@code jdk.incubator.vector} module is in the boot layer and
   * the machine's preferred vector holds 2, 4 or 8 doubles (for ranges of at least
   * {@link #MIN_VECTOR_LENGTH} elements: {@link LengthSwitchedLaneReducer}); otherwise the plain loops. The module
   * is optional so that a process started without the option still runs, at the plain loops' speed
   * (on JDK 20 and later C2 vectorizes those too).
   */
  public static LaneReducer forThisJvm() {
    if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
      return new ScalarLaneReducer();
    }
    try {
      if (VectorLaneReducer.supported()) {
        return new LengthSwitchedLaneReducer(new ScalarLaneReducer(), new VectorLaneReducer(), MIN_VECTOR_LENGTH);
      }
    } catch (LinkageError e) {
      // A JVM whose incubator API differs from the one compiled against: keep the plain loops.
    }
    return new ScalarLaneReducer();
  }
}
