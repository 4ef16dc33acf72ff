#!/usr/bin/env node
'use strict';
// prepack: copies the repository's .proto files (proto/src/main/proto) into this package's proto/
// folder, so that a packed package carries the API it was built against; postpack (--remove) deletes
// the copy again, so that a checkout always reads the repository's files (lib/protos.js).
// test/package.test.js packs the package and checks that the tarball's copy equals the repository's.

const fs = require('fs');
const path = require('path');
const { PACKED, REPOSITORY, protoFiles } = require('../lib/protos');

fs.rmSync(PACKED, { recursive: true, force: true });
if (process.argv[2] === '--remove') process.exit(0);
if (!fs.existsSync(REPOSITORY)) {
  console.error(`copy-protos: ${REPOSITORY} not found; pack the package from a checkout of the repository`);
  process.exit(1);
}
const files = protoFiles(REPOSITORY);
for (const rel of files) {
  fs.mkdirSync(path.dirname(path.join(PACKED, rel)), { recursive: true });
  fs.copyFileSync(path.join(REPOSITORY, rel), path.join(PACKED, rel));
}
console.error(`copy-protos: ${files.length} files from ${REPOSITORY}`);
