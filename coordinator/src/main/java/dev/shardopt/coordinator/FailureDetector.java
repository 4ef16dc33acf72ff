package dev.shardopt.coordinator;

import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Declares dead the workers that hold copies of a model and have missed their heartbeats for
 * longer than the failure timeout ({@link WorkerRegistry#beating}), once per heartbeat interval:
 * {@link ModelRegistry#workerLost} then moves their shards to their backups, or fails the models
 * that had no other copy. One log line per model affected.
 *
 * <p>A coordinator that was itself not running (SIGSTOP, a long GC pause, a starved machine) heard no
 * heartbeats meanwhile, so the silence it sees afterwards is its own. The exact rule: when more than
 * half the failure timeout has passed since the previous check, this check declares nobody dead and
 * restarts every worker's silence from now ({@link WorkerRegistry#restartSilence}); a worker that
 * really died is declared dead one failure timeout later. Every worker is judged as of the time the
 * check began, so a pause that falls inside a check is handled by the next one the same way.
 *
 * <p>A restarted coordinator (state dir) gives the workers it knows from before time to find it
 * again, their channels reconnecting: one that has not beaten yet is declared dead only once {@link
 * #restartGraceMillis} have passed since this detector's first check, not after one failure timeout.
 */
public final class FailureDetector {
  private static final Logger log = LoggerFactory.getLogger(FailureDetector.class);

  private final ModelRegistry models;
  private final WorkerRegistry workers;
  private long lastCheckMillis = Long.MIN_VALUE;
  private long firstCheckMillis = Long.MIN_VALUE;

  public FailureDetector(ModelRegistry models, WorkerRegistry workers) {
    this.models = models;
    this.workers = workers;
  }

  /** Checks every heartbeat interval on {@code timer}, from now on. */
  public void start(ScheduledExecutorService timer) {
    long period = workers.heartbeatMillis();
    timer.scheduleWithFixedDelay(() -> {
      try {
        check();
      } catch (RuntimeException e) { // the next check tries again
        log.warn("failure detection: {}", e.toString());
      }
    }, period, period, TimeUnit.MILLISECONDS);
  }

  /** How long a restarted coordinator waits for a worker it knew before to beat: 3 failure timeouts, at least 10 s. */
  long restartGraceMillis() {
    return Math.max(10_000, 3 * workers.failureTimeoutMillis());
  }

  /** One round: the lines of what happened (also logged). */
  public synchronized List<String> check() {
    List<String> lines = new java.util.ArrayList<>();
    long now = workers.nowMillis();
    if (firstCheckMillis == Long.MIN_VALUE) {
      firstCheckMillis = now;
    }
    long gap = lastCheckMillis == Long.MIN_VALUE ? 0 : now - lastCheckMillis;
    lastCheckMillis = now;
    if (gap > workers.failureTimeoutMillis() / 2) {
      workers.restartSilence();
      log.warn("failure detection: {} ms since the previous check (the coordinator was paused or starved);"
          + " counting every worker's silence from now", gap);
      return lines;
    }
    for (String worker : models.workersHoldingCopies()) {
      if (!workers.beatingAt(worker, now) // as of the check's start: a pause during the check is no one's silence
          && !(workers.awaitingFirstBeat(worker) && now - firstCheckMillis < restartGraceMillis())) {
        for (String line : models.workerLost(worker)) {
          log.warn(line);
          lines.add(line);
        }
      }
    }
    return lines;
  }
}
