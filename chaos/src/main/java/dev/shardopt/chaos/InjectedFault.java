package dev.shardopt.chaos;

/**
 * One fault a {@link RandomFaultPlan} chose.
 *
 * @param call which call it went into: 1 for the first call the plan saw, counting calls with no fault
 * @param method the call's full method name
 * @param fault the fault
 */
public record InjectedFault(long call, String method, Fault fault) {
}
