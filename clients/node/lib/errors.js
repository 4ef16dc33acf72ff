'use strict';
// Errors of the package: one Error subclass per gRPC status code a client can get (docs/clients.md,
// "Errors"), each carrying the numeric code, its name, the server's own message and the address
// that answered. Local checks (a gradient of the wrong length, a bad option) throw the
// INVALID_ARGUMENT subclass without an address, before anything is sent.

const { status } = require('@grpc/grpc-js');

/** The status code's name, e.g. 3 -> 'INVALID_ARGUMENT'. */
function codeName(code) {
  return status[code] !== undefined ? status[code] : `code ${code}`;
}

class ShardoptError extends Error {
  /**
   * @param {number} code the gRPC status code (grpc.status)
   * @param {string} message what failed, with the server's message
   * @param {{details?: string, address?: string, cause?: unknown}} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.name = this.constructor.name;
    this.code = code;
    this.codeName = codeName(code);
    this.details = extra.details !== undefined ? extra.details : message;
    this.address = extra.address;
  }
}

// One subclass per code; the name says the code so that `catch (e) { if (e instanceof NotFoundError) }` reads well.
const classes = {};
for (const [name, code] of Object.entries(status)) {
  if (typeof code !== 'number' || name === 'OK') continue;
  const className = name.toLowerCase().replace(/(^|_)([a-z])/g, (_, __, c) => c.toUpperCase()) + 'Error';
  classes[code] = {
    [className]: class extends ShardoptError {
      constructor(message, extra) {
        super(code, message, extra);
      }
    },
  }[className];
}

/** A new error of the subclass for `code`. */
function errorOf(code, message, extra) {
  const Cls = classes[code];
  return Cls ? new Cls(message, extra) : new ShardoptError(code, message, extra);
}

/**
 * A gRPC error (or anything thrown) as a ShardoptError: "<what>: <CODE> <server message>", keeping
 * the code, the server's message and the address. A ShardoptError passes through unchanged.
 */
function fromGrpc(err, what, address) {
  if (err instanceof ShardoptError) return err;
  if (err && typeof err.code === 'number') {
    const details = err.details !== undefined ? err.details : err.message;
    return errorOf(err.code, `${what}: ${codeName(err.code)} ${details}`, { details, address, cause: err });
  }
  const text = err instanceof Error ? err.message : String(err);
  return errorOf(status.UNKNOWN, `${what}: ${text}`, { details: text, address, cause: err });
}

/** A local check that failed: INVALID_ARGUMENT, no address. */
function invalidArgument(message) {
  return errorOf(status.INVALID_ARGUMENT, message);
}

module.exports = { ShardoptError, errorOf, fromGrpc, invalidArgument, codeName, errors: classes };
