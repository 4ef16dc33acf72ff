'use strict';
// A pull of an ASYNC model whose workers answer at different steps, against stand-in servers served
// by @grpc/grpc-js in this process (a coordinator answering GetModel and GetShardMap, workers whose
// Pull the test scripts): only the workers behind are pulled again, with min_step the highest step
// seen, keeping the answers of those already at it; after 8 attempts in all, ABORTED naming each
// worker's step. A failover meanwhile still pulls everything again from the new map's copies.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const grpc = require('@grpc/grpc-js');
const shardopt = require('..');
const { v1 } = require('../lib/protos');

const MODEL = 'models/m';

/** What a worker holds of w at `step`: element i is 10 * step + i (each step's values differ). */
function valuesAt(step, offset) {
  return Float32Array.from([0, 1], (i) => 10 * step + offset + i);
}

function bind(server) {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(`127.0.0.1:${port}`)));
  });
}

/**
 * A worker holding w[offset, offset + 2): answers a pull at the step `stepFor(min_step)` with
 * valuesAt that step (UNAVAILABLE when it is null), recording each request's min_step. `strays(step)`:
 * offsets of more 2-element chunks it sends at that step (a faulty worker).
 */
async function steppedWorker(offset, stepFor, strays = () => []) {
  const server = new grpc.Server();
  const minSteps = [];
  server.addService(v1().Worker.service, {
    Pull(call) {
      minSteps.push(call.request.min_step);
      const step = stepFor(call.request.min_step);
      if (step === null) {
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'fenced' });
        return;
      }
      for (const at of [offset, ...strays(step)]) {
        call.write({ step, chunk: { tensor: 'w', offset: at, data: Buffer.from(valuesAt(step, at).buffer) } });
      }
      call.end();
    },
  });
  return { server, minSteps, address: await bind(server) };
}

/** A coordinator: model m (w: 4 elements, ASYNC, 2 trainers); GetShardMap answers `maps()`. */
async function coordinator(maps) {
  const server = new grpc.Server();
  server.addService(v1().Coordinator.service, {
    GetModel(call, callback) {
      callback(null, { name: MODEL, state: 'READY', mode: 'ASYNC', trainers: 2, tensors: [{ name: 'w', shape: [4] }] });
    },
    GetShardMap(call, callback) {
      callback(null, maps());
    },
  });
  return { server, address: await bind(server) };
}

/** A map of w (4 elements): [0, 2) and [2, 4) on their primaries, each with the backup `backup` if given. */
function shardMap(epoch, first, second, backup = null) {
  const shards = [];
  for (const [offset, primary] of [[0, first], [2, second]]) {
    shards.push({ tensor: 'w', tensor_index: 0, offset, length: 2, address: primary, replica: 0 });
    if (backup !== null && backup !== primary) shards.push({ tensor: 'w', tensor_index: 0, offset, length: 2, address: backup, replica: 1 });
  }
  return { model: MODEL, epoch, block_size: 8192, shards };
}

/** Runs `body(model, ...workers)` against a cluster of `workers` and a coordinator answering `maps(...addresses)`. */
async function withCluster(workers, maps, body) {
  const started = await Promise.all(workers.map(([offset, stepFor, strays]) => steppedWorker(offset, stepFor, strays)));
  const addresses = started.map((w) => w.address);
  const held = [maps(...addresses)];
  const coord = await coordinator(() => held[held.length - 1]);
  const cluster = shardopt.connect(coord.address, { failoverWaitMs: 10000 });
  try {
    const model = await cluster.model('m');
    await body(model, started, (next) => held.push(next));
  } finally {
    cluster.close();
    for (const s of [coord, ...started]) s.server.forceShutdown();
  }
}

test('only the worker behind is pulled again, at the step of the one ahead, keeping the other answer', async () => {
  await withCluster([
    [0, (min) => Math.max(min, 5)],
    [2, (min) => (min < 5 ? 4 : min)], // reaches 5 when asked for it
  ], (a, b) => shardMap(1, a, b), async (model, [ahead, behind]) => {
    const { step, tensors } = await model.trainer(0).pullParameters(0);
    assert.equal(step, 5);
    assert.deepEqual(tensors.w, Float32Array.from([50, 51, 52, 53]));
    assert.deepEqual(ahead.minSteps, [0], 'the worker at step 5 was asked once, its answer kept');
    assert.deepEqual(behind.minSteps, [0, 5], 'the worker at step 4 was asked again at min_step 5');
  });
});

test('workers that never agree fail with ABORTED after 8 attempts, naming the steps', async () => {
  // Each answers past the step asked for (pushes keep landing): the one pulled again is always ahead.
  await withCluster([
    [0, (min) => min + 1],
    [2, (min) => min + 2],
  ], (a, b) => shardMap(1, a, b), async (model, [a, b]) => {
    await assert.rejects(model.trainer(0).pullParameters(0), (e) => {
      assert.ok(e instanceof shardopt.ShardoptError);
      assert.equal(e.code, grpc.status.ABORTED);
      for (const part of [`pull of ${MODEL}`, 'different steps after 8 attempts', `worker ${a.address} at step 12`, `worker ${b.address} at step 11`]) {
        assert.ok(e.message.includes(part), `'${part}' in: ${e.message}`);
      }
      return true;
    });
    // attempt 1: a 1, b 2; then the one behind at the other's step: a 3, b 5, a 6, b 8, a 9, b 11, a 12
    assert.deepEqual(a.minSteps, [0, 2, 5, 8, 11]);
    assert.deepEqual(b.minSteps, [0, 3, 6, 9]);
  });
});

test('the answer pulled again is checked against the answers kept', async () => {
  await withCluster([
    [0, (min) => Math.max(min, 5)],
    // at step 5 it also sends [0, 2), which the kept answer of the worker ahead covers
    [2, (min) => (min < 5 ? 4 : min), (step) => (step === 5 ? [0] : [])],
  ], (a, b) => shardMap(1, a, b), async (model, [, faulty]) => {
    await assert.rejects(model.trainer(0).pullParameters(0), (e) => {
      assert.equal(e.code, grpc.status.INTERNAL);
      assert.ok(e.message.includes(`pull of ${MODEL}: elements 0.. of 'w' were sent twice`), e.message);
      return true;
    });
    assert.deepEqual(faulty.minSteps, [0, 5]);
  });
});

test('a failover while pulling the worker behind pulls everything again from the new map\'s copies', async () => {
  let moveMap = null;
  let addresses = null;
  await withCluster([
    [0, (min) => Math.max(min, 5)],
    [2, (min) => {
      if (min < 5) return 4;
      moveMap(shardMap(2, addresses[0], addresses[2], addresses[2])); // declared dead: its backup promoted
      return null;
    }],
    [2, (min) => Math.max(min, 5)], // the backup of both ranges
  ], (a, b, c) => {
    addresses = [a, b, c];
    return shardMap(1, a, b, c);
  }, async (model, [ahead, dying, promoted], push) => {
    moveMap = push;
    const { step, tensors } = await model.trainer(0).pullParameters(0);
    assert.equal(step, 5);
    assert.deepEqual(tensors.w, Float32Array.from([50, 51, 52, 53]));
    assert.equal(model.layout.epoch, 2);
    assert.deepEqual(dying.minSteps, [0, 5]);
    assert.deepEqual(ahead.minSteps, [0, 5], 'after the failover, every worker of the new map is pulled again');
    assert.deepEqual(promoted.minSteps, [5]);
  });
});
