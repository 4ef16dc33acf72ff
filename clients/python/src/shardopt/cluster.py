"""The coordinator's calls: create, find and check models; connect() makes a Cluster."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import grpc
import numpy as np

from ._connection import Connection
from ._transfer import FAILOVER_WAIT_S
from .errors import ShardoptError
from .model import Model, _set_pipeline
from .tensors import Init, as_wire, element_count
from .v1 import pipeline_pb2, service_pb2 as pb, service_pb2_grpc as rpc

DEFAULT_TIMEOUT_S = 60.0
MODES = ("SYNC", "ASYNC")


@dataclass(frozen=True)
class PipelineError:
    """One thing wrong with a pipeline: the request field, the message, the 1-based column (0: none)."""

    field: str
    message: str
    column: int


@dataclass(frozen=True)
class PipelineCheck:
    """ParsePipeline's answer: valid with its canonical text and message, or the errors."""

    errors: List[PipelineError] = field(default_factory=list)
    canonical_text: str = ""
    pipeline: Optional[pipeline_pb2.OptimizerPipeline] = None

    @property
    def valid(self) -> bool:
        return not self.errors


class Cluster:
    """A connection to a Shardopt cluster: the coordinator at ``address``, and the workers its
    shard maps name (channels made on first use, with the same TLS settings and token).

    Use as a context manager, or call close(). Every call has a deadline of ``timeout`` seconds
    (pulls and checkpoints longer ones); a failed call raises ShardoptError with the gRPC status.
    ``failover_wait``: of a replicated model, how long a push or pull that a worker does not answer
    keeps reading the shard map for a newer one that moves the worker's shards to their backups.
    """

    def __init__(self, address: str, connection: Connection, timeout: float = DEFAULT_TIMEOUT_S,
                 failover_wait: float = FAILOVER_WAIT_S) -> None:
        if not isinstance(address, str) or not address:
            raise ValueError("address must be host:port of the coordinator, got %r" % (address,))
        if not timeout > 0:
            raise ValueError("timeout must be > 0 seconds, got %r" % (timeout,))
        if not failover_wait > 0:
            raise ValueError("failover_wait must be > 0 seconds, got %r" % (failover_wait,))
        self.address = address
        self.timeout = float(timeout)
        self.failover_wait = float(failover_wait)
        self._connection = connection
        self._stub = rpc.CoordinatorStub(connection.channel(address))
        self._models: List[Model] = []

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes every channel and the models' threads."""
        for m in self._models:
            m.close()
        self._connection.close()

    def _call(self, what: str, method: Callable[..., Any], request: Any, timeout: Optional[float] = None) -> Any:
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._connection.metadata)
        except grpc.RpcError as e:
            raise ShardoptError.of(what, e) from None

    # ------------------------------------------------------------------------------ models

    def create_model(self, name: str, pipeline: Union[str, pipeline_pb2.OptimizerPipeline],
                     tensors: Mapping[str, Union[np.ndarray, Init, Any]], trainers: int = 1, mode: str = "SYNC",
                     staleness: int = 0, replicas: int = 1, ready_timeout: float = 60.0) -> Model:
        """Creates model ``name`` and returns it once READY.

        ``pipeline``: the DSL text (``"adam(1e-3).clipNorm(1.0)"``), parsed by the coordinator, or
        an OptimizerPipeline. ``tensors``: in model order, name -> initial values (a numpy array or
        anything numpy.asarray takes, uploaded here as float32), or an initializer the workers
        generate (shardopt.zeros/constant/normal/uniform). ``trainers``: K gradients per step.
        ``mode``: "SYNC" or "ASYNC" (``staleness`` bounds ASYNC trainers' lead; 0: none).
        ``replicas``: copies of every shard, each on another worker (SYNC only): when a worker
        dies, pushes and pulls follow the coordinator's newer shard map to the backups.

        When the upload fails the model is deleted again, and the error raised.
        """
        if not isinstance(name, str) or not name:
            raise ValueError("name must be the model id ([a-z0-9][a-z0-9._-]{0,62}), got %r" % (name,))
        if mode not in MODES:
            raise ValueError("mode must be one of %s, got %r" % (list(MODES), mode))
        if not isinstance(tensors, Mapping) or not tensors:
            raise ValueError("tensors must be a non-empty mapping of name -> initial values or initializer")
        model = pb.Model(trainers=trainers, mode=pb.TrainingMode.Value(mode), staleness=staleness, replicas=replicas)
        _set_pipeline(model, pipeline)
        uploads: Dict[str, np.ndarray] = {}
        for tensor, value in tensors.items():
            if not isinstance(tensor, str) or not tensor:
                raise ValueError("tensor names must be non-empty strings, got %r" % (tensor,))
            if isinstance(value, Init):
                model.tensors.add(name=tensor, shape=list(value.shape), init=value.initializer)
            else:
                array = np.asarray(value)
                model.tensors.add(name=tensor, shape=list(array.shape),
                                  init=pb.Initializer(upload=pb.Initializer.Upload()))
                uploads[tensor] = as_wire(tensor, array, element_count(array.shape), "initial value")
        info = self._call("CreateModel %s" % name, self._stub.CreateModel,
                          pb.CreateModelRequest(model_id=name, model=model))
        created = self._attach(info)
        if uploads:
            try:
                created.write_parameters(uploads)
            except BaseException:
                try:
                    created.delete()
                except ShardoptError:
                    pass  # the upload's error is the one to report
                raise
        created.info = self._await_ready(info.name, ready_timeout)
        return created

    def restore_model(self, name: str, checkpoint: str, ready_timeout: float = 60.0) -> Model:
        """Creates model ``name`` from a checkpoint directory (or a directory of checkpoints, whose
        latest complete one is used); its trainers continue from the checkpoint's step."""
        info = self._call("CreateModel %s from %s" % (name, checkpoint), self._stub.CreateModel,
                          pb.CreateModelRequest(model_id=name, restore_from=os.path.abspath(checkpoint)))
        created = self._attach(info)
        created.info = self._await_ready(info.name, ready_timeout)
        return created

    def model(self, name: str) -> Model:
        """An existing model, by id or by ``models/{id}`` (e.g. in another trainer process)."""
        full = name if name.startswith("models/") else "models/" + name
        return self._attach(self._call("GetModel of %s" % full, self._stub.GetModel, pb.GetModelRequest(name=full)))

    def list_models(self) -> List[pb.Model]:
        return list(self._call("ListModels", self._stub.ListModels, pb.ListModelsRequest()).models)

    def delete_model(self, name: str) -> None:
        full = name if name.startswith("models/") else "models/" + name
        self._call("DeleteModel of %s" % full, self._stub.DeleteModel, pb.DeleteModelRequest(name=full))

    def status(self) -> pb.ClusterStatus:
        """Workers (health, traffic, device memory) and models."""
        return self._call("GetStatus", self._stub.GetStatus, pb.GetStatusRequest())

    def parse_pipeline(self, pipeline: Union[str, pipeline_pb2.OptimizerPipeline],
                       tensor_names: Sequence[str] = ()) -> PipelineCheck:
        """Checks a pipeline without creating anything: its canonical text and message, or what is
        wrong (each error with its field, message and column). ``tensor_names``: checked against
        the parameter rules as CreateModel would."""
        request = pb.ParsePipelineRequest(tensor_names=list(tensor_names))
        _set_pipeline(request, pipeline)
        answer = self._call("ParsePipeline", self._stub.ParsePipeline, request)
        if answer.errors:
            return PipelineCheck(errors=[PipelineError(e.field, e.message, e.column) for e in answer.errors])
        return PipelineCheck(canonical_text=answer.canonical_text, pipeline=answer.pipeline)

    def _attach(self, info: pb.Model) -> Model:
        shard_map = self._call("GetShardMap of %s" % info.name, self._stub.GetShardMap,
                               pb.GetShardMapRequest(name=info.name))
        model = Model(self, info, shard_map)
        self._models.append(model)
        return model

    def _await_ready(self, name: str, ready_timeout: float) -> pb.Model:
        deadline = time.monotonic() + ready_timeout
        pause = 0.005
        while True:
            info = self._call("GetModel of %s" % name, self._stub.GetModel, pb.GetModelRequest(name=name))
            if info.state == pb.READY:
                return info
            if info.state == pb.FAILED:
                raise ShardoptError("%s failed while loading: %s" % (name, info.failure), grpc.StatusCode.UNAVAILABLE,
                                    info.failure)
            if time.monotonic() > deadline:
                raise ShardoptError("%s is still %s after %.0f s" % (name, pb.ModelState.Name(info.state), ready_timeout),
                                    grpc.StatusCode.DEADLINE_EXCEEDED)
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def connect(address: str, tls_ca: Optional[str] = None, tls_cert: Optional[str] = None,
            tls_key: Optional[str] = None, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S,
            tls_server_name: Optional[str] = None, failover_wait: float = FAILOVER_WAIT_S) -> Cluster:
    """Connects to the coordinator at ``address`` (host:port); nothing is sent until the first call.

    ``tls_ca``: PEM file of the roots the servers' certificates must chain to; ``tls_cert`` and
    ``tls_key``: PEM files of this client's certificate and PKCS#8 key, for servers that require
    one. Any of them turns TLS on (plaintext otherwise). ``token``: sent on every call as
    ``authorization: Bearer <token>``; None reads SHARDOPT_TOKEN. ``tls_server_name``: the name to
    check the servers' certificates against, when it is not the address's host. ``failover_wait``:
    of a replicated model, how long (seconds) a push or pull a worker does not answer waits for
    the coordinator to move the worker's shards to their backups (default 60).
    """
    return Cluster(address, Connection(tls_ca, tls_cert, tls_key, token, tls_server_name), timeout, failover_wait)
