'use strict';
// The worker calls that carry tensor data: WriteParameters (initial values), Push (one trainer's
// gradient of one step, with a bounded retry on UNAVAILABLE) and Pull (the parameters at a step).
// Chunks are at most `chunkElements` elements, never cross a shard, and are encoded one at a time as
// gRPC's flow control lets them through (write() false -> wait for 'drain').

const { status } = require('@grpc/grpc-js');
const { fromGrpc, errorOf } = require('./errors');
const { encode, decodeInto, spans, malformed } = require('./tensors');

// Pulls that find the workers at different steps (ASYNC: pushes keep landing) are completed this
// often in all: each time only the workers behind are pulled again, at the step of the one ahead.
const PULL_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 2000;

/** Whether a call that failed with `code` is tried again: a replicated model's also when it got no answer. */
function retryable(code, replicated) {
  return code === status.UNAVAILABLE || (replicated && code === status.DEADLINE_EXCEEDED);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes `messages` (an iterator) to the client stream `call`, honouring back-pressure, then ends
 * it; the promise is the call's answer.
 */
function sendStream(open, messages) {
  return new Promise((resolve, reject) => {
    const call = open((err, response) => (err ? reject(err) : resolve(response)));
    let failed = false;
    call.on('error', () => { failed = true; }); // the callback above gets the status
    const pump = () => {
      try {
        for (let next = messages.next(); !next.done; next = messages.next()) {
          if (failed) return;
          if (!call.write(next.value)) {
            call.once('drain', pump);
            return;
          }
        }
        call.end();
      } catch (e) {
        call.cancel();
        reject(e);
      }
    };
    pump();
  });
}

function* chunkMessages(shards, settings, values, only, wrap) {
  for (const [tensor, offset, count] of spans(shards, settings.chunkElements, only)) {
    yield wrap({ tensor, offset, data: encode(values[tensor], offset, count) });
  }
}

/**
 * One pull's arrays and its bookkeeping: the ranges each worker sent (checked, once every answer is
 * in, to cover every element exactly once) and the step each worker answered with. A worker's answer
 * can be forgotten, ranges and step, so that it is pulled again into the same arrays while the
 * others' answers stay.
 */
class PullState {
  constructor(tensors) {
    this.tensors = tensors;
    this.out = {};
    this.received = new Map(); // tensor -> [[offset, count, address]]
    this.steps = new Map(); // address -> step (a worker that sent nothing has none)
    for (const t of tensors) {
      this.out[t.name] = new Float32Array(t.size);
      this.received.set(t.name, []);
    }
  }

  accept(address, tensor, offset, count) {
    this.received.get(tensor).push([offset, count, address]);
  }

  answered(address, step) {
    if (step !== null) this.steps.set(address, step);
  }

  forget(address) {
    this.steps.delete(address);
    for (const [tensor, ranges] of this.received) this.received.set(tensor, ranges.filter((r) => r[2] !== address));
  }

  /** Throws INTERNAL unless the ranges received cover every element of every tensor exactly once. */
  checkCoverage(modelName) {
    for (const t of this.tensors) {
      let at = 0;
      for (const [offset, n] of this.received.get(t.name).sort((a, b) => a[0] - b[0])) {
        if (offset !== at) throw malformed(`pull of ${modelName}: elements ${Math.min(at, offset)}.. of '${t.name}' were ${offset > at ? 'missing' : 'sent twice'}`);
        at = offset + n;
      }
      if (at !== t.size) throw malformed(`pull of ${modelName}: elements ${at}.. of '${t.name}' (of ${t.size}) were missing`);
    }
  }

  describeSteps() {
    return [...this.steps].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([a, s]) => `worker ${a} at step ${s}`).join(', ');
  }
}

class Transfer {
  constructor(connection) {
    this.connection = connection;
  }

  get settings() {
    return this.connection.settings;
  }

  /** WriteParameters of `values` ({name: Float32Array}) to every worker holding shards (every copy) of them. */
  async upload(layout, modelName, values) {
    const only = new Set(Object.keys(values));
    const calls = [];
    for (const [address, shards] of layout.workers) {
      if (!shards.some((s) => only.has(s.tensor) && s.length > 0)) continue;
      const stub = this.connection.worker(address);
      let first = true;
      const messages = chunkMessages(shards, this.settings, values, only, (c) => {
        if (first) {
          first = false;
          return { ...c, model: modelName };
        }
        return c;
      });
      calls.push(sendStream((cb) => stub.WriteParameters(this.connection.metadata(), this.connection.callOptions(), cb), messages)
        .catch((err) => { throw fromGrpc(err, `upload of the initial values of ${modelName} to worker ${address}`, address); }));
    }
    await Promise.all(calls);
  }

  pushOnce(address, shards, header, gradient) {
    const stub = this.connection.worker(address);
    const messages = (function* (settings) {
      yield { header };
      yield* chunkMessages(shards, settings, gradient, null, (chunk) => ({ chunk }));
    })(this.settings);
    return sendStream((cb) => stub.Push(this.connection.metadata(), this.connection.callOptions(), cb), messages);
  }

  /**
   * Pushes to every worker of the layout (every copy); {step, duplicate: every worker said
   * duplicate}. A worker that answers UNAVAILABLE is sent the same push again (the same chunks, so
   * one that had it answers duplicate), up to pushAttempts in all. Of a replicated model, a worker
   * that does not answer (UNAVAILABLE, DEADLINE_EXCEEDED) makes the client read the shard map again
   * (`reread`) for up to failoverWaitMs: once a newer map has moved that worker's shards to their
   * backups, the push goes to the copies it lists that have not acknowledged it.
   */
  async push(first, header, gradient, reread) {
    let layout = first;
    let pending = [...layout.workers.keys()];
    const answers = new Map();
    const giveUp = Date.now() + this.settings.failoverWaitMs;
    let pause = this.settings.retryBackoffMs;
    const what = (address) => `push of step ${header.step} (trainer ${header.trainer}, ${header.model}) to worker ${address}`;
    for (let attempt = 1; ; attempt++) {
      const current = layout;
      // tagged with the map's epoch: a worker that has taken a newer one (a copy joined) refuses it
      const tagged = { ...header, epoch: current.epoch };
      const results = await Promise.allSettled(pending.map((a) => this.pushOnce(a, current.workers.get(a), tagged, gradient)));
      const replicated = current.replicated;
      const mayRetry = attempt < this.settings.pushAttempts || (replicated && Date.now() < giveUp);
      const retry = [];
      let failure = null;
      results.forEach((r, i) => {
        const address = pending[i];
        if (r.status === 'fulfilled') {
          answers.set(address, r.value);
        } else if (retryable(r.reason.code, replicated) && mayRetry) {
          retry.push(address);
        } else if (failure === null) {
          const tries = attempt > 1 ? ` (attempt ${attempt})` : '';
          failure = fromGrpc(r.reason, `${what(address)}${tries}`, address);
        }
      });
      if (failure) throw failure;
      if (retry.length === 0) break;
      if (replicated && reread) {
        const newer = await reread();
        if (newer.epoch > current.epoch) {
          layout = newer;
          pending = [...newer.workers.keys()].filter((a) => !answers.has(a));
          if (pending.length === 0) break;
          continue;
        }
      }
      await sleep(pause);
      pause = Math.min(pause * 2, MAX_BACKOFF_MS);
      pending = retry;
    }
    return { step: header.step, duplicate: [...answers.values()].every((r) => r.duplicate) };
  }

  /** One worker's primaries at min_step or later into `pulled`, with the step it answered. */
  pullFromWorker(layout, modelName, address, minStep, pulled) {
    const request = { model: modelName, min_step: minStep };
    if (layout.replicated) {
      request.shards = layout.pullSources.get(address).map((s) => ({ tensor_index: s.tensor_index, offset: s.offset }));
    }
    const what = `pull of ${modelName} at step ${minStep} from worker ${address}`;
    return new Promise((resolve, reject) => {
      let step = null;
      let done = false;
      const fail = (err) => {
        if (done) return;
        done = true;
        call.cancel();
        reject(err);
      };
      const call = this.connection.worker(address).Pull(request, this.connection.metadata(), this.connection.callOptions(this.settings.pullTimeoutMs));
      call.on('data', (r) => {
        if (done) return;
        if (step !== null && r.step !== step) return fail(malformed(`${what}: the worker answered with steps ${step} and ${r.step}`));
        step = r.step;
        const c = r.chunk;
        const target = pulled.out[c.tensor];
        const n = c.data.length / 4;
        if (!target || !Number.isInteger(n) || c.offset + n > target.length) {
          return fail(malformed(`${what}: the worker sent ${c.data.length} bytes at ${c.offset} of '${c.tensor}', which the model lacks`));
        }
        decodeInto(target, c.offset, c.data);
        pulled.accept(address, c.tensor, c.offset, n);
      });
      call.on('error', (err) => fail(fromGrpc(err, what, address)));
      call.on('end', () => {
        if (done) return;
        done = true;
        pulled.answered(address, step);
        resolve();
      });
    });
  }

  /**
   * {step, tensors} once the model has completed `minStep` steps: every primary's shard, checked to
   * cover every element once. When the workers answer with different steps (ASYNC: one has applied
   * a step the others have not yet), the workers behind are pulled again with min_step the highest
   * step seen (a worker waiting for that step answers as it reaches it), keeping the others'
   * answers; up to PULL_ATTEMPTS in all, then ABORTED. Of a replicated model, a pull a primary does
   * not answer is tried again with the shard map read again (`reread`), for up to failoverWaitMs.
   */
  async pull(first, modelName, tensors, minStep, reread) {
    let layout = first;
    const giveUp = Date.now() + this.settings.failoverWaitMs;
    let pause = this.settings.retryBackoffMs;
    let min = minStep;
    let pulled = null;
    let behind = null; // null: every worker
    for (let attempt = 1; ; attempt++) {
      if (behind === null) pulled = new PullState(tensors);
      try {
        await this.pullOnce(layout, modelName, min, pulled, behind);
      } catch (err) {
        behind = null; // a failover pulls everything again, from the copies the map lists
        // Of a replicated model, a primary that does not answer: read the map again until a newer one
        // names the promoted backup.
        if (!layout.replicated || !reread || !retryable(err.code, true) || Date.now() > giveUp) throw err;
        await sleep(pause);
        pause = Math.min(pause * 2, MAX_BACKOFF_MS);
        layout = await reread();
        attempt--; // a failover is not one of the PULL_ATTEMPTS for mixed steps
        continue;
      }
      const steps = [...pulled.steps.values()];
      if (new Set(steps).size <= 1) return { step: steps.length ? steps[0] : min, tensors: pulled.out };
      if (attempt >= PULL_ATTEMPTS) {
        throw errorOf(status.ABORTED, `pull of ${modelName}: the workers kept answering with different steps after ${attempt} attempts: ${pulled.describeSteps()}`);
      }
      const ahead = Math.max(...steps);
      behind = new Set([...pulled.steps].filter(([, s]) => s < ahead).map(([a]) => a));
      for (const a of behind) pulled.forget(a);
      min = Math.max(min, ahead);
    }
  }

  /** Pulls from every pull source of `layout`, or from those in `only` when it is not null, into `pulled`; then checks the coverage. */
  async pullOnce(layout, modelName, minStep, pulled, only) {
    const sources = [...layout.pullSources.keys()].filter((a) => only === null || only.has(a));
    await Promise.all(sources.map((a) => this.pullFromWorker(layout, modelName, a, minStep, pulled)));
    pulled.checkCoverage(modelName);
  }
}

module.exports = { Transfer, sendStream };
