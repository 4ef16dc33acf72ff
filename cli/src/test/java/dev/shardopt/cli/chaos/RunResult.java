package dev.shardopt.cli.chaos;

import java.util.List;

/**
 * What one chaos run ended with, against the fault-free reference of the same steps.
 *
 * @param scenario the scenario's name (a row of the table)
 * @param seed the run's seed (fault plan, kill step, victim)
 * @param steps the steps the run trained
 * @param faults faults injected: the proxies' counted faults plus the process signals sent
 * @param pulledStep the version the final pull returned (steps completed)
 * @param updatesApplied the coordinator's count of updates applied (GetModel)
 * @param copyUpdates each live copy's own count of updates applied (the worker's GetProgress)
 * @param duplicates pushes the workers acknowledged without applying (GetModel, over all workers)
 * @param differingElements parameters whose bits differ from the reference
 * @param maxDifference the largest |cluster - reference| over all parameters
 */
record RunResult(String scenario, long seed, int steps, long faults, long pulledStep, long updatesApplied,
    List<Long> copyUpdates, long duplicates, long differingElements, double maxDifference) {

  /** Steps applied more than once: on the coordinator's count and on every copy's. */
  long appliedTwice() {
    long worst = Math.max(0, updatesApplied - steps);
    for (long c : copyUpdates) {
      worst = Math.max(worst, c - steps);
    }
    return worst;
  }

  /**
   * Acknowledged pushes lost: every push of every step was acknowledged (the trainers returned), so a
   * step missing from the coordinator's or a copy's count, or any parameter that differs, is a lost one.
   */
  long acknowledgedLost() {
    long worst = Math.max(0, steps - updatesApplied);
    for (long c : copyUpdates) {
      worst = Math.max(worst, steps - c);
    }
    return differingElements > 0 ? Math.max(worst, 1) : worst;
  }
}
