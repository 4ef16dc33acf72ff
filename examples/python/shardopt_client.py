"""A minimal Python client of a Shardopt cluster, on the generated gRPC stubs.

The stubs are generated at run time from proto/src/main/proto (never committed) with protoc and
grpc_python_plugin, into a cache directory keyed by the protos' contents; see generate_stubs().
Needs Debian's python3-grpcio, python3-protobuf and python3-numpy, protobuf-compiler and
protobuf-compiler-grpc (run with /usr/bin/python3).

The calls follow docs/clients.md:
  CreateModel -> GetModel until READY -> GetShardMap -> per step: Pull(min_step=s) from every
  worker, Push(header, chunks of exactly that worker's shards) to every worker.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTO_DIR = os.path.join(ROOT, "proto", "src", "main", "proto")
PROTOS = ["shardopt/v1/pipeline.proto", "shardopt/v1/service.proto"]

# Tensor data travels in chunks of at most 4 MiB of data; a message is a chunk plus a small header,
# so the receive limit must be raised above gRPC's default of 4 MiB (the servers use 4 MiB + 64 KiB).
CHUNK_BYTES = 4 << 20
MAX_MESSAGE_BYTES = CHUNK_BYTES + (64 << 10)
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


def generate_stubs():
    """Generates the Python stubs (once per proto content) and puts them on sys.path."""
    digest = hashlib.sha256()
    for p in PROTOS:
        with open(os.path.join(PROTO_DIR, p), "rb") as f:
            digest.update(f.read())
    base = os.environ.get("SHARDOPT_PY_GEN_DIR") or os.path.join(tempfile.gettempdir(), "shardopt-py-stubs")
    out = os.path.join(base, digest.hexdigest()[:16])
    if not os.path.isfile(os.path.join(out, "shardopt", "v1", "service_pb2_grpc.py")):
        os.makedirs(base, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=base, prefix="gen-")
        plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
        cmd = ["protoc", "-I", PROTO_DIR]
        if os.path.isfile("/usr/include/google/protobuf/empty.proto"):
            cmd += ["-I", "/usr/include"]
        cmd += ["--python_out=" + tmp, "--grpc_out=" + tmp, "--plugin=protoc-gen-grpc=" + plugin] + PROTOS
        try:
            subprocess.run(cmd, check=True, timeout=60)
        except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            sys.exit("shardopt_client: generating the stubs failed (%s): %s\n"
                     "install them with: apt-get install -y protobuf-compiler protobuf-compiler-grpc "
                     "libprotobuf-dev python3-grpcio python3-protobuf" % (" ".join(cmd), e))
        try:
            os.rename(tmp, out)  # atomic: concurrent trainers may race here
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another process got there first
    if out not in sys.path:
        sys.path.insert(0, out)


generate_stubs()

import grpc  # noqa: E402
from shardopt.v1 import pipeline_pb2, service_pb2, service_pb2_grpc  # noqa: E402,F401

# Pushes answered UNAVAILABLE are sent again, this often in all, with a doubling backoff.
PUSH_ATTEMPTS = 3
RPC_TIMEOUT_S = 60.0
# A pull waits on the worker up to its --wait-ms (60 s by default), which then answers with an
# actionable DEADLINE_EXCEEDED; the client's own deadline is longer so that the worker's message wins.
PULL_TIMEOUT_S = 90.0


class ShardoptError(Exception):
    pass


class Cluster:
    """The coordinator's channel, and one channel per worker, made on first use."""

    def __init__(self, coordinator):
        self.target = coordinator
        self._channel = grpc.insecure_channel(coordinator, options=CHANNEL_OPTIONS)
        self.coordinator = service_pb2_grpc.CoordinatorStub(self._channel)
        self._workers = {}
        self._lock = threading.Lock()

    def worker(self, address):
        with self._lock:
            stub = self._workers.get(address)
            if stub is None:
                channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
                stub = (channel, service_pb2_grpc.WorkerStub(channel))
                self._workers[address] = stub
            return stub[1]

    def close(self):
        for channel, _ in self._workers.values():
            channel.close()
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def create_model(self, model_id, pipeline_text, tensors, trainers=1, mode="SYNC", ready_timeout_s=60.0):
        """pipeline_text: the DSL text, e.g. "adam(1e-3).warmup(500)", which the coordinator parses (a bad
        one is INVALID_ARGUMENT with the column). tensors: [(name, shape)] with the zeros initializer.
        Waits until READY."""
        model = service_pb2.Model(pipeline_text=pipeline_text, trainers=trainers,
                                  mode=service_pb2.TrainingMode.Value(mode))
        for name, shape in tensors:
            model.tensors.add(name=name, shape=list(shape),
                              init=service_pb2.Initializer(zeros=service_pb2.Initializer.Zeros()))
        created = self.coordinator.CreateModel(
            service_pb2.CreateModelRequest(model_id=model_id, model=model), timeout=RPC_TIMEOUT_S)
        deadline = time.monotonic() + ready_timeout_s
        pause = 0.005
        while True:
            m = self.coordinator.GetModel(service_pb2.GetModelRequest(name=created.name), timeout=RPC_TIMEOUT_S)
            if m.state == service_pb2.READY:
                return m
            if m.state == service_pb2.FAILED:
                raise ShardoptError("%s failed while loading: %s" % (m.name, m.failure))
            if time.monotonic() > deadline:
                raise ShardoptError("%s is still %s after %.0f s" % (
                    m.name, service_pb2.ModelState.Name(m.state), ready_timeout_s))
            time.sleep(pause)
            pause = min(pause * 2, 0.2)

    def model(self, name):
        return RemoteModel(self, self.coordinator.GetModel(service_pb2.GetModelRequest(name=name),
                                                           timeout=RPC_TIMEOUT_S))


class RemoteModel:
    """A model's tensors and shard map; push and pull straight to the workers."""

    def __init__(self, cluster, model):
        self.cluster = cluster
        self.name = model.name
        self.trainers = model.trainers
        self.shapes = {t.name: tuple(t.shape) for t in model.tensors}
        self.sizes = {n: int(np.prod(s, dtype=np.int64)) for n, s in self.shapes.items()}
        shard_map = cluster.coordinator.GetShardMap(service_pb2.GetShardMapRequest(name=self.name),
                                                    timeout=RPC_TIMEOUT_S)
        # address -> that worker's shards; a push to a worker covers exactly these.
        self.workers = {}
        for s in shard_map.shards:
            self.workers.setdefault(s.address, []).append(s)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.workers)))

    # -------------------------------------------------------------------- push

    def _push_messages(self, header, shards, gradient):
        yield service_pb2.PushRequest(header=header)
        per_chunk = CHUNK_BYTES // 4
        for s in shards:
            flat = gradient[s.tensor]
            end = s.offset + s.length
            for at in range(s.offset, end, per_chunk):
                n = min(per_chunk, end - at)
                data = flat[at:at + n].astype("<f4", copy=False).tobytes()
                yield service_pb2.PushRequest(chunk=service_pb2.TensorChunk(tensor=s.tensor, offset=at, data=data))

    def _push_one(self, address, header, gradient):
        stub = self.cluster.worker(address)
        pause = 0.2
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                # The same (model, trainer, step) every time: a worker that had it answers duplicate.
                return stub.Push(self._push_messages(header, self.workers[address], gradient),
                                 timeout=RPC_TIMEOUT_S)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt == PUSH_ATTEMPTS:
                    raise ShardoptError("push of step %d (trainer %d) to %s: %s %s" % (
                        header.step, header.trainer, address, e.code().name, e.details())) from None
                time.sleep(pause)
                pause *= 2

    def push(self, trainer, step, gradient):
        """gradient: {tensor: flat float32 array}. Returns True when every worker said duplicate."""
        for name, size in self.sizes.items():
            g = gradient.get(name)
            if g is None or g.size != size:
                raise ValueError("gradient of '%s' has %s elements, expected %d" % (
                    name, None if g is None else g.size, size))
        header = service_pb2.PushHeader(model=self.name, trainer=trainer, step=step)
        answers = self._all(self._push_one, [(a, header, gradient) for a in self.workers])
        return all(a.duplicate for a in answers)

    # -------------------------------------------------------------------- pull

    def _pull_one(self, address, min_step, out, covered):
        stub = self.cluster.worker(address)
        step = None
        try:
            for r in stub.Pull(service_pb2.PullRequest(model=self.name, min_step=min_step), timeout=PULL_TIMEOUT_S):
                if step is not None and r.step != step:
                    raise ShardoptError("worker %s answered with steps %d and %d" % (address, step, r.step))
                step = r.step
                c = r.chunk
                values = np.frombuffer(c.data, dtype="<f4")
                target, seen = out.get(c.tensor), covered.get(c.tensor)
                if target is None or c.offset + values.size > target.size:
                    raise ShardoptError("worker %s sent elements [%d, %d) of '%s', which the model lacks" % (
                        address, c.offset, c.offset + values.size, c.tensor))
                span = slice(c.offset, c.offset + values.size)
                if seen[span].any():
                    raise ShardoptError("worker %s sent elements of '%s' twice" % (address, c.tensor))
                seen[span] = True
                target[span] = values
        except grpc.RpcError as e:
            raise ShardoptError("pull of %s at step %d from %s: %s %s" % (
                self.name, min_step, address, e.code().name, e.details())) from None
        return step

    def pull(self, min_step):
        """(step, {tensor: flat float32 array}) once the model has completed min_step steps."""
        for _ in range(3):
            out = {n: np.zeros(size, dtype=np.float32) for n, size in self.sizes.items()}
            covered = {n: np.zeros(size, dtype=bool) for n, size in self.sizes.items()}
            steps = self._all(self._pull_one, [(a, min_step, out, covered) for a in self.workers])
            for n, size in self.sizes.items():
                if not covered[n].all():
                    raise ShardoptError("pull of %s: tensor '%s' covered %d of %d elements" % (
                        self.name, n, int(covered[n].sum()), size))
            if len(set(steps)) == 1:
                return steps[0], out
            min_step = max(steps)  # workers at different steps (ASYNC): pull again at the newest
        raise ShardoptError("pull of %s: the workers answered with different steps %s" % (self.name, steps))

    def _all(self, fn, calls):
        """fn(*args) for every args in calls, in parallel; the first failure is raised at once (the
        calls still running end when the cluster's channels close)."""
        futures = [self._pool.submit(fn, *args) for args in calls]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            if f.exception() is not None:
                raise f.exception()
        return [f.result() for f in futures]

    def close(self):
        # Calls still running (after a failure) are ended by Cluster.close, which closes the channels.
        self._pool.shutdown(wait=False, cancel_futures=True)
