package dev.shardopt.dsl;

/**
 * The decay part of a learning-rate schedule, evaluated on {@code tau = t - W} once warmup is over.
 * See {@link LearningRateSchedule} for the formulas.
 */
public sealed interface Decay
    permits Decay.None, Decay.Cosine, Decay.StepDecay, Decay.ExponentialDecay, Decay.CosineRestarts {

  /** The DSL method name, e.g. {@code "cosine"}. */
  String name();

  /** No decay: {@code f = 1}. */
  record None() implements Decay {
    public static final None INSTANCE = new None();

    @Override
    public String name() {
      return "none";
    }
  }

  /** {@code p = min(tau/(T-W), 1)}; {@code lr_t = minLr + (lr - minLr)(1 + cos(pi p))/2}; T counts warmup. */
  record Cosine(long totalSteps, double minLr) implements Decay {
    public Cosine {
      Check.steps("totalSteps", totalSteps, 1);
      minLr = Check.nonNegative("minLr", minLr);
    }

    @Override
    public String name() {
      return "cosine";
    }
  }

  /** {@code f = gamma^floor(tau/every)}. */
  record StepDecay(long every, double gamma) implements Decay {
    public static final double DEFAULT_GAMMA = 0.1;

    public StepDecay {
      Check.steps("every", every, 1);
      gamma = Check.openClosed("gamma", gamma, 0, 1);
    }

    @Override
    public String name() {
      return "stepDecay";
    }
  }

  /** {@code f = gamma^tau}. */
  record ExponentialDecay(double gamma) implements Decay {
    public ExponentialDecay {
      gamma = Check.openClosed("gamma", gamma, 0, 1);
    }

    @Override
    public String name() {
      return "exponentialDecay";
    }
  }

  /**
   * torch's {@code CosineAnnealingWarmRestarts(T_0=period, T_mult=mult, eta_min=minLr)} after tau
   * calls to {@code step()}: integer cycle arithmetic, then {@code minLr + (lr-minLr)(1+cos(pi T_cur/T_i))/2}.
   */
  record CosineRestarts(long period, long mult, double minLr) implements Decay {
    public CosineRestarts {
      Check.steps("period", period, 1);
      Check.steps("mult", mult, 1);
      minLr = Check.nonNegative("minLr", minLr);
    }

    @Override
    public String name() {
      return "cosineRestarts";
    }
  }
}
