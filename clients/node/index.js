'use strict';
// shardopt: the Node.js client of a Shardopt parameter server. See README.md and index.d.ts.

const { connect, Cluster } = require('./lib/cluster');
const { RemoteModel, Trainer } = require('./lib/model');
const { ShardoptError, errors } = require('./lib/errors');
const { status } = require('@grpc/grpc-js');

module.exports = {
  connect,
  Cluster,
  RemoteModel,
  Trainer,
  ShardoptError,
  status,
  ...Object.fromEntries(Object.values(errors).map((cls) => [cls.name, cls])),
};
