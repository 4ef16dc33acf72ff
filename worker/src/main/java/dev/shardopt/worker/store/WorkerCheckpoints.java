package dev.shardopt.worker.store;

import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * What every model on this worker writes its checkpoints with.
 *
 * @param executor writes snapshots to disk off the gRPC threads (one thread per worker: the disk is
 *     the bottleneck, and back-pressure is per model)
 * @param workerName this worker's name, for the messages of failed writes and restores
 */
public record WorkerCheckpoints(Executor executor, Supplier<String> workerName) {}
