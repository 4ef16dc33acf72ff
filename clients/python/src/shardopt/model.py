"""A model on the cluster: its tensors and shard map, pushes and pulls straight to the workers."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
import numpy as np

from . import reduction
from ._transfer import Transfer
from .errors import ShardoptError
from .layout import ShardLayout
from .tensors import as_wire, element_count
from .v1 import pipeline_pb2, service_pb2 as pb

if TYPE_CHECKING:
    from .cluster import Cluster

CHECKPOINT_TIMEOUT_S = 600.0


class Model:
    """A model of the cluster (``models/{id}``), made by Cluster.create_model or Cluster.model.

    Holds the tensors' shapes and the shard map (its layout). Tensor data goes straight to the
    workers the map names, in parallel. Of a replicated model, a worker that stops answering makes
    pushes and pulls read the map again; a newer epoch (the worker's shards moved to their backups)
    replaces the layout, and the call goes on against it. The object may be shared by the trainers
    of one process: their pushes and pulls may run at the same time.
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
        self._layout = ShardLayout(shard_map, self.sizes)
        self._layout_lock = threading.Lock()
        # A pull holds one thread per worker until the step is complete, which needs the other
        # trainers' pushes: enough threads for every trainer of this process to pull at once, and
        # for a map that gains a worker (threads are made only when needed).
        threads = 2 * self.trainers * max(2, len(self._layout.push_shards)) + 4
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="shardopt-" + self.id)
        self._transfer = Transfer(cluster._connection, self.name, cluster.timeout, cluster.failover_wait, self._pool)

    # ------------------------------------------------------------------------------ shard map

    @property
    def layout(self) -> ShardLayout:
        """The newest shard map this object knows, grouped by worker."""
        return self._layout

    @property
    def shard_map(self) -> pb.ShardMap:
        return self._layout.shard_map

    @property
    def push_shards(self) -> Dict[str, List[pb.Shard]]:
        """Every copy of every shard, by worker address: a push sends each worker exactly these."""
        return self._layout.push_shards

    @property
    def pull_shards(self) -> Dict[str, List[pb.Shard]]:
        """The primaries by worker address: a pull reads each range once."""
        return self._layout.pull_shards

    @property
    def replicated(self) -> bool:
        return self._layout.replicated

    def refresh_layout(self) -> ShardLayout:
        """Reads the shard map again (GetShardMap); it replaces the one held when its epoch is
        newer. Returns the newer of the two (an older or equal map never replaces a newer one,
        whichever thread read it first)."""
        shard_map = self.cluster._call("GetShardMap of %s" % self.name, self.cluster._stub.GetShardMap,
                                       pb.GetShardMapRequest(name=self.name))
        return self._offer_layout(ShardLayout(shard_map, self.sizes))

    def _offer_layout(self, fresh: ShardLayout) -> ShardLayout:
        with self._layout_lock:
            if fresh.epoch > self._layout.epoch:
                self._layout = fresh
            return self._layout

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
        """Uploads initial values (flat float32) of ``upload`` tensors to every worker holding a copy."""
        self._transfer.write(self._layout, values)

    def pull(self, min_step: int, tensors: Optional[Sequence[str]] = None,
             trainer: Optional[int] = None) -> Tuple[int, Dict[str, np.ndarray]]:
        """(step, {tensor: float32 array of its shape}) once the model has completed ``min_step``.

        SYNC: exactly version ``min_step``. ASYNC: the newest version at or after it, the same on
        every worker (when the workers differ, those behind are pulled again at the newest step
        seen, up to 8 attempts in all, then ABORTED). ``tensors``:
        only these (every tensor when None). ``trainer``: named in errors.
        """
        _non_negative("min_step", min_step)
        names = list(self.shapes) if tensors is None else list(tensors)
        for n in names:
            if n not in self.shapes:
                raise ValueError("tensor '%s' is not in %s; it has %s" % (n, self.name, list(self.shapes)))
        step, flat = self._transfer.pull(self._layout, min_step, names, self.sizes, self.refresh_layout, trainer)
        return step, {n: flat[n].reshape(self.shapes[n]) for n in names}

    def push(self, rank: int, step: int, gradient: Mapping[str, Any],
             statistics: Optional[Callable[[Dict[str, np.ndarray]], Tuple[float, bool, Optional[int]]]] = None) -> bool:
        """Pushes trainer ``rank``'s gradient of ``step`` to every copy of every shard; True when
        every worker answered duplicate (it had this push already). ``gradient``: every tensor,
        each with the tensor's element count (any shape), converted to float32.

        A worker that answers UNAVAILABLE is sent the push again (the same chunks); of a replicated
        model, once the shard map has moved the worker's shards to their backups, the push goes to
        the copies the new map lists, tagged with its epoch (see _transfer.Transfer.push)."""
        missing = [n for n in self.shapes if n not in gradient]
        extra = [n for n in gradient if n not in self.shapes]
        if missing or extra:
            raise ValueError("gradient of step %d for %s: missing tensors %s, unknown tensors %s (the model has %s)"
                             % (step, self.name, missing, extra, list(self.shapes)))
        flat = {n: as_wire(n, gradient[n], self.sizes[n], "gradient") for n in self.shapes}
        header = pb.PushHeader(model=self.name, trainer=rank, step=_non_negative("step", step))
        if statistics is not None:
            norm_squared, non_finite, generation = statistics(flat)
            header.gradient_norm_squared = norm_squared
            header.non_finite = non_finite
            if generation is not None:
                header.pipeline_generation = generation
        return self._transfer.push(self._layout, header, flat, self.refresh_layout)


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
        version, values = self.model.pull(self.step, tensors, trainer=self.rank)
        if self.model.mode != "ASYNC" and version != self.step:
            raise ShardoptError("pull of %s for step %d answered version %d" % (self.model.name, self.step, version))
        return values

    def push(self, step: int, gradient: Mapping[str, Any]) -> bool:
        """Pushes this trainer's gradient of ``step`` (every tensor; arrays, or torch CPU tensors).

        Retries on UNAVAILABLE with the same chunks, and of a replicated model follows a newer
        shard map (failover); returns True when every worker already had it (duplicate).
        Afterwards ``self.step`` is ``step + 1``.
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
