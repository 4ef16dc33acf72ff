package dev.shardopt.dsl;

/**
 * What a pipeline's parameter rules make of one named parameter.
 *
 * @param frozen the parameter never changes and counts nowhere, the clip norm included
 * @param weightDecay the weight decay it gets (0 under noDecay), coupled or decoupled as the rule says
 * @param lrScale the factor on {@code lr_t}, 1 unless an lrScale glob matches
 */
public record ParameterSettings(boolean frozen, double weightDecay, double lrScale) {}
