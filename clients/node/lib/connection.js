'use strict';
// The channels of one connection: credentials (plaintext or TLS), the bearer token sent as call
// metadata, one Coordinator stub and one Worker stub per worker address, and promise forms of the
// unary calls.

const fs = require('fs');
const grpc = require('@grpc/grpc-js');
const { v1 } = require('./protos');
const { fromGrpc, invalidArgument } = require('./errors');

// Tensor data travels in chunks of at most 4 MiB; a message is a chunk plus a small header, so the
// limits are the servers' own: 4 MiB + 64 KiB (docs/clients.md, "Tensor bytes").
const CHUNK_ELEMENTS = 1 << 20;
const MAX_MESSAGE_BYTES = (4 << 20) + (64 << 10);

const DEFAULTS = Object.freeze({
  deadlineMs: 60000,
  // A pull waits on the worker up to its --wait-ms (60 s by default), which then answers with an
  // actionable DEADLINE_EXCEEDED; the client's own deadline is longer so that the worker's message wins.
  pullTimeoutMs: 90000,
  checkpointTimeoutMs: 600000,
  readyTimeoutMs: 60000,
  pushAttempts: 3,
  retryBackoffMs: 200,
  // Of a replicated model: how long a push or pull that a worker does not answer is tried again,
  // reading the shard map each time, until the map moves the worker's shards to their backups.
  failoverWaitMs: 60000,
  chunkElements: CHUNK_ELEMENTS,
});

function readPem(option, file) {
  if (typeof file !== 'string' || file === '') {
    throw invalidArgument(`connect: ${option} must be the path of a PEM file, got ${JSON.stringify(file)}`);
  }
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw invalidArgument(`connect: ${option} ${file} cannot be read: ${e.message}`);
  }
}

/** Channel credentials from the options: TLS when any of tlsCa/tlsCert/tlsKey is given, else plaintext. */
function channelCredentials(options) {
  const { tlsCa, tlsCert, tlsKey, insecure } = options;
  const tls = tlsCa !== undefined || tlsCert !== undefined || tlsKey !== undefined;
  if (tls && insecure) {
    throw invalidArgument('connect: insecure cannot be combined with tlsCa, tlsCert or tlsKey');
  }
  if (!tls) return grpc.credentials.createInsecure();
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw invalidArgument(`connect: tlsCert and tlsKey go together (a client certificate and its PKCS#8 key); got only ${tlsCert !== undefined ? 'tlsCert' : 'tlsKey'}`);
  }
  const ca = tlsCa !== undefined ? readPem('tlsCa', tlsCa) : null;
  const cert = tlsCert !== undefined ? readPem('tlsCert', tlsCert) : null;
  const key = tlsKey !== undefined ? readPem('tlsKey', tlsKey) : null;
  return grpc.credentials.createSsl(ca, key, cert);
}

/** The token: options.token, else SHARDOPT_TOKEN, else none. Trimmed; an empty one is none. */
function resolveToken(options) {
  const raw = options.token !== undefined ? options.token : process.env.SHARDOPT_TOKEN;
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'string') throw invalidArgument(`connect: token must be a string, got ${typeof raw}`);
  const token = raw.trim();
  if (/[\r\n]/.test(token)) throw invalidArgument('connect: token must be one line');
  return token === '' ? null : token;
}

class Connection {
  /**
   * @param {string} address the coordinator, host:port
   * @param {object} options connect()'s options
   */
  constructor(address, options = {}) {
    if (typeof address !== 'string' || !/^.+:\d+$/.test(address)) {
      throw invalidArgument(`connect: address must be host:port, got ${JSON.stringify(address)}`);
    }
    for (const key of Object.keys(options)) {
      if (!['tlsCa', 'tlsCert', 'tlsKey', 'token', 'insecure', ...Object.keys(DEFAULTS)].includes(key)) {
        throw invalidArgument(`connect: unknown option '${key}'; allowed: tlsCa, tlsCert, tlsKey, token, insecure, ${Object.keys(DEFAULTS).join(', ')}`);
      }
    }
    this.settings = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS)) {
      if (options[key] === undefined) continue;
      if (!Number.isInteger(options[key]) || options[key] <= 0) {
        throw invalidArgument(`connect: ${key} must be a positive whole number, got ${options[key]}`);
      }
      this.settings[key] = options[key];
    }
    if (this.settings.chunkElements > CHUNK_ELEMENTS) {
      throw invalidArgument(`connect: chunkElements must be at most ${CHUNK_ELEMENTS} (4 MiB of float32), got ${this.settings.chunkElements}`);
    }
    this.address = address;
    this.credentials = channelCredentials(options);
    this.token = resolveToken(options);
    this.channelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    };
    const api = v1();
    this.Worker = api.Worker;
    this.coordinator = new api.Coordinator(address, this.credentials, this.channelOptions);
    this.workers = new Map();
    this.closed = false;
  }

  /** The Worker stub for `address`, made once. */
  worker(address) {
    if (this.closed) throw fromGrpc({ code: grpc.status.CANCELLED, details: 'the connection is closed' }, `worker ${address}`);
    let stub = this.workers.get(address);
    if (!stub) {
      stub = new this.Worker(address, this.credentials, this.channelOptions);
      this.workers.set(address, stub);
    }
    return stub;
  }

  /** Fresh call metadata: `authorization: Bearer <token>` when a token is set. */
  metadata() {
    const md = new grpc.Metadata();
    if (this.token !== null) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  callOptions(timeoutMs = this.settings.deadlineMs) {
    return { deadline: Date.now() + timeoutMs };
  }

  /** A unary coordinator call as a promise; errors become ShardoptErrors saying `what`. */
  coordinatorCall(method, request, what, timeoutMs) {
    if (this.closed) {
      return Promise.reject(fromGrpc({ code: grpc.status.CANCELLED, details: 'the connection is closed' }, what, this.address));
    }
    return new Promise((resolve, reject) => {
      this.coordinator[method](request, this.metadata(), this.callOptions(timeoutMs), (err, response) => {
        if (err) reject(fromGrpc(err, what, this.address));
        else resolve(response);
      });
    });
  }

  close() {
    this.closed = true;
    for (const stub of this.workers.values()) stub.close();
    this.workers.clear();
    this.coordinator.close();
  }
}

module.exports = { Connection, DEFAULTS, CHUNK_ELEMENTS, MAX_MESSAGE_BYTES, resolveToken };
