package dev.shardopt.train;

import dev.shardopt.client.ModelOptions;
import dev.shardopt.client.RemoteModel;
import dev.shardopt.client.ShardoptCluster;
import dev.shardopt.client.StepMetric;
import dev.shardopt.client.Trainer;
import dev.shardopt.client.nd4j.NdTrainer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Synchronous data-parallel training of {@link MlpWithBatchNorm} on the digits through a Shardopt cluster.
 *
 * <p>{@link #train} creates a SYNC model with K trainers whose tensors the servers initialize (seeded), and
 * runs K trainer threads. Each step {@code s}, trainer {@code r}: pulls the parameters of version {@code s}
 * (waiting until every trainer has pushed step {@code s-1}), sets them into its own SameDiff graph, computes
 * the loss and gradients of its slice of the step's global batch ({@link BatchOrder#slice}), folds the
 * slice's batch statistics into its own {@link BatchNormStatistics}, and pushes its gradient of step
 * {@code s}. The workers average the K gradients, the coordinator decides clipping and the learning rate,
 * and the workers apply the pipeline. The step's loss is the mean of the K slice losses.
 *
 * <p><b>Batch-norm statistics</b> stay in the trainers (one {@link BatchNormStatistics} each; see that class
 * for why); trainer 0 evaluates the test accuracy every {@code evalEvery} steps and after the last step with
 * the parameters it just pulled and its own running statistics.
 *
 * <p>The model is deleted from the cluster at the end, also when training fails. A failing trainer stops
 * the others (their blocked pulls are cancelled by interruption). A NaN or infinite loss or gradient ends
 * the run with a {@link TrainingDivergedException}, unless the pipeline has {@code skipNonFinite()} (then
 * the server skips the step).
 */
public final class DataParallelTrainer {

  /** Observes a run; called on the thread that called {@link #train}. */
  @FunctionalInterface
  public interface Listener {
    /** About every {@link #PROGRESS_MILLIS} ms while training, and once at the end. */
    void onProgress(Progress progress);
  }

  /**
   * A run's state at a moment.
   *
   * @param completed    steps every trainer has finished
   * @param total        steps of the run
   * @param recentLoss   the mean loss of the last (up to 20) completed steps, NaN before the first
   * @param gradientNorm the latest step's global gradient norm before clipping, from the coordinator (NaN
   *                     if none yet)
   * @param learningRate the latest step's learning rate (NaN if none yet)
   */
  public record Progress(int completed, int total, double recentLoss, double gradientNorm, double learningRate) {}

  public static final long PROGRESS_MILLIS = 200;
  private static final int RECENT = 20;

  private final DigitsData data;
  private final StratifiedSplit split;

  public DataParallelTrainer(DigitsData data, StratifiedSplit split) {
    this.data = Objects.requireNonNull(data, "data");
    this.split = Objects.requireNonNull(split, "split");
  }

  /** The data, split with {@code config}'s test fraction and seed. */
  public static DataParallelTrainer forDigits(DigitsData data, TrainingConfig config) {
    return new DataParallelTrainer(data, StratifiedSplit.of(data.labels(), config.testFraction(), config.seed()));
  }

  public StratifiedSplit split() {
    return split;
  }

  /** A fresh model id, {@code <prefix>-<8 hex digits>}, for a model that must not clash with others. */
  public static String freshModelId(String prefix) {
    return prefix + "-" + String.format("%08x", ThreadLocalRandom.current().nextInt());
  }

  /** Trains a new model {@code modelId} on {@code cluster} as {@code config} says; see the class comment. */
  public TrainingReport train(ShardoptCluster cluster, String modelId, TrainingConfig config, Listener listener)
      throws InterruptedException {
    return train(cluster, modelId, config, listener, null, null);
  }

  /**
   * As {@link #train(ShardoptCluster, String, TrainingConfig, Listener)}, continuing from {@code from} when
   * not null (the model restored from its checkpoint, the trainers from its {@link TrainerState}: bitwise
   * the run that never stopped, on any number of workers), and taking checkpoints as {@code checkpoints}
   * says when not null ({@link PeriodicCheckpoints}).
   *
   * @throws NotResumableException when {@code from} is not of this run's model, pipeline or trainers, or a
   *     fresh run's checkpoint directory already holds checkpoints
   */
  public TrainingReport train(ShardoptCluster cluster, String modelId, TrainingConfig config, Listener listener,
      PeriodicCheckpoints.Resumable from, PeriodicCheckpoints.Policy checkpoints) throws InterruptedException {
    Objects.requireNonNull(listener, "listener");
    int k = config.trainers();
    if (config.batch() > split.train().length) {
      throw new IllegalArgumentException("batch " + config.batch() + " is larger than the training set ("
          + split.train().length + " rows)");
    }
    if (from != null) {
      from.state().mismatch(config).ifPresent(why -> {
        throw new NotResumableException("cannot resume from " + from.checkpoint() + ": " + why);
      });
    }
    if (checkpoints != null) {
      PeriodicCheckpoints.prepare(checkpoints.dir(), from == null ? 0 : from.state().step(), checkpoints.log());
    }
    long setupStart = System.nanoTime();
    // the model first: an unreachable or refusing cluster fails before ND4J loads
    RemoteModel model = from != null ? cluster.restoreModel(modelId, from.checkpoint())
        : cluster.createModel(ModelOptions.named(modelId)
            .pipeline(config.pipeline())
            .trainers(k)
            .replicas(config.replicas())
            .sync()
            .tensors(MlpWithBatchNorm.tensorDefs(config.hidden(), config.seed())));
    try {
      if (from != null) {
        checkRestored(model, from, config);
      }
      List<MlpWithBatchNorm> graphs = new ArrayList<>();
      for (int r = 0; r < k; r++) {
        graphs.add(new MlpWithBatchNorm(config.hidden()));
      }
      double setupSeconds = (System.nanoTime() - setupStart) / 1e9;
      return run(model, config, graphs, listener, setupSeconds, from == null ? null : from.state(), checkpoints);
    } finally {
      try {
        model.delete();
      } catch (RuntimeException e) {
        // best effort: the run's outcome matters more than the clean-up
      }
    }
  }

  /** The restored model must be the one {@code config} trains, at the trainer state's step. */
  private static void checkRestored(RemoteModel model, PeriodicCheckpoints.Resumable from, TrainingConfig config) {
    String at = "cannot resume from " + from.checkpoint() + ": ";
    List<String> want = new ArrayList<>();
    MlpWithBatchNorm.shapes(config.hidden()).forEach((name, shape) -> want.add(name + Arrays.toString(shape)));
    List<String> got = model.tensors().stream()
        .map(t -> t.getName() + Arrays.toString(t.getShapeList().stream().mapToLong(Long::longValue).toArray()))
        .toList();
    String pipeline = model.pipelineAt(model.startStep()).toString();
    if (model.startStep() != from.state().step()) {
      throw new NotResumableException(at + "the model is at step " + model.startStep() + ", its trainer state at "
          + from.state().step());
    }
    if (model.trainers() != config.trainers()) {
      throw new NotResumableException(at + "the model has " + model.trainers() + " trainers, this run --trainers "
          + config.trainers());
    }
    if (!got.equals(want)) {
      throw new NotResumableException(at + "the model has tensors " + got + ", this run (--hidden "
          + config.hidden() + ") " + want);
    }
    if (!pipeline.equals(config.pipeline().toString())) {
      throw new NotResumableException(at + "the model has --pipeline " + pipeline + ", this run "
          + config.pipeline());
    }
  }

  private TrainingReport run(RemoteModel model, TrainingConfig config, List<MlpWithBatchNorm> graphs,
      Listener listener, double setupSeconds, TrainerState resumed, PeriodicCheckpoints.Policy policy)
      throws InterruptedException {
    int k = config.trainers();
    int steps = config.steps();
    int first = Math.toIntExact(model.startStep());
    BatchOrder order = new BatchOrder(split.train(), config.batch(), config.seed());
    StepLog log = new StepLog(steps, k);
    List<Evaluation> evals = new CopyOnWriteArrayList<>();
    if (resumed != null) {
      log.restore(resumed.losses());
      for (int i = 0; i < resumed.evalSteps().length; i++) {
        evals.add(new Evaluation(resumed.evalSteps()[i], resumed.evalAccuracy()[i]));
      }
    }
    int[] test = split.test();
    float[] testX = data.features(test);
    int[] testY = data.labels(test);
    PeriodicCheckpoints checkpoints = policy == null ? null
        : new PeriodicCheckpoints(model, policy, k, first, steps, (b, stats) -> {
          log.awaitCompleted(b);
          return new TrainerState(b, k, config.batch(), config.hidden(), config.seed(), config.testFraction(),
              model.pipelineAt(b).toString(), stats, log.prefix(Math.toIntExact(b)),
              evals.stream().filter(e -> e.step() < b).mapToLong(Evaluation::step).toArray(),
              evals.stream().filter(e -> e.step() < b).mapToDouble(Evaluation::accuracy).toArray());
        });
    int[] finalCorrect = new int[1];
    long[] phaseNanos = new long[4];
    boolean skipsNonFinite = config.pipeline().skipsNonFinite();

    ExecutorService pool = Executors.newFixedThreadPool(k, new java.util.concurrent.ThreadFactory() {
      private final AtomicInteger n = new AtomicInteger();

      @Override
      public Thread newThread(Runnable task) {
        Thread t = new Thread(task, "shardopt-trainer-" + n.getAndIncrement());
        t.setDaemon(true);
        return t;
      }
    });
    long start = System.nanoTime();
    List<Future<?>> futures = new ArrayList<>();
    for (int r = 0; r < k; r++) {
      int rank = r;
      futures.add(pool.submit(() -> {
        Trainer trainer = model.trainer(rank, k);
        MlpWithBatchNorm net = graphs.get(rank);
        // pulls land in the graph's own variable arrays (client-nd4j), with no float[] map in between
        NdTrainer ndTrainer = new NdTrainer(trainer);
        Map<String, INDArray> parameters = net.parameterArrays();
        BatchNormStatistics stats = resumed == null ? new BatchNormStatistics(config.hidden())
            : resumed.statistics().get(rank).copy();
        long pullNs = 0;
        long computeNs = 0;
        long pushNs = 0;
        long evalNs = 0;
        for (int s = first; s < steps; s++) {
          long t0 = System.nanoTime();
          ndTrainer.pullInto(parameters);
          long t1 = System.nanoTime();
          pullNs += t1 - t0;
          if (rank == 0 && s % config.evalEvery() == 0) {
            evals.add(new Evaluation(s, (double) correct(net, testX, testY, stats) / test.length));
            long t2 = System.nanoTime();
            evalNs += t2 - t1;
            t1 = t2;
          }
          int[] rows = order.slice(s, rank, k);
          MlpWithBatchNorm.StepResult res = net.trainStep(data.features(rows), data.labels(rows));
          if (!skipsNonFinite) {
            checkFinite(s, rank, res);
          }
          stats.update(res.batchMean(), res.batchVariance(), rows.length);
          log.report(s, rank, res.loss());
          long t3 = System.nanoTime();
          computeNs += t3 - t1;
          if (checkpoints != null) {
            checkpoints.atBoundary(s + 1, rank, stats);
          }
          trainer.push(s, res.gradients());
          pushNs += System.nanoTime() - t3;
        }
        if (rank == 0) {
          long t0 = System.nanoTime();
          ndTrainer.pullInto(parameters);
          long t1 = System.nanoTime();
          pullNs += t1 - t0;
          finalCorrect[0] = correct(net, testX, testY, stats);
          evals.add(new Evaluation(steps, (double) finalCorrect[0] / test.length));
          evalNs += System.nanoTime() - t1;
          phaseNanos[0] = pullNs;
          phaseNanos[1] = computeNs;
          phaseNanos[2] = pushNs;
          phaseNanos[3] = evalNs;
        }
        return null;
      }));
    }
    pool.shutdown();
    if (checkpoints != null) {
      checkpoints.start();
    }

    List<StepMetric> metrics = new ArrayList<>();
    try {
      while (!pool.awaitTermination(PROGRESS_MILLIS, TimeUnit.MILLISECONDS)) {
        failFast(futures);
        pollMetrics(model, metrics);
        listener.onProgress(progress(log, steps, metrics));
      }
      for (Future<?> f : futures) {
        f.get(); // rethrows a trainer's failure
      }
      if (checkpoints != null) {
        checkpoints.finish();
      }
    } catch (ExecutionException e) {
      abort(checkpoints);
      pool.shutdownNow();
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException("a trainer failed: " + cause, cause);
    } catch (InterruptedException | RuntimeException e) {
      abort(checkpoints);
      pool.shutdownNow();
      throw e;
    }
    double trainSeconds = (System.nanoTime() - start) / 1e9;
    pollMetrics(model, metrics);
    listener.onProgress(progress(log, steps, metrics));
    TrainingReport.PhaseTimes phases = new TrainingReport.PhaseTimes(
        phaseNanos[0] / 1e9, phaseNanos[1] / 1e9, phaseNanos[2] / 1e9, phaseNanos[3] / 1e9);
    return new TrainingReport(config, log.losses(), evals.stream().mapToLong(Evaluation::step).toArray(),
        evals.stream().mapToDouble(Evaluation::accuracy).toArray(), metrics, finalCorrect[0], test.length,
        trainSeconds, setupSeconds, phases);
  }

  private record Evaluation(long step, double accuracy) {}

  private static void abort(PeriodicCheckpoints checkpoints) {
    if (checkpoints != null) {
      checkpoints.abort();
    }
  }

  /** Rethrows the failure of a trainer that has already failed, so the others do not wait for it. */
  private static void failFast(List<Future<?>> futures) throws InterruptedException, ExecutionException {
    for (Future<?> f : futures) {
      if (f.isDone()) {
        try {
          f.get(0, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          throw new IllegalStateException(e);
        }
      }
    }
  }

  private static void pollMetrics(RemoteModel model, List<StepMetric> metrics) {
    long from = metrics.isEmpty() ? 0 : metrics.get(metrics.size() - 1).step() + 1;
    for (StepMetric m : model.metrics(from)) {
      if (metrics.isEmpty() || m.step() > metrics.get(metrics.size() - 1).step()) {
        metrics.add(m);
      }
    }
  }

  private static Progress progress(StepLog log, int total, List<StepMetric> metrics) {
    int done = log.completed();
    StepMetric last = metrics.isEmpty() ? null : metrics.get(metrics.size() - 1);
    return new Progress(done, total, log.recentLoss(RECENT),
        last == null ? Double.NaN : last.gradientNorm(),
        last == null ? Double.NaN : last.learningRate());
  }

  private static void checkFinite(int step, int rank, MlpWithBatchNorm.StepResult res) {
    if (!Double.isFinite(res.loss())) {
      throw new TrainingDivergedException(step, rank, "loss (" + res.loss() + ")");
    }
    for (Map.Entry<String, float[]> e : res.gradients().entrySet()) {
      for (float v : e.getValue()) {
        if (!Float.isFinite(v)) {
          throw new TrainingDivergedException(step, rank, "gradient of " + e.getKey());
        }
      }
    }
  }

  /** Test rows {@code net} classifies correctly in inference mode with {@code stats}. */
  static int correct(MlpWithBatchNorm net, float[] x, int[] y, BatchNormStatistics stats) {
    int[] pred = net.predict(x, y.length, stats.mean(), stats.variance());
    int correct = 0;
    for (int i = 0; i < y.length; i++) {
      if (pred[i] == y[i]) {
        correct++;
      }
    }
    return correct;
  }

  /**
   * The trainers' losses. A step is complete when all K trainers reported it; since each trainer reports
   * its steps in order and cannot start step s+1 before every trainer pushed step s, steps complete in
   * order, so {@link #completed()} counts a prefix.
   */
  static final class StepLog {
    private final double[][] losses; // [step][rank]
    private final AtomicIntegerArray reports;
    private final int k;
    private volatile int completed;

    StepLog(int steps, int k) {
      this.losses = new double[steps][k];
      this.reports = new AtomicIntegerArray(steps);
      this.k = k;
    }

    void report(int step, int rank, double loss) {
      losses[step][rank] = loss;
      if (reports.incrementAndGet(step) == k) {
        synchronized (this) {
          // steps complete in order (see the class comment); max() keeps it monotone regardless
          completed = Math.max(completed, step + 1);
        }
      }
    }

    int completed() {
      return completed;
    }

    /** Takes the losses of the steps before a resumed run's first from its trainer state. */
    synchronized void restore(double[][] before) {
      for (int i = 0; i < before.length; i++) {
        System.arraycopy(before[i], 0, losses[i], 0, k);
        reports.set(i, k);
      }
      completed = before.length;
    }

    /** Waits until steps {@code 0 .. step-1} are complete (each trainer's report is then visible). */
    void awaitCompleted(long step) throws InterruptedException {
      while (completed < step) {
        Thread.sleep(1);
      }
    }

    /** Each trainer's loss of steps {@code 0 .. steps-1}, {@code [step][rank]}. */
    synchronized double[][] prefix(int steps) {
      double[][] out = new double[steps][];
      for (int i = 0; i < steps; i++) {
        out[i] = losses[i].clone();
      }
      return out;
    }

    /** The step's loss: the mean of the trainers' losses, summed in trainer order. */
    synchronized double loss(int step) {
      double s = 0;
      for (int r = 0; r < k; r++) {
        s += losses[step][r];
      }
      return s / k;
    }

    double recentLoss(int window) {
      int done = completed;
      if (done == 0) {
        return Double.NaN;
      }
      int from = Math.max(0, done - window);
      double s = 0;
      for (int i = from; i < done; i++) {
        s += loss(i);
      }
      return s / (done - from);
    }

    double[] losses() {
      double[] out = new double[losses.length];
      for (int i = 0; i < out.length; i++) {
        out[i] = loss(i);
      }
      return out;
    }
  }
}
