package dev.shardopt.worker.store;

/**
 * A push's acknowledgement.
 *
 * @param step the pushed step
 * @param duplicate true when this (trainer, step) had already been received with the same data:
 *     nothing was applied again
 * @param modelStep the model's completed steps on this worker when acknowledged
 */
public record PushAck(long step, boolean duplicate, long modelStep) {}
