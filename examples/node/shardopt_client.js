'use strict';
// A minimal Node.js client of a Shardopt cluster, on @grpc/grpc-js and @grpc/proto-loader, which
// load the API's .proto files at run time (nothing is generated). See docs/clients.md.
//
//   CreateModel -> GetModel until READY -> GetShardMap -> per step: Pull(min_step = s) from every
//   worker, Push(header, chunks of exactly that worker's shards) to every worker.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, '..', '..', 'proto', 'src', 'main', 'proto');
// Tensor data travels in chunks of at most 4 MiB of data; a message is a chunk plus a small
// header, so the receive limit must be raised above gRPC's default of 4 MiB.
const CHUNK_BYTES = 4 << 20;
const MAX_MESSAGE_BYTES = CHUNK_BYTES + (64 << 10);
const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};
const PUSH_ATTEMPTS = 3;
const RPC_TIMEOUT_MS = 60000;
// A pull waits on the worker up to its --wait-ms (60 s by default), which then answers with an
// actionable DEADLINE_EXCEEDED; the client's own deadline is longer so that the worker's message wins.
const PULL_TIMEOUT_MS = 90000;

// keepCase: the proto's field names (model_id, min_step); longs: uint64 as Number (exact below
// 2^53, plenty for steps and element offsets); enums as their names; bytes as Buffer.
const packageDefinition = protoLoader.loadSync(['shardopt/v1/service.proto'], {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(packageDefinition).shardopt.v1;

class ShardoptError extends Error {}

function deadline(ms = RPC_TIMEOUT_MS) {
  return { deadline: Date.now() + ms };
}

function describe(err) {
  return err && err.code !== undefined ? `${grpc.status[err.code]} ${err.details}` : String(err);
}

function unary(stub, method, request) {
  return new Promise((resolve, reject) => {
    stub[method](request, deadline(), (err, response) => (err ? reject(err) : resolve(response)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Little-endian float32 bytes of values[from, from + count). */
function encode(values, from, count) {
  const buf = Buffer.allocUnsafe(count * 4);
  for (let i = 0; i < count; i++) buf.writeFloatLE(values[from + i], i * 4);
  return buf;
}

class Cluster {
  constructor(coordinator) {
    this.target = coordinator;
    this.coordinator = new v1.Coordinator(coordinator, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.workers = new Map();
  }

  worker(address) {
    let stub = this.workers.get(address);
    if (!stub) {
      stub = new v1.Worker(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
      this.workers.set(address, stub);
    }
    return stub;
  }

  close() {
    for (const stub of this.workers.values()) stub.close();
    this.coordinator.close();
  }

  /**
   * Creates a model whose tensors ([name, shape]) start at zero; waits until it is READY.
   * pipelineText is the DSL text, e.g. 'adam(1e-3).warmup(500)', which the coordinator parses (a bad
   * one is INVALID_ARGUMENT with the column).
   */
  async createModel(modelId, pipelineText, tensors, trainers = 1, mode = 'SYNC', readyTimeoutMs = 60000) {
    const model = {
      pipeline_text: pipelineText,
      trainers,
      mode,
      tensors: tensors.map(([name, shape]) => ({ name, shape, init: { zeros: {} } })),
    };
    const created = await unary(this.coordinator, 'CreateModel', { model_id: modelId, model });
    const until = Date.now() + readyTimeoutMs;
    for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
      const m = await unary(this.coordinator, 'GetModel', { name: created.name });
      if (m.state === 'READY') return m;
      if (m.state === 'FAILED') throw new ShardoptError(`${m.name} failed while loading: ${m.failure}`);
      if (Date.now() > until) throw new ShardoptError(`${m.name} is still ${m.state} after ${readyTimeoutMs} ms`);
      await sleep(pause);
    }
  }

  async model(name) {
    const m = await unary(this.coordinator, 'GetModel', { name });
    const map = await unary(this.coordinator, 'GetShardMap', { name });
    return new RemoteModel(this, m, map);
  }

  deleteModel(name) {
    return unary(this.coordinator, 'DeleteModel', { name });
  }
}

class RemoteModel {
  constructor(cluster, model, shardMap) {
    this.cluster = cluster;
    this.name = model.name;
    this.trainers = model.trainers;
    this.sizes = new Map(model.tensors.map((t) => [t.name, t.shape.reduce((a, d) => a * Number(d), 1)]));
    this.workers = new Map(); // address -> that worker's shards; a push covers exactly these
    for (const s of shardMap.shards) {
      if (!this.workers.has(s.address)) this.workers.set(s.address, []);
      this.workers.get(s.address).push(s);
    }
  }

  /** One Push stream to one worker: the header, then that worker's chunks, with flow control. */
  pushOnce(address, header, gradient) {
    return new Promise((resolve, reject) => {
      const call = this.cluster.worker(address).Push(deadline(), (err, r) => (err ? reject(err) : resolve(r)));
      const messages = (function* (shards) {
        yield { header };
        const perChunk = CHUNK_BYTES / 4;
        for (const s of shards) {
          const end = s.offset + s.length;
          for (let at = s.offset; at < end; at += perChunk) {
            const n = Math.min(perChunk, end - at);
            yield { chunk: { tensor: s.tensor, offset: at, data: encode(gradient[s.tensor], at, n) } };
          }
        }
      })(this.workers.get(address));
      const pump = () => {
        for (let next = messages.next(); !next.done; next = messages.next()) {
          if (!call.write(next.value)) {
            call.once('drain', pump); // the transport's buffer is full: go on once it drains
            return;
          }
        }
        call.end();
      };
      pump();
    });
  }

  async pushToWorker(address, header, gradient) {
    let pause = 200;
    for (let attempt = 1; ; attempt++) {
      try {
        // The same (model, trainer, step) every time: a worker that had it answers duplicate.
        return await this.pushOnce(address, header, gradient);
      } catch (err) {
        if (err.code !== grpc.status.UNAVAILABLE || attempt === PUSH_ATTEMPTS) {
          throw new ShardoptError(`push of step ${header.step} (trainer ${header.trainer}) to ${address}: ${describe(err)}`);
        }
        await sleep(pause);
        pause *= 2;
      }
    }
  }

  /** Pushes {tensor: Float32Array} to every worker; true when every worker said duplicate. */
  async push(trainer, step, gradient) {
    for (const [name, size] of this.sizes) {
      if (!gradient[name] || gradient[name].length !== size) {
        throw new Error(`gradient of '${name}' has ${gradient[name] ? gradient[name].length : 'no'} elements, expected ${size}`);
      }
    }
    const header = { model: this.name, trainer, step };
    const answers = await Promise.all([...this.workers.keys()].map((a) => this.pushToWorker(a, header, gradient)));
    return answers.every((r) => r.duplicate);
  }

  pullFromWorker(address, minStep, out, covered) {
    return new Promise((resolve, reject) => {
      let step = null;
      let failed = false;
      const fail = (msg) => {
        failed = true;
        call.cancel();
        reject(new ShardoptError(msg));
      };
      const call = this.cluster.worker(address).Pull({ model: this.name, min_step: minStep }, deadline(PULL_TIMEOUT_MS));
      call.on('data', (r) => {
        if (failed) return;
        if (step !== null && r.step !== step) return fail(`worker ${address} answered with steps ${step} and ${r.step}`);
        step = r.step;
        const c = r.chunk;
        const target = out[c.tensor];
        const n = c.data.length / 4;
        if (!target || !Number.isInteger(n) || c.offset + n > target.length) {
          return fail(`worker ${address} sent ${c.data.length} bytes at ${c.offset} of '${c.tensor}', which the model lacks`);
        }
        for (let i = 0; i < n; i++) {
          if (covered[c.tensor][c.offset + i]) return fail(`worker ${address} sent elements of '${c.tensor}' twice`);
          covered[c.tensor][c.offset + i] = 1;
          target[c.offset + i] = c.data.readFloatLE(i * 4);
        }
      });
      call.on('error', (err) => {
        if (!failed) reject(new ShardoptError(`pull of ${this.name} at step ${minStep} from ${address}: ${describe(err)}`));
      });
      call.on('end', () => {
        if (!failed) resolve(step);
      });
    });
  }

  /** {step, params: {tensor: Float32Array}} once the model has completed minStep steps. */
  async pull(minStep) {
    let steps = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const params = {};
      const covered = {};
      for (const [name, size] of this.sizes) {
        params[name] = new Float32Array(size);
        covered[name] = new Uint8Array(size);
      }
      steps = await Promise.all([...this.workers.keys()].map((a) => this.pullFromWorker(a, minStep, params, covered)));
      for (const [name, size] of this.sizes) {
        const missing = covered[name].indexOf(0);
        if (missing >= 0) throw new ShardoptError(`pull of ${this.name}: element ${missing} of '${name}' (of ${size}) is missing`);
      }
      if (new Set(steps).size === 1) return { step: steps[0], params };
      minStep = Math.max(...steps); // workers at different steps (ASYNC): pull again at the newest
    }
    throw new ShardoptError(`pull of ${this.name}: the workers answered with different steps ${steps}`);
  }
}

module.exports = { Cluster, RemoteModel, ShardoptError, describe, grpc };
