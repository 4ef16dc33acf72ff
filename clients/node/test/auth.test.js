'use strict';
// Credentials on the wire, against a stand-in coordinator served by @grpc/grpc-js in this process
// (the servers' own auth and TLS are tested with them): the token goes out as
// `authorization: Bearer <token>` on every call, from the `token` option or SHARDOPT_TOKEN; with
// tlsCa/tlsCert/tlsKey the client verifies the server against the CA and presents its certificate
// to a server that requires one (certificates made here with openssl).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const shardopt = require('..');
const { v1 } = require('../lib/protos');

/** Serves a Coordinator whose ListModels records each call's authorization header; resolves {address, seen, server}. */
function standIn(credentials, host = '127.0.0.1') {
  const seen = [];
  const server = new grpc.Server();
  server.addService(v1().Coordinator.service, {
    ListModels(call, callback) {
      seen.push(call.metadata.get('authorization'));
      const auth = call.metadata.get('authorization')[0];
      if (auth === 'Bearer wrong') {
        callback({ code: grpc.status.UNAUTHENTICATED, details: 'unknown token' });
        return;
      }
      callback(null, { models: [{ name: 'models/a' }, { name: 'models/b' }] });
    },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:0`, credentials, (err, port) => (err ? reject(err) : resolve({ address: `${host}:${port}`, seen, server })));
  });
}

test('the token is sent as authorization: Bearer, from the option or SHARDOPT_TOKEN', async () => {
  const { address, seen, server } = await standIn(grpc.ServerCredentials.createInsecure());
  const saved = process.env.SHARDOPT_TOKEN;
  try {
    delete process.env.SHARDOPT_TOKEN;
    const none = shardopt.connect(address);
    assert.deepEqual(await none.listModels(), ['a', 'b']);
    none.close();
    const withOption = shardopt.connect(address, { token: ' s3cret\n' });
    await withOption.listModels();
    await withOption.listModels();
    withOption.close();
    process.env.SHARDOPT_TOKEN = 'from-env';
    const fromEnv = shardopt.connect(address);
    await fromEnv.listModels();
    fromEnv.close();
    const optionWins = shardopt.connect(address, { token: 'opt' });
    await optionWins.listModels();
    optionWins.close();
    assert.deepEqual(seen, [[], ['Bearer s3cret'], ['Bearer s3cret'], ['Bearer from-env'], ['Bearer opt']]);
    const wrong = shardopt.connect(address, { token: 'wrong' });
    await assert.rejects(wrong.listModels(), (e) => e instanceof shardopt.UnauthenticatedError && e.code === 16 && e.details === 'unknown token');
    wrong.close();
  } finally {
    if (saved === undefined) delete process.env.SHARDOPT_TOKEN;
    else process.env.SHARDOPT_TOKEN = saved;
    server.forceShutdown();
  }
});

test('TLS: the client trusts tlsCa and presents tlsCert/tlsKey to a server that requires a client certificate', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardopt-tls-'));
  const f = (name) => path.join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 60000 });
  try {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca');
    for (const [who, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], ['client', 'extendedKeyUsage=clientAuth']]) {
      openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', `${who}.key`); // PKCS#8
      openssl('req', '-new', '-key', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
      fs.writeFileSync(f(`${who}.ext`), `${ext}\n`);
      openssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.pem`, '-days', '2', '-extfile', `${who}.ext`);
    }
    const serverCreds = grpc.ServerCredentials.createSsl(fs.readFileSync(f('ca.pem')),
      [{ cert_chain: fs.readFileSync(f('server.pem')), private_key: fs.readFileSync(f('server.key')) }], true);
    const { address, seen, server } = await standIn(serverCreds, 'localhost'); // the certificate's name (TLS names no IPs)
    try {
      const good = shardopt.connect(address, { tlsCa: f('ca.pem'), tlsCert: f('client.pem'), tlsKey: f('client.key'), token: 't' });
      assert.deepEqual(await good.listModels(), ['a', 'b']);
      good.close();
      assert.deepEqual(seen, [['Bearer t']]);
      // Without a client certificate the server refuses the handshake; plaintext gets no answer either.
      const noCert = shardopt.connect(address, { tlsCa: f('ca.pem'), deadlineMs: 3000 });
      await assert.rejects(noCert.listModels(), (e) => e instanceof shardopt.ShardoptError && [14, 4].includes(e.code));
      noCert.close();
      const plain = shardopt.connect(address, { deadlineMs: 3000 });
      await assert.rejects(plain.listModels(), (e) => e instanceof shardopt.ShardoptError && [14, 4].includes(e.code));
      plain.close();
      assert.equal(seen.length, 1, 'no other call reached the service');
    } finally {
      server.forceShutdown();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
