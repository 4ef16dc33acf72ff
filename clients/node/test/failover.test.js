'use strict';
// A replicated model keeps training through the package when a worker is killed (kill -9): pushes
// and pulls that the dead worker does not answer go, once the coordinator has moved its shards to
// their backups, to the copies the new shard map lists. Nothing is lost: the parameters after every
// step are bit for bit those of the same training on a model whose workers all stay up.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const shardopt = require('..');
const { startCluster } = require('./harness');

let servers;
let cluster;
before(async () => {
  servers = await startCluster({ workers: 3 });
  cluster = shardopt.connect(servers.coordinator, { failoverWaitMs: 30000 });
});
after(() => {
  if (cluster) cluster.close();
  if (servers) servers.stop();
});

const N = 5 * 8192 + 100; // six blocks: shards on every worker
const STEPS = 8;
const KILL_AFTER = 3;

function values(n, seed) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed * 1000 + i * 0.37);
  return out;
}

async function train(id, onStep) {
  const model = await cluster.createModel(id, {
    pipeline: 'adam(0.01).clipNorm(5.0)', tensors: { w: values(N, 1), b: { shape: [7], init: { constant: 0.5 } } }, trainers: 2, replicas: 2,
  });
  const trainers = [model.trainer(0), model.trainer(1)];
  const trajectory = [];
  for (let step = 0; step < STEPS; step++) {
    await onStep(step, model);
    const [p0, p1] = await Promise.all(trainers.map((t) => t.pull()));
    assert.deepEqual(p0, p1);
    trajectory.push(p0);
    await Promise.all(trainers.map((t, k) => t.push(step, { w: values(N, 10 + 2 * step + k), b: values(7, 50 + step + k) })));
  }
  trajectory.push(await trainers[0].pull());
  return { model, trajectory };
}

test('a replicated model trains on through a killed worker, bit for bit as without the fault', async () => {
  const reference = await train('node-replicated-ref', async () => {});
  let epochBefore = null;
  const faulted = await train('node-replicated-kill', async (step, model) => {
    if (step === 0) epochBefore = model.layout.epoch;
    if (step === KILL_AFTER) {
      // The worker holding the primary of w's first shard.
      assert.equal(model.layout.workers.size, 3, 'copies on all three workers');
      const victim = [...model.layout.pullSources.keys()][0];
      assert.ok(servers.workers.includes(victim));
      await servers.killWorker(servers.workers.indexOf(victim));
    }
  });
  assert.ok(faulted.model.layout.epoch > epochBefore, `the shard map moved (epoch ${epochBefore} -> ${faulted.model.layout.epoch})`);
  assert.equal(faulted.model.layout.workers.size, 2, 'the new map names the two live workers');
  assert.equal(faulted.trajectory.length, STEPS + 1);
  faulted.trajectory.forEach((p, s) => assert.deepEqual(p, reference.trajectory[s], `parameters after ${s} steps`));
  assert.notDeepEqual(faulted.trajectory[STEPS].w, faulted.trajectory[0].w);
});
