package dev.shardopt.client;

/**
 * The outcome of {@link Trainer#push}: every worker acknowledged {@code step}. {@code duplicate} is
 * true when every worker answered that it had already received this (trainer, step), so nothing
 * was applied again, as when a completed push is replayed. (After a retry of a push whose answer
 * was lost, one worker may say duplicate while the others applied it just then: duplicate is then
 * false.)
 */
public record PushResult(long step, boolean duplicate) {}
