package dev.shardopt.dsl;

/**
 * Entry points of the DSL: {@code import static dev.shardopt.dsl.Optimizers.*;} then
 * {@code adam(1e-3).beta2(0.98).warmup(500).cosine(1e5).clipNorm(1.0).weightDecay(0.01)}.
 *
 * <p>Each factory returns a pipeline typed by its rule, so that the rule's hyperparameters
 * ({@code beta2}, {@code rho}, ...) complete right after it. Defaults match PyTorch and are defined
 * in the rule's descriptor.
 */
public final class Optimizers {
  private Optimizers() {}

  /** Plain SGD, lr 0.001. */
  public static Pipeline sgd() {
    return RuleDescriptors.SGD.start();
  }

  /** Plain SGD: {@code theta -= lr_t g}. */
  public static Pipeline sgd(double lr) {
    return RuleDescriptors.SGD.start(lr);
  }

  /** Heavy-ball momentum, lr 0.001, beta 0.9, dampening 0. */
  public static MomentumPipeline momentum() {
    return RuleDescriptors.MOMENTUM.start();
  }

  public static MomentumPipeline momentum(double lr) {
    return RuleDescriptors.MOMENTUM.start(lr);
  }

  /** Nesterov momentum, lr 0.001, beta 0.9. */
  public static NesterovPipeline nesterov() {
    return RuleDescriptors.NESTEROV.start();
  }

  public static NesterovPipeline nesterov(double lr) {
    return RuleDescriptors.NESTEROV.start(lr);
  }

  /** AdaGrad, lr 0.01, eps 1e-10, initialAccumulator 0, lrDecay 0. */
  public static AdagradPipeline adagrad() {
    return RuleDescriptors.ADAGRAD.start();
  }

  public static AdagradPipeline adagrad(double lr) {
    return RuleDescriptors.ADAGRAD.start(lr);
  }

  /** RMSprop, lr 0.01, rho 0.99, eps 1e-8, momentum 0, not centered, eps outside the root. */
  public static RmspropPipeline rmsprop() {
    return RuleDescriptors.RMSPROP.start();
  }

  public static RmspropPipeline rmsprop(double lr) {
    return RuleDescriptors.RMSPROP.start(lr);
  }

  /** Adam, lr 0.001, beta1 0.9, beta2 0.999, eps 1e-8. */
  public static AdamPipeline adam() {
    return RuleDescriptors.ADAM.start();
  }

  public static AdamPipeline adam(double lr) {
    return RuleDescriptors.ADAM.start(lr);
  }

  /** AdamW, as Adam with decoupled weight decay 0.01. */
  public static AdamPipeline adamw() {
    return RuleDescriptors.ADAMW.start();
  }

  public static AdamPipeline adamw(double lr) {
    return RuleDescriptors.ADAMW.start(lr);
  }

  /** Lion, lr 0.0001, beta1 0.9, beta2 0.99, weight decay 0. */
  public static LionPipeline lion() {
    return RuleDescriptors.LION.start();
  }

  public static LionPipeline lion(double lr) {
    return RuleDescriptors.LION.start(lr);
  }
}
