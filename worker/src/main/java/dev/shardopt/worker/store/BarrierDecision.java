package dev.shardopt.worker.store;

import dev.shardopt.engine.UpdateDecision;

/**
 * The coordinator's decision of a synchronous step, with what it says about the schedule.
 *
 * @param update what every shard applies
 * @param generation the pipeline generation the step was decided under
 * @param fixedThrough the schedule is fixed through this step now
 * @param latestGeneration the schedule's newest generation
 */
public record BarrierDecision(UpdateDecision update, long generation, long fixedThrough, long latestGeneration) {}
