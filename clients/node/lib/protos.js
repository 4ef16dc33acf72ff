'use strict';
// The API's .proto files, loaded at run time by @grpc/proto-loader (nothing is generated).
//
// Where they come from: in a checkout of the repository (the tests, examples/node's link to this
// folder) the repository's own proto/src/main/proto, so that it never runs on a stale copy. A packed
// package (npm pack) has no repository around it and carries a copy in its own proto/ folder, made by
// scripts/copy-protos.js at pack time and removed again after packing; test/package.test.js checks
// that the tarball's copy is the repository's.

const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PACKED = path.join(__dirname, '..', 'proto');
const REPOSITORY = path.join(__dirname, '..', '..', '..', 'proto', 'src', 'main', 'proto');
const SERVICE = 'shardopt/v1/service.proto';

/** The folder holding shardopt/v1/service.proto: the repository's, else the packed copy. */
function protoDir() {
  for (const dir of [REPOSITORY, PACKED]) {
    if (fs.existsSync(path.join(dir, SERVICE))) return dir;
  }
  throw new Error(`shardopt: ${SERVICE} is neither in ${PACKED} (a packed package) nor in ${REPOSITORY} `
    + '(a checkout of the repository); reinstall the package');
}

/** The .proto files under `dir`, relative paths, sorted. */
function protoFiles(dir, prefix = '') {
  const out = [];
  for (const entry of fs.readdirSync(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) out.push(...protoFiles(dir, rel));
    else if (entry.name.endsWith('.proto')) out.push(rel);
  }
  return out.sort();
}

let loaded = null;

/**
 * The shardopt.v1 package: the Coordinator and Worker service constructors. keepCase: the proto's
 * field names (model_id, min_step); longs: uint64 as Number (exact below 2^53, plenty for steps and
 * element offsets); enums as their names; defaults filled in; bytes as Buffer.
 */
function v1() {
  if (!loaded) {
    const definition = protoLoader.loadSync([SERVICE], {
      includeDirs: [protoDir()],
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    loaded = grpc.loadPackageDefinition(definition).shardopt.v1;
  }
  return loaded;
}

module.exports = { v1, protoDir, protoFiles, PACKED, REPOSITORY, SERVICE };
