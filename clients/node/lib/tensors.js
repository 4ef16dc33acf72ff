'use strict';
// Tensors on the client side: the specs createModel accepts, the shard layout a push, pull or
// upload follows, and float32 <-> little-endian bytes.

const os = require('os');
const { invalidArgument, errorOf } = require('./errors');
const { status } = require('@grpc/grpc-js');

const LITTLE_ENDIAN = os.endianness() === 'LE';
const INITIALIZERS = ['zeros', 'constant', 'normal', 'uniform'];

function elementsOf(shape) {
  return shape.reduce((a, d) => a * d, 1);
}

function checkShape(where, shape) {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalidArgument(`${where}: shape must be an array of whole numbers >= 0, got ${JSON.stringify(shape)}`);
  }
  return shape.slice();
}

/** The proto Initializer of an initializer spec ('zeros', {constant: 0.5}, {normal: {mean, std, seed}}, ...). */
function initializer(where, init) {
  if (init === 'zeros') return { zeros: {} };
  const keys = init !== null && typeof init === 'object' ? Object.keys(init) : [];
  if (keys.length !== 1 || !INITIALIZERS.includes(keys[0])) {
    throw invalidArgument(`${where}: init must be 'zeros', {constant: v}, {normal: {mean, std, seed}} or {uniform: {low, high, seed}}, got ${JSON.stringify(init)}`);
  }
  const kind = keys[0];
  const v = init[kind];
  if (kind === 'zeros') return { zeros: {} };
  if (kind === 'constant') {
    if (typeof v !== 'number') throw invalidArgument(`${where}: init.constant must be a number, got ${JSON.stringify(v)}`);
    return { constant: { value: v } };
  }
  const fields = kind === 'normal' ? ['mean', 'std', 'seed'] : ['low', 'high', 'seed'];
  if (v === null || typeof v !== 'object' || !fields.every((f) => typeof v[f] === 'number')) {
    throw invalidArgument(`${where}: init.${kind} must be {${fields.join(', ')}} numbers, got ${JSON.stringify(v)}`);
  }
  if (!Number.isSafeInteger(v.seed) || v.seed < 0) {
    throw invalidArgument(`${where}: init.${kind}.seed must be a whole number >= 0, got ${v.seed}`);
  }
  return { [kind]: Object.fromEntries(fields.map((f) => [f, v[f]])) };
}

/**
 * createModel's `tensors` ({name: spec} or a Map) as [{name, shape, size, init, values}], in order.
 * A spec is a Float32Array (a 1-D tensor of initial values), {values: Float32Array, shape?}, or
 * {shape, init?} with a generated initializer (default zeros).
 */
function tensorSpecs(tensors) {
  const entries = tensors instanceof Map ? [...tensors.entries()]
    : tensors !== null && typeof tensors === 'object' && !Array.isArray(tensors) ? Object.entries(tensors) : null;
  if (!entries || entries.length === 0) {
    throw invalidArgument('createModel: tensors must be a non-empty object (or Map) of name -> Float32Array, {values, shape} or {shape, init}');
  }
  return entries.map(([name, spec]) => {
    const where = `createModel: tensor '${name}'`;
    if (spec instanceof Float32Array) spec = { values: spec };
    if (spec === null || typeof spec !== 'object') {
      throw invalidArgument(`${where} must be a Float32Array, {values, shape} or {shape, init}, got ${spec === null ? 'null' : typeof spec}`);
    }
    for (const key of Object.keys(spec)) {
      if (!['values', 'shape', 'init'].includes(key)) {
        throw invalidArgument(`${where}: unknown key '${key}'; allowed: values, shape, init`);
      }
    }
    if (spec.values !== undefined) {
      if (!(spec.values instanceof Float32Array)) {
        throw invalidArgument(`${where}: values must be a Float32Array, got ${spec.values && spec.values.constructor ? spec.values.constructor.name : typeof spec.values}`);
      }
      if (spec.init !== undefined) throw invalidArgument(`${where}: give values or init, not both`);
      const shape = spec.shape === undefined ? [spec.values.length] : checkShape(where, spec.shape);
      if (elementsOf(shape) !== spec.values.length) {
        throw invalidArgument(`${where}: shape ${JSON.stringify(shape)} has ${elementsOf(shape)} elements, but values has ${spec.values.length}`);
      }
      return { name, shape, size: spec.values.length, init: { upload: {} }, values: spec.values };
    }
    if (spec.shape === undefined) throw invalidArgument(`${where}: shape is required without values`);
    const shape = checkShape(where, spec.shape);
    return { name, shape, size: elementsOf(shape), init: initializer(where, spec.init === undefined ? 'zeros' : spec.init), values: null };
  });
}

/** Little-endian float32 bytes of values[from, from + count): a copy. */
function encode(values, from, count) {
  if (LITTLE_ENDIAN) {
    return Buffer.from(values.buffer.slice(values.byteOffset + from * 4, values.byteOffset + (from + count) * 4));
  }
  const buf = Buffer.allocUnsafe(count * 4);
  for (let i = 0; i < count; i++) buf.writeFloatLE(values[from + i], i * 4);
  return buf;
}

/** Writes little-endian float32 `bytes` into target[at, at + bytes.length / 4). */
function decodeInto(target, at, bytes) {
  if (LITTLE_ENDIAN) {
    new Uint8Array(target.buffer, target.byteOffset + at * 4, bytes.length).set(bytes);
    return;
  }
  for (let i = 0; i < bytes.length / 4; i++) target[at + i] = bytes.readFloatLE(i * 4);
}

function malformed(message) {
  return errorOf(status.INTERNAL, message);
}

/**
 * A model's shard map checked against its tensors and grouped by worker address: the primaries
 * (replica 0) cover every tensor exactly once; pushes and uploads go to every copy (`workers`),
 * pulls read each range from its primary (`pullSources`).
 */
class ShardLayout {
  constructor(shardMap, tensors) {
    const where = `shard map of ${shardMap.model || 'the model'}`;
    const byName = new Map(tensors.map((t, i) => [t.name, { ...t, index: i }]));
    const ranges = new Map(tensors.map((t) => [t.name, []]));
    this.workers = new Map();
    this.pullSources = new Map();
    this.replicated = false;
    this.epoch = shardMap.epoch;
    for (const s of shardMap.shards) {
      const t = byName.get(s.tensor);
      if (!t) throw malformed(`${where}: a shard on ${s.address} names tensor '${s.tensor}', which the model does not have`);
      if (!s.address) throw malformed(`${where}: a shard of '${s.tensor}' at ${s.offset} has no worker address`);
      if (!this.workers.has(s.address)) this.workers.set(s.address, []);
      this.workers.get(s.address).push(s);
      if (s.replica === 0) {
        ranges.get(s.tensor).push([s.offset, s.length, s.address]);
        if (!this.pullSources.has(s.address)) this.pullSources.set(s.address, []);
        this.pullSources.get(s.address).push(s);
      } else {
        this.replicated = true;
      }
    }
    for (const t of tensors) {
      let at = 0;
      for (const [offset, length, address] of ranges.get(t.name).sort((a, b) => a[0] - b[0])) {
        if (offset !== at) {
          throw malformed(`${where}: elements [${Math.min(at, offset)}, ${Math.max(at, offset)}) of '${t.name}' are ${offset > at ? 'in no shard' : `in two shards (one on ${address})`}`);
        }
        at = offset + length;
      }
      if (at !== t.size) throw malformed(`${where}: elements [${at}, ${t.size}) of '${t.name}' are in no shard`);
    }
    const order = (a, b) => a.tensor_index - b.tensor_index || a.offset - b.offset;
    for (const list of [...this.workers.values(), ...this.pullSources.values()]) list.sort(order);
  }
}

/** The chunks [tensor, offset, count] covering `shards`, at most `chunkElements` each, never crossing a shard. */
function* spans(shards, chunkElements, only) {
  for (const s of shards) {
    if (only && !only.has(s.tensor)) continue;
    const end = s.offset + s.length;
    for (let at = s.offset; at < end; at += chunkElements) {
      yield [s.tensor, at, Math.min(chunkElements, end - at)];
    }
  }
}

/**
 * Checks a gradient against the model's tensors: every tensor, a Float32Array of its size, no
 * other name. Throws INVALID_ARGUMENT naming the tensor, what it got and what was expected.
 */
function checkGradient(modelName, tensors, gradient) {
  if (gradient === null || typeof gradient !== 'object') {
    throw invalidArgument(`push to ${modelName}: the gradient must be an object of tensor name -> Float32Array, got ${gradient === null ? 'null' : typeof gradient}`);
  }
  const names = new Set(tensors.map((t) => t.name));
  for (const name of Object.keys(gradient)) {
    if (!names.has(name)) throw invalidArgument(`push to ${modelName}: the gradient has tensor '${name}', which the model lacks; its tensors are ${[...names].join(', ')}`);
  }
  for (const t of tensors) {
    const g = gradient[t.name];
    if (!(g instanceof Float32Array)) {
      throw invalidArgument(`push to ${modelName}: the gradient of '${t.name}' must be a Float32Array of ${t.size} elements, got ${g === undefined ? 'none' : g && g.constructor ? g.constructor.name : typeof g}`);
    }
    if (g.length !== t.size) {
      throw invalidArgument(`push to ${modelName}: the gradient of '${t.name}' has ${g.length} elements, expected ${t.size} (shape ${JSON.stringify(t.shape)})`);
    }
  }
}

module.exports = { tensorSpecs, encode, decodeInto, ShardLayout, spans, checkGradient, elementsOf, malformed };
