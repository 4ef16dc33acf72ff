package dev.shardopt.engine.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * Each rule against numbers derived by hand from its formula (the derivation is in the comments).
 * Inputs are chosen so that most intermediate values are exact in fp32; where they are not, the
 * expected value was worked out in decimal and compared with a small tolerance.
 */
class KernelRulesTest {

  private static final float TOL = 1e-6f;

  /** Applies one update to the whole array. */
  private static void step(UpdateKernel k, float[] p, float[] g, float[][] st, StepScalars s) {
    k.apply(p, g, st, 0, p.length, s);
  }

  @Nested
  class Sgd {
    @Test
    void plainSteps() {
      // p -= lr*g with lr = 0.5, g = [0.5, -1, 2, 0]: each step moves p by [-0.25, 0.5, -1, 0].
      SgdKernel k = new SgdKernel();
      assertThat(k.stateSlots()).isEmpty();
      float[] p = {1, 2, -3, 0};
      float[] g = {0.5f, -1, 2, 0};
      float[][] st = k.newState(p.length);
      step(k, p, g, st, StepScalars.of(1, 0.5));
      assertThat(p).containsExactly(0.75f, 2.5f, -4f, 0f);
      step(k, p, g, st, StepScalars.of(2, 0.5));
      assertThat(p).containsExactly(0.5f, 3f, -5f, 0f);
    }

    @Test
    void clipValueThenGradScaleThenCoupledDecay() {
      // g = [0.5, -3, 2, 0] clamped to +-1 -> [0.5, -1, 1, 0]; * gradScale 0.5 -> [0.25, -0.5, 0.5, 0];
      // + coupledDecay 0.25 * p, p = [1, 2, -4, 0] -> + [0.25, 0.5, -1, 0] = [0.5, 0, -0.5, 0];
      // lr = 1: p = [0.5, 2, -3.5, 0].
      SgdKernel k = new SgdKernel();
      float[] p = {1, 2, -4, 0};
      float[] g = {0.5f, -3, 2, 0};
      StepScalars s = new StepScalars(1, 1.0, 1f, 0.5f, 0.25f, 0d);
      step(k, p, g, k.newState(4), s);
      assertThat(p).containsExactly(0.5f, 2f, -3.5f, 0f);
      assertThat(g).as("the gradient is never written").containsExactly(0.5f, -3, 2, 0);
    }

    @Test
    void onlyTheRangeIsTouched() {
      SgdKernel k = new SgdKernel();
      float[] p = {1, 1, 1, 1};
      float[] g = {1, 1, 1, 1};
      k.apply(p, g, new float[0][], 1, 3, StepScalars.of(1, 1));
      assertThat(p).containsExactly(1f, 0f, 0f, 1f);
    }

    @Test
    void rejectsDecoupledDecayAndBadArrays() {
      SgdKernel k = new SgdKernel();
      float[] p = new float[4];
      assertThatThrownBy(() -> k.apply(p, new float[4], new float[0][], 0, 4,
          StepScalars.of(1, 1).withDecoupledDecay(0.1)))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("decoupled");
      assertThatThrownBy(() -> k.apply(p, new float[3], new float[0][], 0, 3, StepScalars.of(1, 1)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> k.apply(p, new float[4], new float[1][], 0, 4, StepScalars.of(1, 1)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> k.apply(p, new float[4], new float[0][], 2, 5, StepScalars.of(1, 1)))
          .isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Nested
  class Momentum {
    @Test
    void firstStepTakesTheGradientUndamped() {
      // beta = 0.5, dampening = 0.5, lr = 1, p0 = 0.
      // k=1: b = g1 = [1, -2, 4] (no dampening on the first step); p = -b = [-1, 2, -4].
      // k=2: g2 = [3, 0, -4]; b = 0.5*[1,-2,4] + 0.5*[3,0,-4] = [2, -1, 0]; p = [-3, 3, -4].
      // k=3: g3 = 0; b = 0.5*[2,-1,0] = [1, -0.5, 0]; p = [-4, 3.5, -4].
      MomentumKernel k = new MomentumKernel(0.5, 0.5);
      assertThat(k.stateSlots()).containsExactly("momentum_buffer");
      float[] p = new float[3];
      float[][] st = k.newState(3);
      step(k, p, new float[] {1, -2, 4}, st, StepScalars.of(1, 1));
      assertThat(st[0]).containsExactly(1f, -2f, 4f);
      assertThat(p).containsExactly(-1f, 2f, -4f);
      step(k, p, new float[] {3, 0, -4}, st, StepScalars.of(2, 1));
      assertThat(st[0]).containsExactly(2f, -1f, 0f);
      assertThat(p).containsExactly(-3f, 3f, -4f);
      step(k, p, new float[] {0, 0, 0}, st, StepScalars.of(3, 1));
      assertThat(st[0]).containsExactly(1f, -0.5f, 0f);
      assertThat(p).containsExactly(-4f, 3.5f, -4f);
    }

    @Test
    void firstStepOverwritesAnyStaleBuffer() {
      // k == 1 sets b = g whatever the buffer held.
      MomentumKernel k = new MomentumKernel(0.9, 0);
      float[] p = {0};
      float[][] st = {{100f}};
      step(k, p, new float[] {2}, st, StepScalars.of(1, 0.5));
      assertThat(st[0]).containsExactly(2f);
      assertThat(p).containsExactly(-1f);
    }

    @Test
    void rejectsBadHyperparameters() {
      assertThatThrownBy(() -> new MomentumKernel(-0.1, 0)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> new MomentumKernel(0.9, 1.5)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> new MomentumKernel(Double.NaN, 0)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Nested
  class Nesterov {
    @Test
    void steps() {
      // beta = 0.5, lr = 1, p0 = 0.
      // k=1: b = g1 = [1, -2, 4]; p -= g + 0.5*b = 1.5*g -> p = [-1.5, 3, -6].
      // k=2: g2 = [2, 2, 0]; b = 0.5*[1,-2,4] + [2,2,0] = [2.5, 1, 2];
      //      p -= g2 + 0.5*b = [3.25, 2.5, 1] -> p = [-4.75, 0.5, -7].
      NesterovKernel k = new NesterovKernel(0.5);
      assertThat(k.stateSlots()).containsExactly("momentum_buffer");
      float[] p = new float[3];
      float[][] st = k.newState(3);
      step(k, p, new float[] {1, -2, 4}, st, StepScalars.of(1, 1));
      assertThat(st[0]).containsExactly(1f, -2f, 4f);
      assertThat(p).containsExactly(-1.5f, 3f, -6f);
      step(k, p, new float[] {2, 2, 0}, st, StepScalars.of(2, 1));
      assertThat(st[0]).containsExactly(2.5f, 1f, 2f);
      assertThat(p).containsExactly(-4.75f, 0.5f, -7f);
    }
  }

  @Nested
  class Adagrad {
    @Test
    void initialAccumulatorAndLrDecay() {
      // eps = 0, initialAccumulator = 12, lrDecay = 1, lr = 1, p0 = 0.
      // k=1: clr = 1/(1+0) = 1; G = 12 + g1^2, g1 = [2, -2, 0] -> G = [16, 16, 12];
      //      p -= g/sqrt(G) = [0.5, -0.5, 0] -> p = [-0.5, 0.5, 0].
      // k=2: clr = 1/(1+1*1) = 0.5; g2 = [3, 0, 2] -> G = [25, 16, 16];
      //      p -= 0.5*[3/5, 0, 2/4] = [0.3, 0, 0.25] -> p = [-0.8, 0.5, -0.25].
      // k=3: clr = 1/(1+2) = 1/3; g3 = [0, 4, 0] -> G = [25, 32, 16];
      //      p -= [0, 4/sqrt(32)/3 = 0.23570226, 0] -> p = [-0.8, 0.26429774, -0.25].
      AdagradKernel k = new AdagradKernel(0, 12, 1);
      assertThat(k.stateSlots()).containsExactly("sum");
      assertThat(k.initialValue(0)).isEqualTo(12f);
      float[] p = new float[3];
      float[][] st = k.newState(3);
      assertThat(st[0]).containsExactly(12f, 12f, 12f);
      step(k, p, new float[] {2, -2, 0}, st, StepScalars.of(1, 1));
      assertThat(st[0]).containsExactly(16f, 16f, 12f);
      assertThat(p).containsExactly(-0.5f, 0.5f, 0f);
      step(k, p, new float[] {3, 0, 2}, st, StepScalars.of(2, 1));
      assertThat(st[0]).containsExactly(25f, 16f, 16f);
      assertThat(p).containsExactly(new float[] {-0.8f, 0.5f, -0.25f}, within(TOL));
      step(k, p, new float[] {0, 4, 0}, st, StepScalars.of(3, 1));
      assertThat(st[0]).containsExactly(25f, 32f, 16f);
      assertThat(p).containsExactly(new float[] {-0.8f, 0.26429774f, -0.25f}, within(TOL));
    }

    @Test
    void epsIsAddedOutsideTheRoot() {
      // eps = 1, G0 = 0, g = 3: G = 9, p -= 3/(3+1) = 0.75.
      AdagradKernel k = new AdagradKernel(1, 0, 0);
      float[] p = {0};
      step(k, p, new float[] {3}, k.newState(1), StepScalars.of(1, 1));
      assertThat(p).containsExactly(-0.75f);
    }
  }

  @Nested
  class Rmsprop {
    @Test
    void plain() {
      // rho = 0.5, eps = 0, lr = 1, p0 = 0.
      // k=1: g1 = [2, -4, 1]; v = 0.5*g^2 = [2, 8, 0.5]; p -= g/sqrt(v) = sqrt(2)*sign(g)
      //      -> p = [-1.41421356, 1.41421356, -1.41421356].
      // k=2: g2 = [2, 0, -1]; v = 0.5*v + 0.5*g^2 = [3, 4, 0.75];
      //      p -= [2/sqrt(3) = 1.15470054, 0, -1/sqrt(0.75) = -1.15470054]
      //      -> p = [-2.56891410, 1.41421356, -0.25951302].
      RmspropKernel k = new RmspropKernel(0.5, 0, 0, false, false);
      assertThat(k.stateSlots()).containsExactly("square_avg");
      float[] p = new float[3];
      float[][] st = k.newState(3);
      step(k, p, new float[] {2, -4, 1}, st, StepScalars.of(1, 1));
      assertThat(st[0]).containsExactly(2f, 8f, 0.5f);
      assertThat(p).containsExactly(new float[] {-1.41421356f, 1.41421356f, -1.41421356f}, within(TOL));
      step(k, p, new float[] {2, 0, -1}, st, StepScalars.of(2, 1));
      assertThat(st[0]).containsExactly(3f, 4f, 0.75f);
      assertThat(p).containsExactly(new float[] {-2.56891410f, 1.41421356f, -0.25951302f}, within(TOL));
    }

    @Test
    void epsInsideOrOutsideTheRoot() {
      // rho = 0.5, eps = 1, g = 2: v = 0.5*4 = 2.
      // outside: den = sqrt(2) + 1 = 2.41421356 -> p = -2/2.41421356 = -0.82842712.
      // inside:  den = sqrt(2 + 1) = 1.73205081 -> p = -2/1.73205081 = -1.15470054.
      RmspropKernel outside = new RmspropKernel(0.5, 1, 0, false, false);
      RmspropKernel inside = new RmspropKernel(0.5, 1, 0, false, true);
      float[] p1 = {0};
      float[] p2 = {0};
      step(outside, p1, new float[] {2}, outside.newState(1), StepScalars.of(1, 1));
      step(inside, p2, new float[] {2}, inside.newState(1), StepScalars.of(1, 1));
      assertThat(p1[0]).isCloseTo(-0.82842712f, within(TOL));
      assertThat(p2[0]).isCloseTo(-1.15470054f, within(TOL));
    }

    @Test
    void centered() {
      // rho = 0.5, eps = 0, lr = 1, p0 = 0.
      // k=1: g1 = [2, -4]; v = [2, 8]; a = 0.5*g = [1, -2]; d = v - a^2 = [1, 4]; den = [1, 2];
      //      p -= g/den = [2, -2] -> p = [-2, 2].
      // k=2: g2 = [2, 0]; v = [1+2, 4+0] = [3, 4]; a = [0.5+1, -1+0] = [1.5, -1];
      //      d = [3 - 2.25, 4 - 1] = [0.75, 3]; p -= [2/sqrt(0.75) = 2.30940108, 0]
      //      -> p = [-4.30940108, 2].
      RmspropKernel k = new RmspropKernel(0.5, 0, 0, true, false);
      assertThat(k.stateSlots()).containsExactly("square_avg", "grad_avg");
      float[] p = new float[2];
      float[][] st = k.newState(2);
      step(k, p, new float[] {2, -4}, st, StepScalars.of(1, 1));
      assertThat(st[1]).containsExactly(1f, -2f);
      assertThat(p).containsExactly(-2f, 2f);
      step(k, p, new float[] {2, 0}, st, StepScalars.of(2, 1));
      assertThat(st[0]).containsExactly(3f, 4f);
      assertThat(st[1]).containsExactly(1.5f, -1f);
      assertThat(p).containsExactly(new float[] {-4.30940108f, 2f}, within(TOL));
    }

    @Test
    void centeredWithMomentum() {
      // As centered(), plus momentum 0.5: buf = 0.5*buf + g/den; p -= lr*buf.
      // k=1: g/den = [2, -2] -> buf = [2, -2], p = [-2, 2].
      // k=2: g/den = [2.30940108, 0] -> buf = [1 + 2.30940108, -1 + 0] = [3.30940108, -1]
      //      -> p = [-5.30940108, 3].
      RmspropKernel k = new RmspropKernel(0.5, 0, 0.5, true, false);
      assertThat(k.stateSlots()).containsExactly("square_avg", "grad_avg", "momentum_buffer");
      float[] p = new float[2];
      float[][] st = k.newState(2);
      step(k, p, new float[] {2, -4}, st, StepScalars.of(1, 1));
      assertThat(st[2]).containsExactly(2f, -2f);
      assertThat(p).containsExactly(-2f, 2f);
      step(k, p, new float[] {2, 0}, st, StepScalars.of(2, 1));
      assertThat(st[2]).containsExactly(new float[] {3.30940108f, -1f}, within(TOL));
      assertThat(p).containsExactly(new float[] {-5.30940108f, 3f}, within(TOL));
    }

    @Test
    void plainWithMomentum() {
      // rho = 0.5, eps = 0, momentum = 0.5, lr = 0.5, g = 2 twice.
      // k=1: v = 2, g/den = 2/sqrt(2) = 1.41421356; buf = 1.41421356; p = -0.70710678.
      // k=2: v = 1 + 2 = 3, g/den = 2/sqrt(3) = 1.15470054; buf = 0.70710678 + 1.15470054 = 1.86180732;
      //      p = -0.70710678 - 0.93090366 = -1.63801044.
      RmspropKernel k = new RmspropKernel(0.5, 0, 0.5, false, false);
      assertThat(k.stateSlots()).containsExactly("square_avg", "momentum_buffer");
      float[] p = {0};
      float[][] st = k.newState(1);
      step(k, p, new float[] {2}, st, StepScalars.of(1, 0.5));
      assertThat(p[0]).isCloseTo(-0.70710678f, within(TOL));
      step(k, p, new float[] {2}, st, StepScalars.of(2, 0.5));
      assertThat(st[1][0]).isCloseTo(1.86180732f, within(TOL));
      assertThat(p[0]).isCloseTo(-1.63801044f, within(TOL));
    }
  }

  @Nested
  class Adam {
    @Test
    void firstStepsMoveByLrTimesSignForAConstantGradient() {
      // b1 = 0.9, b2 = 0.999, eps = 1e-8, lr = 0.1, constant g.
      // After k steps from zero state m = (1-b1^k) g and v = (1-b2^k) g^2, so the bias-corrected
      // m/(1-b1^k) = g and sqrt(v/(1-b2^k)) = |g|: each step moves p by lr*g/(|g|+eps) = lr*sign(g)
      // (g = 0 gives m = 0 and no move). Three steps: p = p0 - 0.3*sign(g).
      AdamKernel k = new AdamKernel(0.9, 0.999, 1e-8, false, false);
      assertThat(k.stateSlots()).containsExactly("exp_avg", "exp_avg_sq");
      float[] p = {1, 1, 1, 1};
      float[] g = {1, -2, 0.5f, 0};
      float[][] st = k.newState(4);
      step(k, p, g, st, StepScalars.of(1, 0.1));
      assertThat(p).containsExactly(new float[] {0.9f, 1.1f, 0.9f, 1f}, within(1e-5f));
      step(k, p, g, st, StepScalars.of(2, 0.1));
      step(k, p, g, st, StepScalars.of(3, 0.1));
      assertThat(p).containsExactly(new float[] {0.7f, 1.3f, 0.7f, 1f}, within(1e-5f));
    }

    @Test
    void varyingGradient() {
      // b1 = 0.5, b2 = 0.75, eps = 0, lr = 1, p0 = 0.
      // k=1: g = [1, -2, 4]; m = 0.5g = [0.5, -1, 2]; v = 0.25g^2 = [0.25, 1, 4];
      //      stepSize = 1/(1-0.5) = 2; bc2 = sqrt(1-0.75) = 0.5; denom = sqrt(v)/0.5 = [1, 2, 4];
      //      p -= 2*m/denom = [1, -1, 1] -> p = [-1, 1, -1].
      // k=2: g = [3, 0, -4]; m = 0.5m + 0.5g = [1.75, -0.5, -1];
      //      v = 0.75v + 0.25g^2 = [2.4375, 0.75, 7]; stepSize = 1/0.75; bc2 = sqrt(1-0.5625);
      //      update = stepSize*m/(sqrt(v)/bc2) = [0.98853830, -0.50917508, -0.33333333]
      //      -> p = [-1.98853830, 1.50917508, -0.66666667].
      // k=3: g = [0, 1, 0]; m = [0.875, 0.25, -0.5]; v = [1.828125, 0.8125, 5.25];
      //      stepSize = 1/(1-0.125) = 1/0.875; bc2 = sqrt(1-0.421875) = sqrt(0.578125);
      //      update = [0.56235159, 0.24100783, -0.18962394]
      //      -> p = [-2.55088990, 1.26816725, -0.47704272].
      AdamKernel k = new AdamKernel(0.5, 0.75, 0, false, false);
      float[] p = new float[3];
      float[][] st = k.newState(3);
      step(k, p, new float[] {1, -2, 4}, st, StepScalars.of(1, 1));
      assertThat(st[0]).containsExactly(0.5f, -1f, 2f);
      assertThat(st[1]).containsExactly(0.25f, 1f, 4f);
      assertThat(p).containsExactly(-1f, 1f, -1f);
      step(k, p, new float[] {3, 0, -4}, st, StepScalars.of(2, 1));
      assertThat(st[0]).containsExactly(1.75f, -0.5f, -1f);
      assertThat(st[1]).containsExactly(2.4375f, 0.75f, 7f);
      assertThat(p).containsExactly(new float[] {-1.98853830f, 1.50917508f, -0.66666667f}, within(TOL));
      step(k, p, new float[] {0, 1, 0}, st, StepScalars.of(3, 1));
      assertThat(st[0]).containsExactly(0.875f, 0.25f, -0.5f);
      assertThat(st[1]).containsExactly(1.828125f, 0.8125f, 5.25f);
      assertThat(p).containsExactly(new float[] {-2.55088990f, 1.26816725f, -0.47704272f}, within(TOL));
    }

    @Test
    void epsIsAddedAfterTheBiasCorrection() {
      // b1 = 0.5, b2 = 0.75, eps = 1, lr = 1, g = 2, k = 1: m = 1, v = 1, stepSize = 2, bc2 = 0.5;
      // PyTorch: denom = sqrt(1)/0.5 + 1 = 3 -> p = -2/3.
      // (ND4J's epsilon-hat form, lr*sqrt(1-b2)/(1-b1) * m/(sqrt(v)+eps) = 0.5*2*1/2, would give -0.5.)
      AdamKernel k = new AdamKernel(0.5, 0.75, 1, false, false);
      float[] p = {0};
      step(k, p, new float[] {2}, k.newState(1), StepScalars.of(1, 1));
      assertThat(p[0]).isCloseTo(-0.6666667f, within(TOL));
    }

    @Test
    void amsgradUsesTheRunningMax() {
      // b1 = 0.5, b2 = 0.5, eps = 0, lr = 1, p0 = 0.
      // k=1: g = 4; m = 2; v = 8; vmax = 8; stepSize = 2; bc2 = sqrt(0.5);
      //      denom = sqrt(8)/sqrt(0.5) = 4; p -= 2*2/4 = 1 -> p = -1.
      // k=2: g = 0; m = 1; v = 4 but vmax stays 8; stepSize = 1/0.75; bc2 = sqrt(0.75);
      //      denom = sqrt(8)/sqrt(0.75) = 3.26598632; p -= 1.33333333/3.26598632 = 0.40824829
      //      -> p = -1.40824829. Plain Adam would use v = 4: denom = 2.30940108, p = -1.57735027.
      AdamKernel ams = new AdamKernel(0.5, 0.5, 0, true, false);
      AdamKernel plain = new AdamKernel(0.5, 0.5, 0, false, false);
      assertThat(ams.stateSlots()).containsExactly("exp_avg", "exp_avg_sq", "max_exp_avg_sq");
      float[] p = {0};
      float[] q = {0};
      float[][] st = ams.newState(1);
      float[][] sq = plain.newState(1);
      step(ams, p, new float[] {4}, st, StepScalars.of(1, 1));
      step(plain, q, new float[] {4}, sq, StepScalars.of(1, 1));
      assertThat(p).containsExactly(-1f);
      assertThat(st[2]).containsExactly(8f);
      step(ams, p, new float[] {0}, st, StepScalars.of(2, 1));
      step(plain, q, new float[] {0}, sq, StepScalars.of(2, 1));
      assertThat(st[1]).containsExactly(4f);
      assertThat(st[2]).containsExactly(8f);
      assertThat(p[0]).isCloseTo(-1.40824829f, within(TOL));
      assertThat(q[0]).isCloseTo(-1.57735027f, within(TOL));
    }

    @Test
    void coupledDecayFeedsTheMoments() {
      // b1 = 0.5, b2 = 0.75, eps = 0, lr = 1, coupledDecay = 0.5, p0 = [2, -2, 0], g = [0, 0, 1]:
      // g' = g + 0.5p = [1, -1, 1]. With these betas the first step moves by exactly sign(g')
      // (m = 0.5g', denom = 0.5|g'|/0.5 = |g'|, update = 2*0.5g'/|g'|) -> p = [1, -1, -1].
      AdamKernel k = new AdamKernel(0.5, 0.75, 0, false, false);
      float[] p = {2, -2, 0};
      float[][] st = k.newState(3);
      step(k, p, new float[] {0, 0, 1}, st, StepScalars.of(1, 1).withCoupledDecay(0.5f));
      assertThat(st[0]).containsExactly(0.5f, -0.5f, 0.5f);
      assertThat(p).containsExactly(1f, -1f, -1f);
    }

    @Test
    void adamWScalesTheParameterFirst() {
      // AdamW, b1 = 0.5, b2 = 0.75, eps = 0, lr = 1, decoupledDecay = 0.5, p0 = [2, 2, 2],
      // g = [1, -2, 4]: p *= 1 - 1*0.5 -> [1, 1, 1]; the Adam update is [1, -1, 1] (varyingGradient's
      // first step) -> p = [0, 2, 0].
      AdamKernel k = new AdamKernel(0.5, 0.75, 0, false, true);
      float[] p = {2, 2, 2};
      step(k, p, new float[] {1, -2, 4}, k.newState(3), StepScalars.of(1, 1).withDecoupledDecay(0.5));
      assertThat(p).containsExactly(0f, 2f, 0f);
    }

    @Test
    void amsgradWithDecoupledDecay() {
      // As amsgradUsesTheRunningMax's first step with decoupledDecay 0.25, lr = 1, p0 = 4:
      // p = 4*(1 - 0.25) - 1 = 2.
      AdamKernel k = new AdamKernel(0.5, 0.5, 0, true, true);
      float[] p = {4};
      step(k, p, new float[] {4}, k.newState(1), StepScalars.of(1, 1).withDecoupledDecay(0.25));
      assertThat(p).containsExactly(2f);
    }

    @Test
    void coupledAdamRejectsDecoupledDecay() {
      AdamKernel k = new AdamKernel(0.9, 0.999, 1e-8, false, false);
      assertThatThrownBy(() -> step(k, new float[1], new float[1], k.newState(1),
          StepScalars.of(1, 1).withDecoupledDecay(0.01)))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> new AdamKernel(1.0, 0.999, 1e-8, false, false))
          .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void clipAppliesBeforeTheMoments() {
      // clipValue 1, gradScale 0.5: g = [10, -10] -> [1, -1] -> [0.5, -0.5]; b1 = 0.5 -> m = [0.25, -0.25].
      AdamKernel k = new AdamKernel(0.5, 0.75, 0, false, false);
      float[] p = {0, 0};
      float[][] st = k.newState(2);
      step(k, p, new float[] {10, -10}, st, new StepScalars(1, 1, 1f, 0.5f, 0f, 0d));
      assertThat(st[0]).containsExactly(0.25f, -0.25f);
      assertThat(st[1]).containsExactly(0.0625f, 0.0625f);
    }
  }

  @Nested
  class Lion {
    @Test
    void steps() {
      // b1 = 0.5, b2 = 0.75, lr = 0.5, m0 = 0, p0 = [1, 1, 1, -1].
      // k=1: g = [2, -1, 0, 0]; c = 0.5g = [1, -0.5, 0, 0]; sign = [1, -1, 0, 0] (sign(0) = 0)
      //      -> p = [0.5, 1.5, 1, -1]; m = 0.25g = [0.5, -0.25, 0, 0].
      // k=2: g = [-0.5, -1, 0, 3]; c = 0.5m + 0.5g = [0, -0.625, 0, 1.5] (element 0 cancels to 0)
      //      -> sign = [0, -1, 0, 1], p = [0.5, 2, 1, -1.5];
      //      m = 0.75m + 0.25g = [0.25, -0.4375, 0, 0.75].
      // k=3: g = 0, decoupledDecay = 0.5: p *= 1 - 0.5*0.5 = 0.75 -> [0.375, 1.5, 0.75, -1.125];
      //      c = 0.5m = [0.125, -0.21875, 0, 0.375], sign = [1, -1, 0, 1]
      //      -> p = [-0.125, 2, 0.75, -1.625]; m = 0.75m = [0.1875, -0.328125, 0, 0.5625].
      LionKernel k = new LionKernel(0.5, 0.75);
      assertThat(k.stateSlots()).containsExactly("exp_avg");
      float[] p = {1, 1, 1, -1};
      float[][] st = k.newState(4);
      step(k, p, new float[] {2, -1, 0, 0}, st, StepScalars.of(1, 0.5));
      assertThat(p).containsExactly(0.5f, 1.5f, 1f, -1f);
      assertThat(st[0]).containsExactly(0.5f, -0.25f, 0f, 0f);
      step(k, p, new float[] {-0.5f, -1, 0, 3}, st, StepScalars.of(2, 0.5));
      assertThat(p).containsExactly(0.5f, 2f, 1f, -1.5f);
      assertThat(st[0]).containsExactly(0.25f, -0.4375f, 0f, 0.75f);
      step(k, p, new float[] {0, 0, 0, 0}, st, StepScalars.of(3, 0.5).withDecoupledDecay(0.5));
      assertThat(p).containsExactly(-0.125f, 2f, 0.75f, -1.625f);
      assertThat(st[0]).containsExactly(0.1875f, -0.328125f, 0f, 0.5625f);
    }

    @Test
    void signOfTinyAndSpecialValues() {
      // sign(c) is +-1 for any nonzero c, however small: b1 = 0 makes c = g.
      LionKernel k = new LionKernel(0, 0);
      float[] g = {Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, Float.NEGATIVE_INFINITY, 0f, -0f};
      float[] p = new float[g.length];
      step(k, p, g, k.newState(g.length), StepScalars.of(1, 1));
      assertThat(p).containsExactly(-1f, 1f, -1f, 1f, 0f, 0f);
      float[] nan = {0};
      step(k, nan, new float[] {Float.NaN}, k.newState(1), StepScalars.of(1, 1));
      assertThat(nan[0]).isNaN();
    }
  }

  @Test
  void neutralScalarsAreExactNoOps() {
    // clipValue = +inf, gradScale = 1, coupledDecay = 0 leave finite gradients bitwise unchanged:
    // SGD with lr = 1 on p = 0 gives exactly -g.
    SgdKernel k = new SgdKernel();
    float[] g = {1e-30f, -3.4e38f, 0.1f, Float.MIN_VALUE, 12345.678f};
    float[] p = new float[g.length];
    step(k, p, g, k.newState(g.length), StepScalars.of(1, 1));
    for (int i = 0; i < g.length; i++) {
      assertThat(p[i]).isEqualTo(-g[i]);
    }
  }

  @Test
  void stepScalarsValidation() {
    assertThatThrownBy(() -> StepScalars.of(0, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StepScalars.of(1, Double.NaN)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new StepScalars(1, 1, 0f, 1f, 0f, 0d)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new StepScalars(1, 1, Float.NaN, 1f, 0f, 0d)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new StepScalars(1, 1, 1f, -1f, 0f, 0d)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new StepScalars(1, 1, 1f, 1f, Float.POSITIVE_INFINITY, 0d)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new StepScalars(1, 1, 1f, 1f, 0f, Double.NaN)).isInstanceOf(IllegalArgumentException.class);
    StepScalars s = StepScalars.of(3, 0.01);
    assertThat(s.clipValue()).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(s.gradScale()).isEqualTo(1f);
    assertThat(s.coupledDecay()).isZero();
    assertThat(s.decoupledDecay()).isZero();
    assertThat(s.withDecoupledDecay(0.1).decoupledFactor()).isEqualTo((float) (1 - 0.01 * 0.1));
  }
}
