package dev.shardopt.coordinator;

/**
 * Where {@link ModelRegistry} takes and releases a model's lock around the operations that read or
 * change its pipeline schedule or decided steps, so that a test can pause a thread there and force each
 * interleaving of a pipeline change with a step decision or a schedule read. The process binds
 * {@link #NONE} in {@link CoordinatorModule}; a test overrides the binding (Guice
 * {@code Modules.override}) or passes its own to the {@link ModelRegistry} constructor.
 */
public interface ScheduleLockHooks {

  /** The operation under the model's lock. */
  enum Section {
    /** Deciding a SYNC step ({@code step}: the step decided). */
    DECISION,
    /** UpdatePipeline ({@code step}: its at_step). */
    UPDATE,
    /** GetPipelineSchedule ({@code step}: its through_step). */
    FIX,
    /**
     * CheckpointModel choosing its step and holding the decision that ends its window ({@code step}:
     * the at_step asked, -1 when none; at HOLDING the step chosen). Under the barrier's lock, like a decision.
     */
    CHECKPOINT
  }

  /** Where the thread is. */
  enum Phase {
    /** About to take the model's lock. */
    LOCKING,
    /**
     * Holding the lock, which no other thread can see past yet: a decision is made but the horizon
     * not yet raised to the next step; an update is appended; a fix has raised the horizon; a
     * checkpoint's step is chosen, its hold not yet registered. A refused operation does not get here.
     */
    HOLDING,
    /** The lock is released (also after a refusal). */
    RELEASED
  }

  void at(Section section, Phase phase, String model, long step);

  ScheduleLockHooks NONE = (section, phase, model, step) -> {};
}
