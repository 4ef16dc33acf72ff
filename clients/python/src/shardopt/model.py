"""A model on the cluster: its tensors and shard map, pushes and pulls straight to the workers."""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
import numpy as np

from . import reduction
from .errors import ShardoptError
from .tensors import as_wire, chunks, element_count
from .v1 import pipeline_pb2, service_pb2 as pb, service_pb2_grpc as rpc

if TYPE_CHECKING:
    from .cluster import Cluster

# A push answered UNAVAILABLE is sent again (the same chunks: a worker that had it answers
# duplicate), this often in all, after 0.2 s, then 0.4 s.
PUSH_ATTEMPTS = 3
FIRST_BACKOFF_S = 0.2
# A pull waits on the worker up to its --wait-ms (60 s by default), which then answers with an
# actionable DEADLINE_EXCEEDED; the client's own deadline is longer so that the worker's message wins.
PULL_TIMEOUT_S = 90.0
# Pulls whose workers answer at different steps (ASYNC) are repeated at the newest, this often.
PULL_ATTEMPTS = 3
CHECKPOINT_TIMEOUT_S = 600.0


class Model:
    """A model of the cluster (``models/{id}``), made by Cluster.create_model or Cluster.model.

    Holds the tensors' shapes and the shard map read when it was made; a model with one copy per
    shard keeps its map for life. Tensor data goes straight to the workers the map names, in
    parallel, one thread per worker.
    """

    def __init__(self, cluster: "Cluster", info: pb.Model, shard_map: pb.ShardMap) -> None:
        self.cluster = cluster
        self.info = info
        self.name: str = info.name
        self.id: str = info.name[len("models/"):] if info.name.startswith("models/") else info.name
        self.trainers: int = max(1, info.trainers)
        self.mode: str = pb.TrainingMode.Name(info.mode) if info.mode else "SYNC"
        # Tensors in model order: the order of the reductions and of the shard map's tensor_index.
        self.shapes: Dict[str, Tuple[int, ...]] = {t.name: tuple(int(d) for d in t.shape) for t in info.tensors}
        self.sizes: Dict[str, int] = {n: element_count(s) for n, s in self.shapes.items()}
        self.shard_map = shard_map
        # Every copy of every shard, by worker address: a push goes to each worker with exactly these.
        self.push_shards: Dict[str, List[pb.Shard]] = {}
        # The primaries by worker: a pull reads each range once.
        self.pull_shards: Dict[str, List[pb.Shard]] = {}
        for s in shard_map.shards:
            self.push_shards.setdefault(s.address, []).append(s)
            if s.replica == 0:
                self.pull_shards.setdefault(s.address, []).append(s)
        self.replicated = any(s.replica for s in shard_map.shards)
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.push_shards)),
                                        thread_name_prefix="shardopt-" + self.id)

    def __repr__(self) -> str:
        return "Model(%r, trainers=%d, mode=%s, tensors=%s)" % (self.name, self.trainers, self.mode,
                                                                dict(self.shapes))

    # ------------------------------------------------------------------------------ control calls

    def trainer(self, rank: int, start_step: Optional[int] = None) -> "Trainer":
        """Trainer ``rank`` (0 <= rank < trainers) of this model.

        Its first step is ``start_step``, by default the model's step when this Model was read
        (0 for a new model; a restored model's checkpoint step; ASYNC: this trainer's next push).
        """
        if not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < self.trainers:
            raise ValueError("rank must be in [0, %d) for %s, got %r" % (self.trainers, self.name, rank))
        if start_step is None:
            if self.mode == "ASYNC" and rank < len(self.info.next_push):
                start_step = int(self.info.next_push[rank])
            else:
                start_step = int(self.info.step)
        if start_step < 0:
            raise ValueError("start_step must be >= 0, got %d" % start_step)
        return Trainer(self, rank, start_step)

    def refresh(self) -> pb.Model:
        """Reads the model again (GetModel): state, step, counters and pipeline schedule."""
        self.info = self.cluster._call("GetModel of %s" % self.name, self.cluster._stub.GetModel,
                                       pb.GetModelRequest(name=self.name))
        return self.info

    def step(self) -> int:
        """Steps completed on every worker now (GetModel.step)."""
        return int(self.refresh().step)

    def update_pipeline(self, pipeline: Union[str, pipeline_pb2.OptimizerPipeline], at_step: int) -> pb.Model:
        """Puts a new pipeline (DSL text or message) in force from step ``at_step`` on.

        ``at_step`` must be a step no worker has started (after the schedule's fixed_through, e.g.
        a few steps past step()); FAILED_PRECONDITION names the earliest one allowed. A change may
        alter values (lr and schedule, clipping, weight decay, parameter rules), not the base rule.
        """
        request = pb.UpdatePipelineRequest(name=self.name, at_step=_non_negative("at_step", at_step))
        _set_pipeline(request, pipeline)
        self.info = self.cluster._call("UpdatePipeline of %s at step %d" % (self.name, at_step),
                                       self.cluster._stub.UpdatePipeline, request)
        return self.info

    def checkpoint(self, directory: str, at_step: Optional[int] = None) -> pb.Checkpoint:
        """A consistent checkpoint in ``directory``/step-<s>; returns when it is complete.

        ``directory`` is made absolute here, and must be where the coordinator and workers see it
        (a shared filesystem across machines). SYNC: ``at_step`` is the step boundary (a multiple
        of accumulate, not yet passed); None takes the next one.
        """
        request = pb.CheckpointModelRequest(name=self.name, directory=os.path.abspath(directory))
        if at_step is not None:
            request.at_step = _non_negative("at_step", at_step)
        return self.cluster._call("CheckpointModel of %s into %s" % (self.name, request.directory),
                                  self.cluster._stub.CheckpointModel, request, timeout=CHECKPOINT_TIMEOUT_S)

    def metrics(self, from_step: int = 0) -> pb.ModelMetrics:
        """Per-step statistics: learning rate, gradient norm before and after clipNorm, skips."""
        return self.cluster._call("GetMetrics of %s" % self.name, self.cluster._stub.GetMetrics,
                                  pb.GetMetricsRequest(name=self.name, from_step=_non_negative("from_step", from_step)))

    def delete(self) -> None:
        """Deletes the model from the cluster (its shards are freed) and closes this object."""
        self.cluster._call("DeleteModel of %s" % self.name, self.cluster._stub.DeleteModel,
                           pb.DeleteModelRequest(name=self.name))
        self.close()

    def close(self) -> None:
        """Stops this object's threads; calls still running end when the cluster closes."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------ tensor data

    def write_parameters(self, values: Mapping[str, np.ndarray]) -> None:
        """Uploads initial values (flat float32) of ``upload`` tensors to the workers holding them."""
        def write(address: str) -> None:
            def messages():
                first = True
                for s in self.push_shards[address]:
                    if s.tensor not in values:
                        continue
                    for c in chunks(s.tensor, values[s.tensor], s.offset, s.length):
                        if first:
                            c.model = self.name
                            first = False
                        yield c
            if not any(s.tensor in values for s in self.push_shards[address]):
                return
            stub = rpc.WorkerStub(self.cluster._connection.channel(address))
            try:
                stub.WriteParameters(messages(), timeout=self.cluster.timeout,
                                     metadata=self.cluster._connection.metadata)
            except grpc.RpcError as e:
                raise ShardoptError.of("WriteParameters of %s to %s" % (self.name, address), e) from None
        self._all(write, [(a,) for a in self.push_shards])

    def pull(self, min_step: int, tensors: Optional[Sequence[str]] = None) -> Tuple[int, Dict[str, np.ndarray]]:
        """(step, {tensor: float32 array of its shape}) once the model has completed ``min_step``.

        SYNC: exactly version ``min_step``. ASYNC: the newest version at or after it, the same on
        every worker (pulled again at the newest step seen when the workers differ). ``tensors``:
        only these (every tensor when None).
        """
        _non_negative("min_step", min_step)
        names = list(self.shapes) if tensors is None else list(tensors)
        for n in names:
            if n not in self.shapes:
                raise ValueError("tensor '%s' is not in %s; it has %s" % (n, self.name, list(self.shapes)))
        wanted = set(names)
        workers = [a for a, shards in self.pull_shards.items() if any(s.tensor in wanted for s in shards)]
        steps: List[int] = []
        for _ in range(PULL_ATTEMPTS):
            out = {n: np.empty(self.sizes[n], dtype=np.float32) for n in names}
            covered = {n: np.zeros(self.sizes[n], dtype=bool) for n in names}
            steps = self._all(self._pull_one, [(a, min_step, names, out, covered) for a in workers])
            for n in names:
                if not covered[n].all():
                    raise ShardoptError("pull of %s at step %d: tensor '%s' covered %d of %d elements"
                                        % (self.name, min_step, n, int(covered[n].sum()), self.sizes[n]))
            if len(set(steps)) <= 1:
                step = steps[0] if steps else min_step
                return step, {n: out[n].reshape(self.shapes[n]) for n in names}
            min_step = max(steps)
        raise ShardoptError("pull of %s: the workers stayed at different steps %s" % (self.name, steps),
                            grpc.StatusCode.ABORTED)

    def _pull_one(self, address: str, min_step: int, names: List[str], out: Dict[str, np.ndarray],
                  covered: Dict[str, np.ndarray]) -> int:
        stub = rpc.WorkerStub(self.cluster._connection.channel(address))
        request = pb.PullRequest(model=self.name, min_step=min_step)
        if len(names) != len(self.shapes):
            request.tensors.extend(names)
        if self.replicated:
            request.shards.extend(pb.ShardStart(tensor_index=s.tensor_index, offset=s.offset)
                                  for s in self.pull_shards[address] if s.tensor in out)
        step: Optional[int] = None
        try:
            for r in stub.Pull(request, timeout=PULL_TIMEOUT_S, metadata=self.cluster._connection.metadata):
                if step is not None and r.step != step:
                    raise ShardoptError("pull of %s: worker %s answered with steps %d and %d"
                                        % (self.name, address, step, r.step))
                step = r.step
                c = r.chunk
                values = np.frombuffer(c.data, dtype="<f4")
                target = out.get(c.tensor)
                if target is None or c.offset + values.size > target.size:
                    raise ShardoptError("pull of %s: worker %s sent elements [%d, %d) of '%s', which were not asked for"
                                        % (self.name, address, c.offset, c.offset + values.size, c.tensor))
                span = slice(c.offset, c.offset + values.size)
                if covered[c.tensor][span].any():
                    raise ShardoptError("pull of %s: worker %s sent elements of '%s' twice" % (self.name, address, c.tensor))
                covered[c.tensor][span] = True
                target[span] = values
        except grpc.RpcError as e:
            raise ShardoptError.of("pull of %s at step %d from %s" % (self.name, min_step, address), e) from None
        return min_step if step is None else int(step)

    def push(self, rank: int, step: int, gradient: Mapping[str, Any],
             statistics: Optional[Callable[[Dict[str, np.ndarray]], Tuple[float, bool, Optional[int]]]] = None) -> bool:
        """Pushes trainer ``rank``'s gradient of ``step`` to every worker; True when every worker
        answered duplicate (it had this push already). ``gradient``: every tensor, each with the
        tensor's element count (any shape), converted to float32."""
        missing = [n for n in self.shapes if n not in gradient]
        extra = [n for n in gradient if n not in self.shapes]
        if missing or extra:
            raise ValueError("gradient of step %d for %s: missing tensors %s, unknown tensors %s (the model has %s)"
                             % (step, self.name, missing, extra, list(self.shapes)))
        flat = {n: as_wire(n, gradient[n], self.sizes[n], "gradient") for n in self.shapes}
        header = pb.PushHeader(model=self.name, trainer=rank, step=_non_negative("step", step),
                               epoch=self.shard_map.epoch)  # a worker past this epoch refuses it
        if statistics is not None:
            norm_squared, non_finite, generation = statistics(flat)
            header.gradient_norm_squared = norm_squared
            header.non_finite = non_finite
            if generation is not None:
                header.pipeline_generation = generation
        answers = self._all(self._push_one, [(a, header, flat) for a in self.push_shards])
        return all(a.duplicate for a in answers)

    def _push_one(self, address: str, header: pb.PushHeader, flat: Dict[str, np.ndarray]) -> pb.PushResponse:
        stub = rpc.WorkerStub(self.cluster._connection.channel(address))

        def messages():
            yield pb.PushRequest(header=header)
            for s in self.push_shards[address]:
                for c in chunks(s.tensor, flat[s.tensor], s.offset, s.length):
                    yield pb.PushRequest(chunk=c)

        pause = FIRST_BACKOFF_S
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            try:
                # A generator: gRPC takes the next chunk when the stream can carry it (flow control).
                return stub.Push(messages(), timeout=self.cluster.timeout, metadata=self.cluster._connection.metadata)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or attempt == PUSH_ATTEMPTS:
                    raise ShardoptError.of("push of step %d (trainer %d) of %s to %s"
                                           % (header.step, header.trainer, self.name, address), e) from None
                time.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")

    def _all(self, fn: Callable[..., Any], calls: List[tuple]) -> List[Any]:
        """fn(*args) for each args in calls, in parallel; the first failure is raised at once."""
        futures: List[Future] = [self._pool.submit(fn, *args) for args in calls]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            if f in done and f.exception() is not None:
                raise f.exception()  # type: ignore[misc]
        return [f.result() for f in futures]


class Trainer:
    """One of a model's K trainers: pull the parameters of its step, push its gradient.

    ``step`` is the next push index. SYNC: pull() returns exactly version ``step`` (waiting until
    all K trainers have pushed the step before), push(step, grads) sends this trainer's part.
    """

    def __init__(self, model: Model, rank: int, step: int) -> None:
        self.model = model
        self.rank = rank
        self.step = step

    def __repr__(self) -> str:
        return "Trainer(%s, rank=%d, step=%d)" % (self.model.name, self.rank, self.step)

    def pull(self, tensors: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """{tensor: float32 array of its shape}: the parameters the next push's gradient is for."""
        version, values = self.model.pull(self.step, tensors)
        if self.model.mode != "ASYNC" and version != self.step:
            raise ShardoptError("pull of %s for step %d answered version %d" % (self.model.name, self.step, version))
        return values

    def push(self, step: int, gradient: Mapping[str, Any]) -> bool:
        """Pushes this trainer's gradient of ``step`` (every tensor; arrays, or torch CPU tensors).

        Retries on UNAVAILABLE with the same chunks; returns True when every worker already had
        it (duplicate). Afterwards ``self.step`` is ``step + 1``.
        """
        statistics = self._async_statistics(step) if self.model.mode == "ASYNC" else None
        try:
            duplicate = self.model.push(self.rank, step, gradient, statistics)
        except ShardoptError as e:
            if statistics is None or e.code != grpc.StatusCode.FAILED_PRECONDITION or "generation" not in e.details:
                raise
            # Another client added a pipeline generation: read the schedule, compute again, once.
            self.model.refresh()
            duplicate = self.model.push(self.rank, step, gradient, self._async_statistics(step))
        self.step = step + 1
        return duplicate

    def _async_statistics(self, step: int) -> Callable[[Dict[str, np.ndarray]], Tuple[float, bool, Optional[int]]]:
        generation, pipeline = _in_force(self.model.info, step)
        clip = pipeline.clipping.value if pipeline.clipping.HasField("value") else None
        freeze = [r.glob for r in pipeline.parameter_rules if r.kind == pipeline_pb2.ParameterRule.FREEZE]
        frozen = reduction.frozen_tensors(self.model.shapes, {"freeze": freeze})

        def statistics(flat: Dict[str, np.ndarray]) -> Tuple[float, bool, Optional[int]]:
            norm, non_finite = reduction.gradient_statistics([(n, flat[n]) for n in self.model.shapes], clip, frozen)
            return norm, non_finite, generation
        return statistics


def _in_force(info: pb.Model, step: int) -> Tuple[Optional[int], pipeline_pb2.OptimizerPipeline]:
    """(generation, pipeline) in force at ``step``: the highest generation with from_step <= step."""
    best = None
    for g in info.pipeline_schedule:
        if g.from_step <= step and (best is None or g.generation > best.generation):
            best = g
    if best is None:
        return None, info.pipeline
    return int(best.generation), best.pipeline


def _non_negative(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError("%s must be a whole number >= 0, got %r" % (field, value))
    return int(value)


def _set_pipeline(message: Any, pipeline: Union[str, pipeline_pb2.OptimizerPipeline]) -> None:
    if isinstance(pipeline, str):
        if not pipeline.strip():
            raise ValueError("pipeline is empty: give the DSL text, e.g. \"adam(1e-3).clipNorm(1.0)\"")
        message.pipeline_text = pipeline
    elif isinstance(pipeline, pipeline_pb2.OptimizerPipeline):
        message.pipeline.CopyFrom(pipeline)
    else:
        raise ValueError("pipeline must be the DSL text (str) or an OptimizerPipeline, got %s"
                         % type(pipeline).__name__)
