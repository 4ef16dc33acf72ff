#!/usr/bin/env node
'use strict';
// Softmax regression on the digits data, trained on a Shardopt cluster by 2 trainer processes.
//
//   (cd examples/node && npm ci)
//   node examples/node/softmax_trainer.js --coordinator 127.0.0.1:7070 --model digits-node --out /tmp/params-node.json
//
// The driver (this process) creates the model (SYNC, 2 trainers, W [64,10] and b [10] zeros,
// pipeline "adam(0.05)" as DSL text), starts two trainer processes (this script with --rank 0 and
// --rank 1), each of which pulls the parameters of every step and pushes its gradient directly to
// the workers of the shard map. Once both are done it pulls the final parameters
// (min_step = steps), prints the test accuracy and writes the parameters to --out as JSON.

const fs = require('fs');
const { spawn } = require('child_process');
const recipe = require('./digits_recipe');
const { Cluster, ShardoptError, describe } = require('./shardopt_client');

function parseArgs(argv) {
  const args = { model: 'digits-node', steps: recipe.STEPS, timeout: 300, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--coordinator': args.coordinator = value(); break;
      case '--model': args.model = value(); break;
      case '--steps': args.steps = Number(value()); break;
      case '--out': args.out = value(); break;
      case '--timeout': args.timeout = Number(value()); break;
      case '--keep': args.keep = true; break;
      case '--rank': args.rank = Number(value()); break;
      case '--model-name': args.modelName = value(); break;
      default: throw new Error(`unknown argument ${flag}; usage: --coordinator HOST:PORT [--model ID] [--steps N] [--out FILE] [--keep]`);
    }
  }
  if (!args.coordinator) throw new Error('--coordinator HOST:PORT is required');
  return args;
}

async function train(args) {
  const data = recipe.loadDigits();
  const cluster = new Cluster(args.coordinator);
  try {
    const model = await cluster.model(args.modelName);
    for (let step = 0; step < args.steps; step++) {
      const { step: version, params } = await model.pull(step); // SYNC: waits for `step` steps
      if (version !== step) throw new ShardoptError(`pulled version ${version} for step ${step}`);
      const rows = recipe.trainerRows(step, args.rank, data.xTrain.length);
      const g = recipe.gradient(rows.map((i) => data.xTrain[i]), rows.map((i) => data.yTrain[i]), params.W, params.b);
      await model.push(args.rank, step, g);
    }
  } finally {
    cluster.close();
  }
}

/** A promise of the child's outcome: 0, or why it failed. Made at spawn, so that no exit is missed. */
function exited(child) {
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve(code === 0 ? 0 : `exit ${code === null ? signal : code}`));
    child.on('error', (err) => resolve(`could not start: ${err.message}`));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function drive(args) {
  const started = Date.now();
  const data = recipe.loadDigits();
  const cluster = new Cluster(args.coordinator);
  try {
    const created = await cluster.createModel(args.model, recipe.PIPELINE_TEXT, recipe.TENSORS, recipe.TRAINERS);
    const workers = (await cluster.model(created.name)).workers.size;
    console.log(`created ${created.name} (${created.trainers} trainers) on ${workers} worker(s); `
      + `training ${args.steps} steps on ${data.xTrain.length} rows`);
    const children = [];
    for (let r = 0; r < recipe.TRAINERS; r++) {
      const child = spawn(process.execPath, [__filename, '--coordinator', args.coordinator, '--model-name', created.name,
        '--rank', String(r), '--steps', String(args.steps)], { stdio: 'inherit' });
      children.push({ child, outcome: exited(child) });
    }
    // Wait for both, bounded; when one fails, stop the other (it would wait for the failed one's pushes).
    const until = Date.now() + args.timeout * 1000;
    const codes = children.map(() => undefined);
    children.forEach(({ outcome }, r) => outcome.then((code) => { codes[r] = code; }));
    let timedOut = false;
    while (codes.includes(undefined) && codes.every((c) => c === undefined || c === 0)) {
      if (Date.now() > until) {
        timedOut = true;
        break;
      }
      await sleep(50);
    }
    const failed = codes.flatMap((c, r) => (c === undefined || c === 0 ? [] : [`trainer ${r}: ${c}`]));
    if (timedOut) failed.push(`the trainers did not finish within ${args.timeout} s`);
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (failed.length > 0) throw new ShardoptError(failed.join('; '));
    const final = await cluster.model(created.name);
    const { step, params } = await final.pull(args.steps);
    const acc = recipe.accuracy(data.xTest, data.yTest, params.W, params.b);
    console.log(`node: ${step} steps in ${((Date.now() - started) / 1000).toFixed(1)} s; test accuracy ${acc.toFixed(4)}`);
    if (args.out) {
      const tensors = {};
      for (const [name] of recipe.TENSORS) tensors[name] = Array.from(params[name]);
      fs.writeFileSync(args.out, JSON.stringify({ language: 'node', model: created.name, step, accuracy: acc, tensors }));
    }
    if (!args.keep) await cluster.deleteModel(created.name);
  } finally {
    cluster.close();
  }
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`softmax_trainer: ${e.message}`);
    return 2;
  }
  try {
    await (args.rank !== undefined ? train(args) : drive(args));
    return 0;
  } catch (e) {
    const who = args.rank !== undefined ? `trainer ${args.rank}` : 'driver';
    console.error(`softmax_trainer (${who}): ${e instanceof ShardoptError ? e.message : describe(e)}`);
    return 1;
  }
}

main().then((code) => {
  // On failure, exit now: a pull still waiting on another worker would otherwise keep the process alive.
  if (code !== 0) process.exit(code);
});
