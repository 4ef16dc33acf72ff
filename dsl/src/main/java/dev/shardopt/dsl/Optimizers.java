package dev.shardopt.dsl;

/**
 * Entry points of the DSL: {@code import static dev.shardopt.dsl.Optimizers.*;} then
 * {@code adam(1e-3).beta2(0.98).warmup(500).cosine(1e5).clipNorm(1.0).weightDecay(0.01)}.
 *
 * <p>Each factory returns a pipeline typed by its rule, so that the rule's hyperparameters
 * ({@code beta2}, {@code rho}, ...) complete right after it. Defaults match PyTorch.
 */
public final class Optimizers {
  private Optimizers() {}

  /** Plain SGD, lr 0.001. */
  public static Pipeline sgd() {
    return sgd(Rule.Sgd.DEFAULT_LR);
  }

  /** Plain SGD: {@code theta -= lr_t g}. */
  public static Pipeline sgd(double lr) {
    return new Pipeline(new Rule.Sgd(lr));
  }

  /** Heavy-ball momentum, lr 0.001, beta 0.9, dampening 0. */
  public static MomentumPipeline momentum() {
    return momentum(Rule.Momentum.DEFAULTS.lr());
  }

  public static MomentumPipeline momentum(double lr) {
    return new MomentumPipeline(new Pipeline.Builder(Rule.Momentum.DEFAULTS.withLr(lr)));
  }

  /** Nesterov momentum, lr 0.001, beta 0.9. */
  public static NesterovPipeline nesterov() {
    return nesterov(Rule.Nesterov.DEFAULTS.lr());
  }

  public static NesterovPipeline nesterov(double lr) {
    return new NesterovPipeline(new Pipeline.Builder(Rule.Nesterov.DEFAULTS.withLr(lr)));
  }

  /** AdaGrad, lr 0.01, eps 1e-10, initialAccumulator 0, lrDecay 0. */
  public static AdagradPipeline adagrad() {
    return adagrad(Rule.Adagrad.DEFAULTS.lr());
  }

  public static AdagradPipeline adagrad(double lr) {
    return new AdagradPipeline(new Pipeline.Builder(Rule.Adagrad.DEFAULTS.withLr(lr)));
  }

  /** RMSprop, lr 0.01, rho 0.99, eps 1e-8, momentum 0, not centered, eps outside the root. */
  public static RmspropPipeline rmsprop() {
    return rmsprop(Rule.Rmsprop.DEFAULTS.lr());
  }

  public static RmspropPipeline rmsprop(double lr) {
    return new RmspropPipeline(new Pipeline.Builder(Rule.Rmsprop.DEFAULTS.withLr(lr)));
  }

  /** Adam, lr 0.001, beta1 0.9, beta2 0.999, eps 1e-8. */
  public static AdamPipeline adam() {
    return adam(Rule.Adam.DEFAULTS.lr());
  }

  public static AdamPipeline adam(double lr) {
    return new AdamPipeline(new Pipeline.Builder(Rule.Adam.DEFAULTS.withLr(lr)));
  }

  /** AdamW, as Adam with decoupled weight decay 0.01. */
  public static AdamPipeline adamw() {
    return adamw(Rule.AdamW.DEFAULTS.lr());
  }

  public static AdamPipeline adamw(double lr) {
    return new AdamPipeline(new Pipeline.Builder(Rule.AdamW.DEFAULTS.withLr(lr)));
  }

  /** Lion, lr 0.0001, beta1 0.9, beta2 0.99, weight decay 0. */
  public static LionPipeline lion() {
    return lion(Rule.Lion.DEFAULTS.lr());
  }

  public static LionPipeline lion(double lr) {
    return new LionPipeline(new Pipeline.Builder(Rule.Lion.DEFAULTS.withLr(lr)));
  }
}
