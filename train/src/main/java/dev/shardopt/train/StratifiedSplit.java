package dev.shardopt.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * A fixed, stratified train/test split: within each class the rows are shuffled with a seeded
 * {@link Random} and the first {@code round(n_c · testFraction)} go to the test set, so every class has
 * (up to rounding) the same share in both parts. The same labels, fraction and seed give the same split,
 * on any machine. Both index arrays are sorted.
 *
 * @param train the row indices of the training set, ascending
 * @param test  the row indices of the test set, ascending
 */
public record StratifiedSplit(int[] train, int[] test) {

  public StratifiedSplit {
    train = train.clone();
    test = test.clone();
  }

  /** Splits the rows of {@code labels} (classes {@code 0..max}), {@code testFraction} in (0, 1) for the test set. */
  public static StratifiedSplit of(int[] labels, double testFraction, long seed) {
    if (!(testFraction > 0 && testFraction < 1)) {
      throw new IllegalArgumentException("testFraction must be in (0, 1), got " + testFraction);
    }
    int classes = Arrays.stream(labels).max().orElse(-1) + 1;
    List<List<Integer>> byClass = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      byClass.add(new ArrayList<>());
    }
    for (int i = 0; i < labels.length; i++) {
      if (labels[i] < 0) {
        throw new IllegalArgumentException("label " + labels[i] + " at row " + i + " is negative");
      }
      byClass.get(labels[i]).add(i);
    }
    List<Integer> train = new ArrayList<>();
    List<Integer> test = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      List<Integer> rows = byClass.get(c);
      // one generator per class, so that a class's split does not depend on the others' sizes
      java.util.Collections.shuffle(rows, new Random(seed * 1_000_003L + c));
      int nTest = (int) Math.round(rows.size() * testFraction);
      test.addAll(rows.subList(0, nTest));
      train.addAll(rows.subList(nTest, rows.size()));
    }
    return new StratifiedSplit(
        train.stream().mapToInt(Integer::intValue).sorted().toArray(),
        test.stream().mapToInt(Integer::intValue).sorted().toArray());
  }

  @Override
  public int[] train() {
    return train.clone();
  }

  @Override
  public int[] test() {
    return test.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StratifiedSplit s && Arrays.equals(train, s.train) && Arrays.equals(test, s.test);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(train) + Arrays.hashCode(test);
  }

  @Override
  public String toString() {
    return "StratifiedSplit{train " + train.length + " rows, test " + test.length + " rows}";
  }
}
