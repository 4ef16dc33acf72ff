'use strict';
// The language-neutral training recipe of the cross-language examples: the same operations in the
// same order as examples/python/digits_recipe.py (which documents the recipe) and
// examples/src/main/java/dev/shardopt/examples/SoftmaxTrainer.java, all in float64 with plain
// loops, the gradient then cast to float32.

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const DATA = path.join(__dirname, '..', 'data', 'digits.csv.gz');
// The pipeline in the DSL text form, sent as is (Model.pipeline_text); the coordinator parses it.
const PIPELINE_TEXT = 'adam(0.05)';
const FEATURES = 64;
const CLASSES = 10;
const BATCH = 50;
const TRAINERS = 2;
const STEPS = 150;
const TENSORS = [['W', [FEATURES, CLASSES]], ['b', [CLASSES]]];

/** {xTrain, yTrain, xTest, yTest}: x as arrays of Float64Array(64) scaled by 1/16, y as ints. */
function loadDigits(file = DATA) {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  const out = { xTrain: [], yTrain: [], xTest: [], yTest: [] };
  let i = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const cells = line.trim().split(',').map(Number);
    if (cells.length !== FEATURES + 1) {
      throw new Error(`${file}: row ${i} has ${cells.length} columns, expected ${FEATURES + 1}`);
    }
    const x = new Float64Array(FEATURES);
    for (let k = 0; k < FEATURES; k++) x[k] = cells[k] / 16;
    if (i % 5 === 0) {
      out.xTest.push(x);
      out.yTest.push(cells[FEATURES]);
    } else {
      out.xTrain.push(x);
      out.yTrain.push(cells[FEATURES]);
    }
    i++;
  }
  return out;
}

/** Indices into the train rows of trainer `rank`'s part of step `step`'s batch. */
function trainerRows(step, rank, nTrain) {
  const per = BATCH / TRAINERS;
  const start = (step * BATCH) % nTrain;
  const rows = [];
  for (let j = rank * per; j < rank * per + per; j++) rows.push((start + j) % nTrain);
  return rows;
}

/** z [10] of one row in float64 (w: Float32Array(640) row-major [64, 10], b: Float32Array(10)). */
function logits(x, w, b) {
  const z = new Float64Array(CLASSES);
  for (let j = 0; j < CLASSES; j++) z[j] = b[j];
  for (let k = 0; k < FEATURES; k++) {
    for (let j = 0; j < CLASSES; j++) z[j] += x[k] * w[k * CLASSES + j];
  }
  return z;
}

/** {W: Float32Array(640), b: Float32Array(10)}: the gradient of the mean cross-entropy over the rows. */
function gradient(xs, ys, w, b) {
  const n = xs.length;
  const gw = new Float64Array(FEATURES * CLASSES);
  const gb = new Float64Array(CLASSES);
  for (let i = 0; i < n; i++) {
    const z = logits(xs[i], w, b);
    let m = z[0];
    for (let j = 1; j < CLASSES; j++) if (z[j] > m) m = z[j];
    const e = new Float64Array(CLASSES);
    for (let j = 0; j < CLASSES; j++) e[j] = Math.exp(z[j] - m);
    let s = e[0];
    for (let j = 1; j < CLASSES; j++) s += e[j];
    const d = new Float64Array(CLASSES);
    for (let j = 0; j < CLASSES; j++) d[j] = (e[j] / s - (j === ys[i] ? 1 : 0)) / n;
    for (let k = 0; k < FEATURES; k++) {
      for (let j = 0; j < CLASSES; j++) gw[k * CLASSES + j] += xs[i][k] * d[j];
    }
    for (let j = 0; j < CLASSES; j++) gb[j] += d[j];
  }
  return { W: Float32Array.from(gw), b: Float32Array.from(gb) };
}

function accuracy(xs, ys, w, b) {
  let right = 0;
  for (let i = 0; i < xs.length; i++) {
    const z = logits(xs[i], w, b);
    let best = 0;
    for (let j = 1; j < CLASSES; j++) if (z[j] > z[best]) best = j;
    if (best === ys[i]) right++;
  }
  return right / xs.length;
}

module.exports = {
  PIPELINE_TEXT, FEATURES, CLASSES, BATCH, TRAINERS, STEPS, TENSORS,
  loadDigits, trainerRows, logits, gradient, accuracy,
};
