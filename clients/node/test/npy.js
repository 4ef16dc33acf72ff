'use strict';
// Reading the reference cases' arrays: NPY 1.0 files of little-endian float32 ('<f4', C order), and
// .npz zips of them (stored or deflated entries).

const fs = require('fs');
const zlib = require('zlib');

/** {shape, data: Float32Array} of an NPY 1.0 '<f4' C-order file's bytes. */
function parseNpy(buf, what) {
  if (buf.readUInt32BE(0) !== 0x934e554d || buf.toString('latin1', 4, 6) !== 'PY') throw new Error(`${what}: not an NPY file`);
  if (buf[6] !== 1) throw new Error(`${what}: NPY version ${buf[6]}.${buf[7]}, expected 1.0`);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLength);
  if (!/'descr':\s*'<f4'/.test(header) || !/'fortran_order':\s*False/.test(header)) throw new Error(`${what}: expected '<f4' in C order, header ${header}`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, d) => a * d, 1);
  const start = 10 + headerLength;
  if (buf.length - start !== count * 4) throw new Error(`${what}: ${buf.length - start} data bytes for shape ${shape}`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { shape, data };
}

function readNpy(file) {
  return parseNpy(fs.readFileSync(file), file);
}

/** Map of entry name (without .npy) -> {shape, data}, in the central directory's order (stored or deflated). */
function readNpz(file) {
  const buf = fs.readFileSync(file);
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error(`${file}: not a zip (no end of central directory)`);
  const entries = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let i = 0; i < entries; i++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const method = buf.readUInt16LE(at + 10);
    const compressed = buf.readUInt32LE(at + 20);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString('utf8', at + 46, at + 46 + nameLength);
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(start, start + compressed);
    const bytes = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : null;
    if (!bytes) throw new Error(`${file}: entry ${name} has compression method ${method}`);
    out.set(name.replace(/\.npy$/, ''), parseNpy(bytes, `${file}:${name}`));
    at += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}

module.exports = { readNpy, readNpz };
