package dev.shardopt.engine.kernel;

/**
 * The vector reducer for ranges of at least {@code minVectorLength} elements, the plain loops for
 * shorter ones. Both give the same bits, so the switch changes only speed: until C2 has compiled
 * it, vector API code runs far slower than plain loops, and a model whose tensors are all short
 * (the README's 2,410-parameter MLP) never runs long enough to pay that back; with the vector
 * reducer for every range, `./shardopt train` took 9% longer (docs/benchmarks.md).
 */
final class LengthSwitchedLaneReducer implements LaneReducer {
  private final LaneReducer shortRanges;
  private final LaneReducer longRanges;
  private final int minVectorLength;

  LengthSwitchedLaneReducer(LaneReducer shortRanges, LaneReducer longRanges, int minVectorLength) {
    this.shortRanges = shortRanges;
    this.longRanges = longRanges;
    this.minVectorLength = minVectorLength;
  }

  @Override
  public String name() {
    return longRanges.name() + " (" + shortRanges.name() + " below " + minVectorLength + " elements)";
  }

  private LaneReducer forRange(int from, int to) {
    return to - from >= minVectorLength ? longRanges : shortRanges;
  }

  @Override
  public double sumOfSquares(float[] g, int from, int to) {
    return forRange(from, to).sumOfSquares(g, from, to);
  }

  @Override
  public double clampedSumOfSquares(float[] g, int from, int to, int clipBits) {
    return forRange(from, to).clampedSumOfSquares(g, from, to, clipBits);
  }

  @Override
  public boolean anyNonFinite(float[] g, int from, int to) {
    return forRange(from, to).anyNonFinite(g, from, to);
  }
}
