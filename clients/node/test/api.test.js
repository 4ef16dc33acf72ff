'use strict';
// The package's API against a real local cluster (coordinator + 2 workers via ./shardopt): uploads,
// pulls and pushes of large tensors through two trainers checked against Adam computed here from
// its formula, duplicates, pipeline updates and metrics, checkpoint and restore, the parser's
// messages, and errors as Error subclasses with their gRPC code.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const shardopt = require('..');
const { startCluster } = require('./harness');
const { readNpy } = require('./npy');

let servers;
let cluster;
before(async () => {
  servers = await startCluster({ workers: 2 });
  cluster = shardopt.connect(servers.coordinator);
});
after(() => {
  if (cluster) cluster.close();
  if (servers) servers.stop();
});

/** A deterministic float32 array in [-scale, scale) (mulberry32). */
function randomArray(n, seed, scale = 1) {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

function assertWithin(got, exp, what) {
  for (let i = 0; i < exp.length; i++) {
    const bound = 2e-6 + 2e-5 * Math.abs(exp[i]);
    if (!(Math.abs(got[i] - exp[i]) <= bound)) assert.fail(`${what}: element ${i} is ${got[i]}, expected ${exp[i]} within ${bound}`);
  }
}

// 1.5M elements: 6 MB, more than one 4 MiB chunk and more than one 8192-element block per worker.
const BIG = 1_500_000;

test('createModel uploads Float32Array values and generated initializers; pull returns them bit for bit', async () => {
  const w = randomArray(BIG, 1);
  const small = randomArray(12, 2);
  const model = await cluster.createModel('node-upload', {
    pipeline: 'sgd(0.1)',
    tensors: { w, small: { values: small, shape: [3, 4] }, c: { shape: [5], init: { constant: 0.25 } }, z: { shape: [2, 2] } },
  });
  try {
    assert.equal(model.layout.workers.size, 2, 'the big tensor is sharded over both workers');
    const info = await model.describe();
    assert.equal(info.state, 'READY');
    assert.deepEqual(info.tensors.map((t) => [t.name, t.shape]), [['w', [BIG]], ['small', [3, 4]], ['c', [5]], ['z', [2, 2]]]);
    const p = await model.trainer(0).pull();
    assert.deepEqual(Object.keys(p), ['w', 'small', 'c', 'z']);
    assert.ok(p.w instanceof Float32Array);
    assert.deepEqual(p.w, w);
    assert.deepEqual(p.small, small);
    assert.deepEqual(p.c, new Float32Array(5).fill(0.25));
    assert.deepEqual(p.z, new Float32Array(4));
  } finally {
    await model.delete();
  }
});

test('two trainers train a 1.5M-element tensor with Adam: each step is Adam of the trainers\' mean, computed here', async () => {
  const lr = 0.01;
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  const init = randomArray(BIG, 3);
  const model = await cluster.createModel('node-adam', { pipeline: `adam(${lr})`, tensors: { w: init, b: new Float32Array([1, -1]) }, trainers: 2 });
  try {
    const t0 = model.trainer(0);
    const t1 = model.trainer(1);
    const theta = Float64Array.from(init);
    const m = new Float64Array(BIG);
    const v = new Float64Array(BIG);
    for (let step = 0; step < 3; step++) {
      const [p0, p1] = await Promise.all([t0.pull(), t1.pull()]);
      assert.deepEqual(p0.w, p1.w, 'both trainers pull the same version');
      if (step === 0) assert.deepEqual(p0.w, init);
      else assertWithin(p0.w, theta, `w after step ${step - 1}`);
      const g0 = randomArray(BIG, 100 + step);
      const g1 = randomArray(BIG, 200 + step, 0.5);
      const answers = await Promise.all([t0.push(step, { w: g0, b: new Float32Array(2) }), t1.push(step, { w: g1, b: new Float32Array(2) })]);
      assert.deepEqual(answers, [{ step, duplicate: false }, { step, duplicate: false }]);
      assert.equal(t0.nextStep, step + 1);
      const k = step + 1;
      for (let i = 0; i < BIG; i++) {
        const g = Math.fround(Math.fround(g0[i] + g1[i]) / 2); // the mean: float32 sum in trainer order, / K
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        theta[i] -= (lr * (m[i] / (1 - b1 ** k))) / (Math.sqrt(v[i] / (1 - b2 ** k)) + eps);
      }
    }
    const final = await t0.pull();
    assertWithin(final.w, theta, 'w after step 2');
    assert.deepEqual(final.b, new Float32Array([1, -1]), 'a zero gradient leaves b as it was');
  } finally {
    await model.delete();
  }
});

test('a push sent again is a duplicate; the same step with other data is ALREADY_EXISTS', async () => {
  const model = await cluster.createModel('node-dup', { pipeline: 'sgd(0.5)', tensors: { w: new Float32Array([1, 2, 3]) } });
  try {
    const t = model.trainer(0);
    const g = new Float32Array([1, 1, 1]);
    assert.deepEqual(await t.push(0, { w: g }), { step: 0, duplicate: false });
    assert.deepEqual(await t.push(0, { w: g }), { step: 0, duplicate: true });
    await assert.rejects(t.push(0, { w: new Float32Array([2, 2, 2]) }), (e) => {
      assert.ok(e instanceof shardopt.AlreadyExistsError && e instanceof shardopt.ShardoptError && e instanceof Error);
      assert.equal(e.code, shardopt.status.ALREADY_EXISTS);
      assert.equal(e.codeName, 'ALREADY_EXISTS');
      assert.match(e.details, /other data/);
      assert.ok(servers.workers.includes(e.address), `the worker's address, got ${e.address}`);
      return true;
    });
    assert.deepEqual(await t.pull(), { w: new Float32Array([0.5, 1.5, 2.5]) }, 'applied once: w - 0.5·g');
  } finally {
    await model.delete();
  }
});

test('updatePipeline changes the learning rate from its step; metrics show each step\'s lr, norm and generation', async () => {
  const model = await cluster.createModel('node-update', { pipeline: 'sgd(0.1)', tensors: { w: new Float32Array([1, -2]) } });
  try {
    const t = model.trainer(0);
    const grads = [[3, 4], [1, 0], [0, 2], [-1, 1]];
    let w = [1, -2];
    for (let step = 0; step < 4; step++) {
      if (step === 1) { // step 0 decided fixes the schedule through step 1: step 2 is the earliest change
        const updated = await model.updatePipeline('sgd(0.01)', 2);
        assert.deepEqual(updated.schedule.map((g) => [g.generation, g.fromStep]), [[0, 0], [1, 2]]);
        assert.equal(updated.schedule[1].pipeline.sgd.lr, 0.01);
      }
      await t.pull();
      await t.push(step, { w: new Float32Array(grads[step]) });
      const lr = step < 2 ? 0.1 : 0.01;
      w = w.map((x, i) => Math.fround(x - Math.fround(Math.fround(lr) * grads[step][i])));
    }
    const final = await t.pull();
    assertWithin(final.w, w, 'w after 4 steps');
    const metrics = await model.metrics();
    assert.equal(metrics.model, 'models/node-update');
    assert.deepEqual(metrics.steps.map((s) => [s.step, s.learningRate, s.generation, s.skipped]),
      [[0, 0.1, 0, false], [1, 0.1, 0, false], [2, 0.01, 1, false], [3, 0.01, 1, false]]);
    metrics.steps.forEach((s, i) => assert.ok(Math.abs(s.gradientNorm - Math.hypot(...grads[i])) < 1e-9, `norm of step ${i}`));
    assert.deepEqual((await model.metrics({ fromStep: 3 })).steps.map((s) => s.step), [3]);
    await assert.rejects(model.updatePipeline('sgd(0.5)', 1), (e) => e instanceof shardopt.FailedPreconditionError && /at_step/.test(e.message));
  } finally {
    await model.delete();
  }
});

test('a bad pipeline text gets the parser\'s message and column, and nothing is created', async () => {
  const text = 'adam(1e-3).warmup(500).cosin(1e5)';
  await assert.rejects(cluster.createModel('node-bad', { pipeline: text, tensors: { w: new Float32Array(2) } }), (e) => {
    assert.ok(e instanceof shardopt.InvalidArgumentError);
    assert.equal(e.code, 3);
    assert.equal(e.details, "model.pipeline_text: unknown method 'cosin' at column 24 — did you mean 'cosine'?");
    return true;
  });
  assert.ok(!(await cluster.listModels()).includes('node-bad'));
  const check = await cluster.parsePipeline(text);
  assert.deepEqual(check, {
    valid: false, canonicalText: null, pipeline: null,
    errors: [{ field: 'pipeline_text', message: "unknown method 'cosin' at column 24 — did you mean 'cosine'?", column: 24 }],
  });
  // Two spellings of one pipeline: valid, the same canonical text, the message with every effective value.
  const a = await cluster.parsePipeline('adam(0.001).clipNorm(1.0)');
  const b = await cluster.parsePipeline('adam().beta1(0.9).clipNorm(1)');
  assert.equal(a.valid, true);
  assert.deepEqual(a.errors, []);
  assert.equal(a.canonicalText, b.canonicalText);
  assert.equal(a.pipeline.adam.lr, 0.001);
  assert.equal(a.pipeline.adam.beta2, 0.999);
  assert.equal(a.pipeline.clipping.norm, 1);
  const globs = await cluster.parsePipeline('sgd().lrScale("*.w", 2).lrScale("a.*", 3)', { tensorNames: ['a.w'] });
  assert.equal(globs.valid, false);
  assert.match(globs.errors[0].field, /^tensor_names/);
  assert.match(globs.errors[0].message, /a\.w/);
  const model = await cluster.createModel('node-bad-update', { pipeline: 'sgd(0.1)', tensors: { w: new Float32Array(2) } });
  try {
    await assert.rejects(model.updatePipeline('sgd(0.1).clipNrom(1)', 5), (e) => e instanceof shardopt.InvalidArgumentError
      && /unknown method 'clipNrom' at column 10 — did you mean 'clipNorm'\?/.test(e.details));
    assert.deepEqual((await model.describe()).schedule.map((g) => g.generation), [0], 'the refused change left the schedule as it was');
  } finally {
    await model.delete();
  }
});

test('checkpoint writes the state at a step; restoreModel continues from it with the same parameters', async () => {
  const dir = path.join(servers.dir, 'checkpoints');
  const init = randomArray(20000, 7);
  const model = await cluster.createModel('node-ckpt', { pipeline: 'adam(0.01)', tensors: { 'layer.0.w': { values: init, shape: [200, 100] } } });
  const t = model.trainer(0);
  for (let step = 0; step < 3; step++) {
    await t.pull();
    await t.push(step, { 'layer.0.w': randomArray(20000, 50 + step) });
  }
  const atThree = await t.pull();
  const info = await model.checkpoint(dir, { atStep: 3 });
  assert.equal(info.step, 3);
  assert.equal(info.model, 'models/node-ckpt');
  assert.equal(info.path, path.join(dir, 'step-0000000003'));
  assert.ok(info.bytes >= 3 * 20000 * 4, `parameters, m and v: ${info.bytes} bytes`);
  // The checkpoint's own file of the parameters, read with an independent NPY reader.
  const file = readNpy(path.join(info.path, 'layer%2E0%2Ew.npy'));
  assert.deepEqual(file.shape, [200, 100]);
  assert.deepEqual(file.data, atThree['layer.0.w']);
  await model.delete();
  const restored = await cluster.restoreModel('node-ckpt-restored', dir);
  try {
    const r = restored.trainer(0);
    assert.equal(r.nextStep, 3, 'trainers continue at the checkpoint\'s step');
    assert.deepEqual(await r.pull(), atThree);
    await r.push(3, { 'layer.0.w': randomArray(20000, 53) });
    const after = await r.pullParameters();
    assert.equal(after.step, 4);
    assert.notDeepEqual(after.tensors, atThree);
  } finally {
    await restored.delete();
  }
});

test('errors are Error subclasses with the gRPC code; local checks fail before anything is sent', async () => {
  await assert.rejects(cluster.model('nope'), (e) => {
    assert.ok(e instanceof shardopt.NotFoundError);
    assert.equal(e.code, 5);
    assert.equal(e.name, 'NotFoundError');
    assert.match(e.message, /^GetModel of models\/nope: NOT_FOUND /);
    assert.equal(e.address, servers.coordinator);
    return true;
  });
  const model = await cluster.createModel('node-errors', { pipeline: 'sgd(0.1)', tensors: { w: new Float32Array(4) }, trainers: 2 });
  try {
    const t = model.trainer(1);
    await assert.rejects(t.push(0, { w: new Float32Array(3) }), (e) => e instanceof shardopt.InvalidArgumentError
      && e.address === undefined && /gradient of 'w' has 3 elements, expected 4/.test(e.message));
    await assert.rejects(t.push(0, { w: new Float32Array(4), extra: new Float32Array(1) }), /has tensor 'extra', which the model lacks/);
    await assert.rejects(t.push(0, { w: [0, 0, 0, 0] }), /must be a Float32Array/);
    assert.throws(() => model.trainer(2), (e) => e instanceof shardopt.InvalidArgumentError && /rank must be in \[0, 2\), got 2/.test(e.message));
    await assert.rejects(t.push(1, { w: new Float32Array(4) }), (e) => e instanceof shardopt.FailedPreconditionError && e.code === 9);
    await assert.rejects(cluster.createModel('node-errors', { pipeline: 'sgd(0.1)', tensors: { w: new Float32Array(4) } }), shardopt.AlreadyExistsError);
    await assert.rejects(cluster.createModel('x', { pipeline: 'sgd()', tensors: { w: { values: new Float32Array(6), shape: [4, 2] } } }),
      /tensor 'w': shape \[4,2\] has 8 elements, but values has 6/);
  } finally {
    await model.delete();
  }
  assert.throws(() => shardopt.connect('no-port'), /address must be host:port/);
  assert.throws(() => shardopt.connect('127.0.0.1:1', { tlsCert: '/nonexistent.pem' }), /tlsCert and tlsKey go together/);
  assert.throws(() => shardopt.connect('127.0.0.1:1', { tlsCa: '/nonexistent.pem' }), (e) => e instanceof shardopt.InvalidArgumentError && /tlsCa \/nonexistent.pem cannot be read/.test(e.message));
  const nobody = shardopt.connect('127.0.0.1:1', { deadlineMs: 2000 });
  try {
    await assert.rejects(nobody.listModels(), (e) => e instanceof shardopt.UnavailableError || e instanceof shardopt.DeadlineExceededError);
  } finally {
    nobody.close();
  }
});

test('ASYNC: a push under a pipeline changed by another client is refused, re-read and sent under the new one', async () => {
  const model = await cluster.createModel('node-async-gen', { pipeline: 'sgd(0.1)', tensors: { w: new Float32Array([1, 1, 1, 1]) }, mode: 'ASYNC' });
  try {
    const t = model.trainer(0);
    await t.push(0, { w: new Float32Array([0.1, 0.1, 0.1, 0.1]) });
    await t.push(1, { w: new Float32Array([0.1, 0.1, 0.1, 0.1]) });
    // Another client schedules clipValue + clipNorm from step 3: this model object still knows generation 0 only.
    const other = await cluster.model('node-async-gen');
    await other.updatePipeline('sgd(0.1).clipValue(0.5).clipNorm(1.0)', 3);
    await t.push(2, { w: new Float32Array([0.1, 0.1, 0.1, 0.1]) });
    const g = [2, -3, 0.25, 0.4];
    await t.push(3, { w: new Float32Array(g) });
    assert.equal(model.schedule.length, 2, 'the push re-read the schedule');
    // Step 3 under generation 1, computed here: clamp to ±0.5, then scale by min(1, 1/(‖g‖ + 1e-6)).
    const clamped = g.map((x) => Math.max(-0.5, Math.min(0.5, x)));
    const coef = Math.min(1, 1 / (Math.hypot(...clamped) + 1e-6));
    const expected = clamped.map((x) => 1 - 3 * 0.1 * 0.1 - 0.1 * coef * x);
    const { step, tensors } = await t.pullParameters(4);
    assert.equal(step, 4);
    assertWithin(tensors.w, expected, 'w after the step under generation 1');
  } finally {
    await model.delete();
  }
});
