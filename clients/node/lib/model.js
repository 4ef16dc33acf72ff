'use strict';
// A model on the cluster: its tensors and shard layout, its trainers, and the coordinator calls
// about it (describe, updatePipeline, checkpoint, metrics, delete).

const path = require('path');
const { status } = require('@grpc/grpc-js');
const { ShardLayout, checkGradient, elementsOf } = require('./tensors');
const { invalidArgument, errorOf } = require('./errors');
const { gradientStats } = require('./stats');

function checkStep(where, step) {
  if (!Number.isSafeInteger(step) || step < 0) {
    throw invalidArgument(`${where}: step must be a whole number >= 0, got ${step}`);
  }
}

/** The model as GetModel answers it, in camelCase. */
function modelInfo(m) {
  return {
    name: m.name,
    state: m.state,
    step: m.step,
    trainers: m.trainers,
    mode: m.mode === 'ASYNC' ? 'ASYNC' : 'SYNC',
    staleness: m.staleness,
    replicas: m.replicas,
    pipelineText: m.pipeline_text,
    pipeline: m.pipeline,
    tensors: m.tensors.map((t) => ({ name: t.name, shape: t.shape.slice() })),
    failure: m.failure,
    updatesApplied: m.updates_applied,
    stepsSkipped: m.steps_skipped,
    pushes: m.pushes,
    duplicates: m.duplicates,
    schedule: m.pipeline_schedule.map((g) => ({ generation: g.generation, fromStep: g.from_step, pipeline: g.pipeline })),
    nextPush: m.next_push.slice(),
  };
}

/** The generation in force at `step` of a proto pipeline_schedule: the highest with from_step <= step. */
function inForce(schedule, step) {
  let best = null;
  for (const g of schedule) {
    if (g.from_step <= step && (best === null || g.generation > best.generation)) best = g;
  }
  return best;
}

class Trainer {
  constructor(model, rank, nextStep) {
    this.model = model;
    this.rank = rank;
    this.nextStep = nextStep;
  }

  /** The parameters the next step needs: SYNC, once the model has completed `minStep` (default nextStep) steps. */
  async pull(minStep = this.nextStep) {
    return (await this.pullParameters(minStep)).tensors;
  }

  /** As pull(), with the step of the version returned: {step, tensors}. */
  pullParameters(minStep = this.nextStep) {
    checkStep(`pull of ${this.model.name}`, minStep);
    return this.model.pullParameters(minStep);
  }

  /**
   * Pushes this trainer's gradient of `step` ({name: Float32Array}, every tensor of the model) to
   * every worker; resolves once all have acknowledged it with {step, duplicate}.
   */
  async push(step, gradient) {
    checkStep(`push to ${this.model.name}`, step);
    checkGradient(this.model.name, this.model.tensors, gradient);
    const header = { model: this.model.name, trainer: this.rank, step };
    const result = this.model.mode === 'ASYNC'
      ? await this.pushAsync(header, gradient)
      : await this.model.cluster.transfer.push(this.model.layout, header, gradient, () => this.model.refreshLayout());
    this.nextStep = Math.max(this.nextStep, step + 1);
    return result;
  }

  /** ASYNC: the header carries the statistics under the generation in force at the step; refused as outdated, once more under the newer one. */
  async pushAsync(header, gradient) {
    const send = (generation) => {
      const stats = gradientStats(this.model.tensors, gradient, generation.pipeline);
      return this.model.cluster.transfer.push(this.model.layout, {
        ...header,
        gradient_norm_squared: stats.normSquared,
        non_finite: stats.nonFinite,
        pipeline_generation: generation.generation,
      }, gradient, () => this.model.refreshLayout());
    };
    const known = inForce(this.model.schedule, header.step);
    try {
      return await send(known);
    } catch (refused) {
      if (refused.code !== status.FAILED_PRECONDITION) throw refused;
      await this.model.describe(); // re-reads the schedule
      const now = inForce(this.model.schedule, header.step);
      if (now.generation === known.generation) throw refused;
      return send(now);
    }
  }
}

class RemoteModel {
  constructor(cluster, model, shardMap, startStep) {
    this.cluster = cluster;
    this.name = model.name;
    this.id = model.name.replace(/^models\//, '');
    this.trainers = model.trainers || 1;
    this.mode = model.mode === 'ASYNC' ? 'ASYNC' : 'SYNC';
    this.tensors = model.tensors.map((t) => ({ name: t.name, shape: t.shape.slice(), size: elementsOf(t.shape) }));
    this.schedule = model.pipeline_schedule;
    this.layout = new ShardLayout(shardMap, this.tensors);
    this.startStep = startStep;
    this.startPush = model.next_push.slice();
  }

  /**
   * Trainer `rank` (0 <= rank < trainers). It starts at `startStep` (default: 0, or the checkpoint's
   * step for a restored model; ASYNC restored: this trainer's next push).
   */
  trainer(rank, { startStep } = {}) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.trainers) {
      throw invalidArgument(`trainer of ${this.name}: rank must be in [0, ${this.trainers}), got ${rank}`);
    }
    let start = startStep;
    if (start === undefined) {
      start = this.mode === 'ASYNC' && this.startPush.length > rank ? this.startPush[rank] : this.startStep;
    }
    checkStep(`trainer ${rank} of ${this.name}`, start);
    return new Trainer(this, rank, start);
  }

  /** {step, tensors} once the model has completed `minStep` steps. */
  pullParameters(minStep) {
    return this.cluster.transfer.pull(this.layout, this.name, this.tensors, minStep, () => this.refreshLayout());
  }

  /** Reads the shard map again (GetShardMap); a newer epoch replaces the layout. */
  async refreshLayout() {
    const map = await this.cluster.connection.coordinatorCall('GetShardMap', { name: this.name }, `GetShardMap of ${this.name}`);
    const layout = new ShardLayout(map, this.tensors);
    if (layout.epoch > this.layout.epoch) this.layout = layout;
    return this.layout;
  }

  /** The model as the coordinator has it now (GetModel), in camelCase. */
  async describe() {
    const m = await this.cluster.connection.coordinatorCall('GetModel', { name: this.name }, `GetModel of ${this.name}`);
    this.schedule = m.pipeline_schedule;
    return modelInfo(m);
  }

  /**
   * Schedules pipeline `text` (the DSL) from step `atStep` on; resolves with the model. A text that
   * does not parse is INVALID_ARGUMENT with the parser's message and column.
   */
  async updatePipeline(text, atStep) {
    if (typeof text !== 'string' || text.trim() === '') {
      throw invalidArgument(`updatePipeline of ${this.name}: the pipeline must be DSL text such as "adam(1e-3).clipNorm(1.0)", got ${JSON.stringify(text)}`);
    }
    checkStep(`updatePipeline of ${this.name}`, atStep);
    const m = await this.cluster.connection.coordinatorCall('UpdatePipeline',
      { name: this.name, pipeline_text: text, at_step: atStep },
      `UpdatePipeline of ${this.name} to ${JSON.stringify(text)} at step ${atStep}`);
    this.schedule = m.pipeline_schedule;
    return modelInfo(m);
  }

  /**
   * Writes a checkpoint into `directory` (made absolute here; the coordinator and the workers
   * write it under that path) at step `atStep` (SYNC; default the next boundary).
   */
  async checkpoint(directory, { atStep } = {}) {
    if (typeof directory !== 'string' || directory === '') {
      throw invalidArgument(`checkpoint of ${this.name}: directory must be a path, got ${JSON.stringify(directory)}`);
    }
    const request = { name: this.name, directory: path.resolve(directory) };
    if (atStep !== undefined) {
      checkStep(`checkpoint of ${this.name}`, atStep);
      request.at_step = atStep;
    }
    const c = await this.cluster.connection.coordinatorCall('CheckpointModel', request,
      `CheckpointModel of ${this.name} into ${request.directory}`, this.cluster.connection.settings.checkpointTimeoutMs);
    return {
      model: c.model, step: c.step, path: c.path, bytes: c.bytes,
      snapshotMillis: c.snapshot_millis, totalMillis: c.total_millis, nextPush: c.next_push.slice(),
    };
  }

  /** The coordinator's per-step metrics (steps from `fromStep` on; default every kept step). */
  async metrics({ fromStep = 0 } = {}) {
    checkStep(`metrics of ${this.name}`, fromStep);
    const m = await this.cluster.connection.coordinatorCall('GetMetrics', { name: this.name, from_step: fromStep }, `GetMetrics of ${this.name}`);
    return {
      model: m.model,
      stepsSkipped: m.steps_skipped,
      steps: m.steps.map((s) => ({
        step: s.step, update: s.update, skipped: s.skipped, learningRate: s.learning_rate,
        gradientNorm: s.gradient_norm, clippedNorm: s.clipped_norm, barrierWaitMillis: s.barrier_wait_millis,
        generation: s.generation,
      })),
    };
  }

  /** Deletes the model from the cluster. */
  async delete() {
    await this.cluster.connection.coordinatorCall('DeleteModel', { name: this.name }, `DeleteModel of ${this.name}`);
  }
}

function assertReadyable(m, what) {
  if (m.state === 'FAILED') throw errorOf(status.FAILED_PRECONDITION, `${what}: model ${m.name} failed while loading: ${m.failure}`, { details: m.failure });
}

module.exports = { RemoteModel, Trainer, modelInfo, inForce, assertReadyable };
