package dev.shardopt.engine.device;

import java.util.Arrays;
import java.util.Objects;

/**
 * One update kernel's launch, as {@link KernelLaunches} derives it from an {@link
 * dev.shardopt.engine.kernel.UpdateKernel} and its {@link dev.shardopt.engine.kernel.StepScalars}.
 * The kernel's arguments are, in this order:
 *
 * <ol>
 *   <li>the parameter array, then the gradient array;
 *   <li>one state pointer per entry of {@code stateArgs}: {@code state[stateArgs[j]]}, or a null
 *       pointer where the entry is -1 (a slot this variant does not use);
 *   <li>{@code int n}, the number of elements;
 *   <li>the {@code floats}, in order, each a 32-bit float argument;
 *   <li>the {@code ints}, in order, each a 32-bit int argument (flags: 0 or 1).
 * </ol>
 *
 * The arrays are owned by this record and must not be changed.
 *
 * @param kernel the kernel's name in {@link KernelSource}
 * @param stateArgs for each state pointer argument, the index into the rule's state slots, or -1
 * @param floats the float scalars in argument order
 * @param ints the int scalars in argument order
 */
public record KernelLaunch(String kernel, int[] stateArgs, float[] floats, int[] ints) {

  public KernelLaunch {
    Objects.requireNonNull(kernel, "kernel");
    Objects.requireNonNull(stateArgs, "stateArgs");
    Objects.requireNonNull(floats, "floats");
    Objects.requireNonNull(ints, "ints");
  }

  @Override
  public String toString() {
    return kernel + "(state=" + Arrays.toString(stateArgs) + ", floats=" + Arrays.toString(floats)
        + ", ints=" + Arrays.toString(ints) + ")";
  }
}
