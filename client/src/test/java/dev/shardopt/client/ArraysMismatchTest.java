package dev.shardopt.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One order of mismatches for a gradient and for the arrays a pull fills: wrong length, unknown name, missing. */
class ArraysMismatchTest {
  private static final TensorInfo A = new TensorInfo("a", 0, new long[] {2}, 2);
  private static final TensorInfo B = new TensorInfo("b", 1, new long[] {3}, 3);
  private static final TensorInfo C = new TensorInfo("c", 2, new long[] {1}, 1);
  private static final List<TensorInfo> MODEL = List.of(A, B, C);

  private static Map<String, float[]> arrays(Object... nameAndLength) {
    Map<String, float[]> out = new LinkedHashMap<>();
    for (int i = 0; i < nameAndLength.length; i += 2) {
      out.put((String) nameAndLength[i], new float[(Integer) nameAndLength[i + 1]]);
    }
    return out;
  }

  @Test
  void matchingArraysHaveNoMismatch() {
    assertThat(ArraysMismatch.find(MODEL, arrays("c", 1, "a", 2, "b", 3))).isEmpty();
  }

  @Test
  void aWrongLengthComesFirstThenAnUnknownNameThenTheMissingTensors() {
    // every kind at once: the wrong length of b is the one reported
    ArraysMismatch all = ArraysMismatch.find(MODEL, arrays("b", 4, "z", 7)).orElseThrow();
    assertThat(all).isInstanceOfSatisfying(ArraysMismatch.WrongLength.class, w -> {
      assertThat(w.tensor()).isEqualTo(B);
      assertThat(w.length()).isEqualTo(4);
    });
    // no wrong length: the unknown name, before a and c are missed
    assertThat(ArraysMismatch.find(MODEL, arrays("b", 3, "z", 7)).orElseThrow())
        .isInstanceOfSatisfying(ArraysMismatch.Unknown.class, u -> {
          assertThat(u.name()).isEqualTo("z");
          assertThat(u.array()).hasSize(7);
        });
    // only missing tensors: all of them, in the model's order
    assertThat(ArraysMismatch.find(MODEL, arrays("b", 3)).orElseThrow())
        .isEqualTo(new ArraysMismatch.Missing(List.of(A, C)));
  }

  @Test
  void aNullArrayUnderAnUnknownNameIsReportedAsUnknown() {
    Map<String, float[]> in = arrays("a", 2, "b", 3, "c", 1);
    in.put("z", null);
    assertThat(ArraysMismatch.find(MODEL, in).orElseThrow())
        .isInstanceOfSatisfying(ArraysMismatch.Unknown.class, u -> assertThat(u.array()).isNull());
  }
}
