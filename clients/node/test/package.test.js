'use strict';
// The package as npm ships it: `npm pack` makes a tarball whose proto/ copy is exactly the
// repository's proto/src/main/proto, which the unpacked package loads; the checkout is left
// without a copy; index.d.ts declares what index.js exports and compiles a typed use of the API.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { REPOSITORY, PACKED, protoFiles } = require('../lib/protos');

const PACKAGE = path.resolve(__dirname, '..');

test('npm pack ships the current .proto files, which the unpacked package loads', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shardopt-pack-'));
  try {
    const out = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: PACKAGE, encoding: 'utf8', timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'] }));
    const files = out[0].files.map((f) => f.path).sort();
    const protos = protoFiles(REPOSITORY);
    assert.ok(protos.length >= 2 && protos.includes(path.join('shardopt', 'v1', 'service.proto')));
    for (const rel of protos) assert.ok(files.includes(`proto/${rel.split(path.sep).join('/')}`), `the tarball has proto/${rel}`);
    for (const f of ['index.js', 'index.d.ts', 'package.json', 'README.md', 'lib/cluster.js', 'lib/protos.js']) assert.ok(files.includes(f), `the tarball has ${f}`);
    assert.deepEqual(files.filter((f) => f.startsWith('test/') || f.startsWith('node_modules/') || f.startsWith('scripts/')), []);
    assert.ok(!fs.existsSync(PACKED), 'postpack removed the copy from the checkout');

    execFileSync('tar', ['-xzf', path.join(tmp, out[0].filename), '-C', tmp]);
    const unpacked = path.join(tmp, 'package');
    assert.deepEqual(protoFiles(path.join(unpacked, 'proto')), protos);
    for (const rel of protos) {
      assert.ok(fs.readFileSync(path.join(unpacked, 'proto', rel)).equals(fs.readFileSync(path.join(REPOSITORY, rel))), `proto/${rel} is the repository's`);
    }
    // The unpacked package (its dependencies linked from this checkout) reads its own copy.
    fs.symlinkSync(path.join(PACKAGE, 'node_modules'), path.join(unpacked, 'node_modules'));
    const loaded = execFileSync(process.execPath, ['-e',
      "const p = require('./lib/protos'); const v1 = p.v1(); console.log(JSON.stringify([p.protoDir(), typeof v1.Coordinator, typeof v1.Worker, Object.keys(require('.')).length]))"],
    { cwd: unpacked, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(loaded), [path.join(unpacked, 'proto'), 'function', 'function', Object.keys(require('..')).length]);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('index.d.ts declares exactly the runtime exports', () => {
  const dts = fs.readFileSync(path.join(PACKAGE, 'index.d.ts'), 'utf8');
  const declared = [...dts.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, Object.keys(require('..')).sort());
});

test('a typed use of the API compiles against index.d.ts (tsc --noEmit), and its wrong uses do not', () => {
  const tsc = path.join(PACKAGE, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '-p', path.join(__dirname, 'types')], { encoding: 'utf8', timeout: 180000 });
  } catch (e) {
    assert.fail(`tsc --noEmit failed:\n${e.stdout}${e.stderr}`);
  }
});
