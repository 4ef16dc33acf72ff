'use strict';
// A connection to a Shardopt cluster: model creation (with the initial values uploaded), restore,
// lookup and deletion, and pipeline checks.

const path = require('path');
const { status } = require('@grpc/grpc-js');
const { Connection } = require('./connection');
const { Transfer } = require('./transfer');
const { RemoteModel, assertReadyable } = require('./model');
const { tensorSpecs } = require('./tensors');
const { invalidArgument, errorOf } = require('./errors');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MODES = ['SYNC', 'ASYNC'];

function modelName(id) {
  if (typeof id !== 'string' || id === '') throw invalidArgument(`model id must be a non-empty string, got ${JSON.stringify(id)}`);
  return id.startsWith('models/') ? id : `models/${id}`;
}

class Cluster {
  constructor(address, options) {
    this.connection = new Connection(address, options);
    this.transfer = new Transfer(this.connection);
    this.address = address;
  }

  call(method, request, what, timeoutMs) {
    return this.connection.coordinatorCall(method, request, what, timeoutMs);
  }

  /**
   * Creates model `id`: `pipeline` is the DSL text, `tensors` {name: Float32Array | {values, shape}
   * | {shape, init}}, `trainers` K. Uploads the initial values, waits until the model is READY and
   * resolves with it; when anything after the creation fails, deletes the model again.
   */
  async createModel(id, { pipeline, tensors, trainers = 1, mode = 'SYNC', staleness = 0, replicas = 0, ...rest } = {}) {
    const unknown = Object.keys(rest);
    if (unknown.length) throw invalidArgument(`createModel: unknown option '${unknown[0]}'; allowed: pipeline, tensors, trainers, mode, staleness, replicas`);
    if (typeof pipeline !== 'string' || pipeline.trim() === '') {
      throw invalidArgument(`createModel: pipeline must be DSL text such as "adam(1e-3).clipNorm(1.0)", got ${JSON.stringify(pipeline)}`);
    }
    if (!Number.isInteger(trainers) || trainers < 1) throw invalidArgument(`createModel: trainers must be a whole number >= 1, got ${trainers}`);
    if (!MODES.includes(mode)) throw invalidArgument(`createModel: mode must be 'SYNC' or 'ASYNC', got ${JSON.stringify(mode)}`);
    const specs = tensorSpecs(tensors);
    const model = {
      pipeline_text: pipeline,
      trainers,
      mode,
      staleness,
      replicas,
      tensors: specs.map((t) => ({ name: t.name, shape: t.shape, init: t.init })),
    };
    const created = await this.call('CreateModel', { model_id: id, model }, `CreateModel of '${id}'`);
    try {
      const remote = await this.attach(created, 0);
      const uploads = Object.fromEntries(specs.filter((t) => t.values).map((t) => [t.name, t.values]));
      if (Object.keys(uploads).length) await this.transfer.upload(remote.layout, remote.name, uploads);
      await this.awaitReady(remote.name, `CreateModel of '${id}'`);
      return remote;
    } catch (err) {
      await this.call('DeleteModel', { name: created.name }, `DeleteModel of ${created.name}`).catch(() => {});
      throw err;
    }
  }

  /**
   * Creates model `id` from a checkpoint (DIR/step-<s>, or a directory of checkpoints: the latest
   * complete one), made absolute here; its trainers start at the checkpoint's step.
   */
  async restoreModel(id, checkpoint) {
    if (typeof checkpoint !== 'string' || checkpoint === '') throw invalidArgument(`restoreModel: checkpoint must be a path, got ${JSON.stringify(checkpoint)}`);
    const from = path.resolve(checkpoint);
    const created = await this.call('CreateModel', { model_id: id, restore_from: from }, `CreateModel of '${id}' from checkpoint ${from}`);
    try {
      const ready = await this.awaitReady(created.name, `restore of '${id}'`);
      return await this.attach(ready, ready.step);
    } catch (err) {
      await this.call('DeleteModel', { name: created.name }, `DeleteModel of ${created.name}`).catch(() => {});
      throw err;
    }
  }

  /** The existing model `id` (or `models/id`), e.g. to train it from another process. */
  async model(id) {
    const name = modelName(id);
    const m = await this.call('GetModel', { name }, `GetModel of ${name}`);
    return this.attach(m, 0);
  }

  async attach(m, startStep) {
    const map = await this.call('GetShardMap', { name: m.name }, `GetShardMap of ${m.name}`);
    return new RemoteModel(this, m, map, startStep);
  }

  /** Waits until the model is READY; the model as GetModel answered then. */
  async awaitReady(name, what) {
    const until = Date.now() + this.connection.settings.readyTimeoutMs;
    for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
      const m = await this.call('GetModel', { name }, `GetModel of ${name}`);
      if (m.state === 'READY') return m;
      assertReadyable(m, what);
      if (Date.now() > until) {
        throw errorOf(status.DEADLINE_EXCEEDED, `${what}: ${name} is still ${m.state} after ${this.connection.settings.readyTimeoutMs} ms`);
      }
      await sleep(pause);
    }
  }

  /** The ids of the cluster's models. */
  async listModels() {
    const r = await this.call('ListModels', {}, 'ListModels');
    return r.models.map((m) => m.name.replace(/^models\//, ''));
  }

  /** Deletes model `id`. */
  async deleteModel(id) {
    const name = modelName(id);
    await this.call('DeleteModel', { name }, `DeleteModel of ${name}`);
  }

  /**
   * Checks pipeline `text` without creating anything: {valid, canonicalText, pipeline, errors:
   * [{field, message, column}]} (column 1-based, 0 when not from the text). `tensorNames` are
   * checked against the parameter rules as createModel would.
   */
  async parsePipeline(text, { tensorNames = [] } = {}) {
    if (typeof text !== 'string') throw invalidArgument(`parsePipeline: the pipeline must be a string, got ${typeof text}`);
    const r = await this.call('ParsePipeline', { pipeline_text: text, tensor_names: tensorNames }, `ParsePipeline of ${JSON.stringify(text)}`);
    const errors = r.errors.map((e) => ({ field: e.field, message: e.message, column: e.column }));
    return {
      valid: errors.length === 0,
      canonicalText: errors.length === 0 ? r.canonical_text : null,
      pipeline: errors.length === 0 ? r.pipeline : null,
      errors,
    };
  }

  /** Closes every channel; calls in flight fail with CANCELLED. */
  close() {
    this.connection.close();
  }
}

/**
 * Connects to the coordinator at `address` (host:port). Options: tlsCa, tlsCert, tlsKey (PEM paths;
 * any of them means TLS), token (default SHARDOPT_TOKEN; sent as `authorization: Bearer <token>`),
 * insecure, and the limits deadlineMs, pullTimeoutMs, checkpointTimeoutMs, readyTimeoutMs,
 * pushAttempts, retryBackoffMs, chunkElements. Channels connect on first use.
 */
function connect(address, options = {}) {
  return new Cluster(address, options);
}

module.exports = { Cluster, connect };
