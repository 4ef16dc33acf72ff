'use strict';
// A real local cluster for the tests: a coordinator and `workers` worker processes started through
// the repository's ./shardopt launcher, bound to 127.0.0.1 on ports the OS picks, killed (SIGKILL)
// when the test file ends. The launcher builds the servers first when they are stale, so the first
// start may take minutes.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const LAUNCHER = path.join(ROOT, 'shardopt');
const START_TIMEOUT_MS = 600000;

function serving(child, what, log) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not log 'serving on' within ${START_TIMEOUT_MS} ms; output:\n${text}`)), START_TIMEOUT_MS);
    const onData = (buf) => {
      text += buf.toString();
      fs.appendFileSync(log, buf);
      const m = /serving on ([0-9.]+:[0-9]+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code === null ? signal : code}) before serving; output:\n${text}`));
    });
  });
}

/** Starts the cluster; resolves with {coordinator, workers: [addr], dir, stop()}. */
async function startCluster({ workers = 2, args = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardopt-node-test-'));
  const children = [];
  const start = (what, argv) => {
    const child = spawn(LAUNCHER, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return serving(child, what, path.join(dir, `${what.replace(/ /g, '-')}.log`));
  };
  const stop = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  try {
    const coordinator = await start('coordinator', ['coordinator', '--host', '127.0.0.1', '--port', '0', ...args]);
    const addresses = await Promise.all(Array.from({ length: workers }, (_, i) =>
      start(`worker ${i + 1}`, ['worker', '--host', '127.0.0.1', '--port', '0', '--coordinator', coordinator])));
    return {
      coordinator,
      workers: addresses,
      dir,
      /** kill -9 of worker `i` (0-based); resolves once it has exited. */
      killWorker(i) {
        const child = children[1 + i];
        return new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else {
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }
        });
      },
      stop() {
        stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    stop();
    throw e;
  }
}

module.exports = { startCluster, ROOT };
