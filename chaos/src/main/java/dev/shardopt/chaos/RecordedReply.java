package dev.shardopt.chaos;

import io.grpc.Metadata;
import io.grpc.Status;
import java.util.List;

/**
 * A target's whole answer to one forwarded copy of a call, kept to be given to the caller later.
 *
 * @param headers the target's headers, or null when it sent none (a trailers-only answer)
 * @param messages its messages, in order
 * @param status its status
 * @param trailers its trailers
 * @param finishedNanos {@link System#nanoTime()} when the answer was complete
 */
record RecordedReply(Metadata headers, List<byte[]> messages, Status status, Metadata trailers, long finishedNanos) {
}
