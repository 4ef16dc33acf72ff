"""TLS and the bearer token, against an in-process gRPC server that records what arrives.

The Shardopt servers' TLS and token options are another helper's work; this checks the client's
side of the contract (docs/clients.md): ``authorization: Bearer <token>`` on every call, the token
from SHARDOPT_TOKEN by default, and TLS with the CA, client certificate and PKCS#8 key given as
paths. The certificates are made here with the openssl command.
"""

import os
import subprocess
import tempfile
import unittest
from concurrent import futures
from unittest import mock

import grpc

import shardopt
from shardopt.v1 import service_pb2 as pb, service_pb2_grpc as rpc


class RecordingCoordinator(rpc.CoordinatorServicer):
    """Answers ParsePipeline with the authorization header it got as the canonical text; a token
    other than "good" (when one is required) is UNAUTHENTICATED."""

    def __init__(self, require_token=False):
        self.require_token = require_token

    def ParsePipeline(self, request, context):
        auth = [v for k, v in context.invocation_metadata() if k == "authorization"]
        if self.require_token and auth != ["Bearer good"]:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown token")
        return pb.ParsePipelineResponse(canonical_text="|".join(auth))


def start(servicer, credentials=None):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    rpc.add_CoordinatorServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, "127.0.0.1:%d" % port


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, timeout=60, capture_output=True)


def make_certificates(d):
    """ca.pem; server.pem/server.key (SAN IP 127.0.0.1); client.pem/client.key; other-ca.pem."""
    for name in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=%s" % name, "-keyout", name + ".key", "-out", name + ".pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name + ".key", cwd=d)
        openssl("req", "-new", "-key", name + ".key", "-subj", "/CN=" + name, "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def read(d, name):
    with open(os.path.join(d, name), "rb") as f:
        return f.read()


class TokenTest(unittest.TestCase):
    def setUp(self):
        self.server, self.address = start(RecordingCoordinator())

    def tearDown(self):
        self.server.stop(None)

    def received(self, **kwargs):
        with shardopt.connect(self.address, **kwargs) as cluster:
            return cluster.parse_pipeline("sgd()").canonical_text

    def test_the_token_is_sent_as_a_bearer_header(self):
        self.assertEqual("Bearer s3cret", self.received(token=" s3cret\n"))

    def test_the_token_defaults_to_shardopt_token(self):
        with mock.patch.dict(os.environ, {"SHARDOPT_TOKEN": "from-env"}):
            self.assertEqual("Bearer from-env", self.received())
            self.assertEqual("Bearer given", self.received(token="given"))  # the argument wins

    def test_no_token_sends_no_header(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual("", self.received())
            self.assertEqual("", self.received(token=""))

    def test_a_refused_token_is_unauthenticated(self):
        server, address = start(RecordingCoordinator(require_token=True))
        try:
            with shardopt.connect(address, token="bad") as cluster:
                with self.assertRaises(shardopt.ShardoptError) as e:
                    cluster.parse_pipeline("sgd()")
                self.assertEqual(grpc.StatusCode.UNAUTHENTICATED, e.exception.code)
                self.assertEqual("missing or unknown token", e.exception.details)
            with shardopt.connect(address, token="good") as cluster:
                self.assertEqual("Bearer good", cluster.parse_pipeline("sgd()").canonical_text)
        finally:
            server.stop(None)

    def test_a_token_of_two_lines_is_refused(self):
        with self.assertRaisesRegex(ValueError, "token must be one line"):
            shardopt.connect(self.address, token="a\nb")


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        make_certificates(d)
        credentials = grpc.ssl_server_credentials([(read(d, "server.key"), read(d, "server.pem"))],
                                                  root_certificates=read(d, "ca.pem"), require_client_auth=True)
        cls.server, cls.address = start(RecordingCoordinator(), credentials)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(None)
        cls.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def parse(self, **kwargs):
        with shardopt.connect(self.address, timeout=10, **kwargs) as cluster:
            return cluster.parse_pipeline("sgd()").canonical_text

    def test_mutual_tls_with_the_ca_and_a_client_certificate(self):
        self.assertEqual("Bearer t", self.parse(tls_ca=self.path("ca.pem"), tls_cert=self.path("client.pem"),
                                                 tls_key=self.path("client.key"), token="t"))

    def test_without_a_client_certificate_the_server_refuses(self):
        with self.assertRaises(shardopt.ShardoptError) as e:
            self.parse(tls_ca=self.path("ca.pem"))
        self.assertEqual(grpc.StatusCode.UNAVAILABLE, e.exception.code)

    def test_a_server_certificate_from_another_ca_is_refused(self):
        with self.assertRaises(shardopt.ShardoptError) as e:
            self.parse(tls_ca=self.path("other-ca.pem"), tls_cert=self.path("client.pem"),
                       tls_key=self.path("client.key"))
        self.assertEqual(grpc.StatusCode.UNAVAILABLE, e.exception.code)

    def test_plaintext_to_a_tls_server_fails(self):
        with self.assertRaises(shardopt.ShardoptError) as e:
            self.parse()
        self.assertEqual(grpc.StatusCode.UNAVAILABLE, e.exception.code)

    def test_bad_options_name_the_field(self):
        with self.assertRaisesRegex(ValueError, "tls_cert and tls_key go together"):
            shardopt.connect(self.address, tls_cert=self.path("client.pem"))
        with self.assertRaisesRegex(ValueError, "tls_ca: cannot read '/no/such.pem'"):
            shardopt.connect(self.address, tls_ca="/no/such.pem")


if __name__ == "__main__":
    unittest.main()
