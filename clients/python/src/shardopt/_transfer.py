"""The worker calls that carry tensor data: Push (with its bounded retry and failover), Pull and
WriteParameters, each sent to every worker of a shard layout in parallel.

Failover (issue 9, as the Java client's WorkerCalls and the Node client's transfer.js): of a
replicated model, a worker that does not answer (UNAVAILABLE: dead, fenced, or refusing an old
epoch; DEADLINE_EXCEEDED; or no answer while a newer map no longer lists it) makes the client read
the shard map again. Once the coordinator has declared the worker dead, the map's newer epoch moves
its shards to their backups and the call goes to the copies the new map lists, for up to
``failover_wait`` seconds. Pushes are idempotent per (model, trainer, step): a copy that had the
push answers duplicate, so a step in flight is applied exactly once.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import grpc
import numpy as np

from ._connection import Connection
from .errors import ShardoptError
from .layout import ShardLayout
from .tensors import chunks
from .v1 import service_pb2 as pb, service_pb2_grpc as rpc

# Each call that fails over logs one WARNING (the map moved); each retry before that an INFO line.
log = logging.getLogger("shardopt")

# A push a worker answers with UNAVAILABLE is sent again (the same chunks: a worker that had it
# answers duplicate), this often in all, after 0.2 s, doubling up to 1 s; of a replicated model,
# also for as long as the failover wait allows.
PUSH_ATTEMPTS = 3
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 1.0
# Of a replicated model, how long a push or pull keeps reading the shard map while a worker does
# not answer (the coordinator's --failure-timeout-ms is 3 s by default).
FAILOVER_WAIT_S = 60.0
# How often a call to a replicated model's worker that has not answered checks the shard map.
MOVED_POLL_S = 1.0
# A pull waits on the worker up to its --wait-ms (60 s by default), which then answers with an
# actionable DEADLINE_EXCEEDED; the client's own deadline is longer so that the worker's message wins.
PULL_TIMEOUT_S = 90.0
# Pulls whose workers answer at different steps (ASYNC: pushes keep landing) are completed this
# often in all: each time only the workers behind are pulled again, at the step of the one ahead.
PULL_ATTEMPTS = 8

# A worker's shards moved to their backups (a newer map no longer lists it).
_MOVED = object()

Reread = Callable[[], ShardLayout]


def retryable(code: Optional[grpc.StatusCode], replicated: bool) -> bool:
    """Whether a worker call that failed with ``code`` is tried again: a replicated model's also
    when it got no answer in time."""
    return code == grpc.StatusCode.UNAVAILABLE or (replicated and code == grpc.StatusCode.DEADLINE_EXCEEDED)


class Transfer:
    """The data-plane calls of one model. Thread-safe: the trainers of one process may push and
    pull at the same time (each call of each trainer has its own streams)."""

    def __init__(self, connection: Connection, model: str, timeout: float, failover_wait: float,
                 pool: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._model = model
        self._timeout = timeout
        self._failover_wait = failover_wait
        # Runs the pull streams' readers (a push needs no thread of ours: gRPC sends it).
        self._pool = pool

    def _stub(self, address: str) -> rpc.WorkerStub:
        return rpc.WorkerStub(self._connection.channel(address))

    # ------------------------------------------------------------------------------ push

    def push(self, first: ShardLayout, header: pb.PushHeader, flat: Mapping[str, np.ndarray],
             reread: Reread) -> bool:
        """Sends ``header`` and every copy's chunks of ``flat`` to every worker of the layout; True
        when every worker answered duplicate.

        A worker that answers UNAVAILABLE is sent the same push again, up to PUSH_ATTEMPTS in all.
        Of a replicated model, a worker that does not answer makes the client read the map again
        (``reread``) for up to the failover wait: once a newer epoch has moved that worker's shards,
        the push, tagged with the new epoch, goes to the copies it lists that have not acknowledged
        it. Any other error fails the push (after the other workers' answers are in).
        """
        layout = first
        pending = list(layout.push_shards)
        answers: Dict[str, pb.PushResponse] = {}
        pause = FIRST_BACKOFF_S
        give_up = time.monotonic() + self._failover_wait
        attempt = 0
        while True:
            attempt += 1
            # Tagged with the map it is sent by: a worker that took a newer epoch refuses it.
            tagged = pb.PushHeader()
            tagged.CopyFrom(header)
            tagged.epoch = layout.epoch
            calls = [(a, self._send_push(a, layout.push_shards[a], tagged, flat)) for a in pending]
            replicated = layout.replicated
            may_retry = attempt < PUSH_ATTEMPTS or (replicated and time.monotonic() < give_up)
            retry: List[str] = []
            failure: Optional[ShardoptError] = None
            moved = False
            try:
                for address, call in calls:
                    what = _push_what(header, address, attempt)
                    try:
                        answer = self._await(call, address, layout, reread) if replicated else call.result()
                    except (grpc.RpcError, ShardoptError) as e:
                        # ShardoptError: _await heard nothing in time (DEADLINE_EXCEEDED)
                        error = e if isinstance(e, ShardoptError) else ShardoptError.of("", e)
                        if not retryable(error.code, replicated):
                            failure = failure or _failed(what, error)
                        elif may_retry:
                            log.info("%s failed: %s; sending it again", what, error.code.name)
                            retry.append(address)
                        else:
                            failure = failure or _failed(what + _giving_up(replicated, attempt, self._failover_wait,
                                                                           layout), error)
                        continue
                    if answer is _MOVED:
                        moved = True  # its shards moved to their backups: the new map says where
                        continue
                    if answer.step != header.step:
                        raise ShardoptError("%s was acknowledged for step %d" % (what, answer.step),
                                            grpc.StatusCode.INTERNAL)
                    answers[address] = answer
            finally:
                for _, call in calls:
                    call.cancel()  # only those still running: a failure, or moved
            if failure is not None:
                raise failure
            if replicated and (moved or retry):
                newer = reread()
                if newer.epoch > layout.epoch:
                    log.warning("push of step %d (trainer %d, %s): the shard map moved to epoch %d; sending it to"
                                " the copies it lists that have not acknowledged it", header.step, header.trainer,
                                header.model, newer.epoch)
                    layout = newer
                    pending = [a for a in newer.push_shards if a not in answers]
                    if not pending:
                        break
                    continue
            if not retry:
                break
            time.sleep(pause)
            pause = min(pause * 2, MAX_BACKOFF_S)
            pending = retry
        return all(a.duplicate for a in answers.values())

    def _send_push(self, address: str, shards: List[pb.Shard], header: pb.PushHeader,
                   flat: Mapping[str, np.ndarray]) -> grpc.Future:
        def messages():
            yield pb.PushRequest(header=header)
            for s in shards:
                for c in chunks(s.tensor, flat[s.tensor], s.offset, s.length):
                    yield pb.PushRequest(chunk=c)
        # gRPC takes the next chunk from the generator when the stream can carry it (flow control).
        return self._stub(address).Push.future(messages(), timeout=self._timeout,
                                               metadata=self._connection.metadata)

    def _await(self, call: Any, address: str, layout: ShardLayout, reread: Reread) -> Any:
        """The answer of ``call`` (a gRPC or pool future), waited for in slices of MOVED_POLL_S;
        after each slice without one the map is read again: _MOVED once a newer epoch no longer
        lists ``address`` (the worker was declared dead)."""
        end = time.monotonic() + self._timeout + 10.0
        while True:
            try:
                return call.result(timeout=MOVED_POLL_S)
            except (grpc.FutureTimeoutError, concurrent.futures.TimeoutError):
                pass
            newer = reread()
            if newer.epoch > layout.epoch and address not in newer.push_shards:
                return _MOVED
            if time.monotonic() > end:
                raise ShardoptError("no answer from worker %s within %.0f s" % (address, end - time.monotonic()),
                                    grpc.StatusCode.DEADLINE_EXCEEDED)

    # ------------------------------------------------------------------------------ pull

    def pull(self, first: ShardLayout, min_step: int, names: Sequence[str], sizes: Mapping[str, int],
             reread: Reread, trainer: Optional[int] = None) -> Tuple[int, Dict[str, np.ndarray]]:
        """(step, {tensor: flat float32}) from each range's primary, once the model has completed
        ``min_step``; every element checked to come exactly once. When the workers answer with
        different steps (ASYNC: one has applied a step the others have not yet), the workers behind
        are pulled again with ``min_step`` the highest step seen (a worker waiting for that step
        answers as it reaches it), keeping the others' answers; up to PULL_ATTEMPTS in all, then
        ABORTED. Of a replicated model, a pull a primary does not answer is tried again with the map
        read again, for up to the failover wait: a newer map names the promoted backup."""
        layout = first
        give_up = time.monotonic() + self._failover_wait
        pause = FIRST_BACKOFF_S
        pulled: Optional[_Pulled] = None
        behind: Optional[Set[str]] = None  # None: every worker
        attempt = 1
        while True:
            if behind is None:
                pulled = _Pulled(names, sizes)
            assert pulled is not None
            try:
                self._pull_once(layout, min_step, names, reread, trainer, pulled, behind)
            except ShardoptError as e:
                behind = None  # a failover pulls everything again, from the copies the map lists
                if not layout.replicated or not retryable(e.code, True):
                    raise
                if time.monotonic() > give_up:
                    raise ShardoptError("%s; gave up after the failover wait of %g s (shard map epoch %d)"
                                        % (e, self._failover_wait, layout.epoch), e.code, e.details) from None
                newer = reread()
                if newer.epoch > layout.epoch:
                    log.warning("pull of %s: the shard map moved to epoch %d; pulling from the copies it lists",
                                self._model, newer.epoch)
                    layout = newer
                else:
                    log.info("%s; trying again in %.1f s", e, pause)
                    time.sleep(pause)
                    pause = min(pause * 2, MAX_BACKOFF_S)
                continue  # a failover is not one of the PULL_ATTEMPTS for mixed steps
            steps = pulled.steps
            if len(set(steps.values())) <= 1:
                return next(iter(steps.values()), min_step), pulled.out
            if attempt >= PULL_ATTEMPTS:
                raise ShardoptError("pull of %s: the workers stayed at different steps after %d attempts: %s"
                                    % (self._model, attempt, pulled.describe_steps()), grpc.StatusCode.ABORTED)
            attempt += 1
            ahead = max(steps.values())
            log.debug("pull of %s: %s; pulling the workers behind again at step %d", self._model,
                      pulled.describe_steps(), ahead)
            behind = {a for a, s in steps.items() if s < ahead}
            for a in behind:
                pulled.forget(a)
            min_step = max(min_step, ahead)

    def _pull_once(self, layout: ShardLayout, min_step: int, names: Sequence[str], reread: Reread,
                   trainer: Optional[int], pulled: "_Pulled", only: Optional[Set[str]]) -> None:
        """Pulls from every worker of ``layout`` holding primaries of ``names``, or from those in
        ``only`` when it is not None, into ``pulled``; then checks that every element is covered."""
        wanted = set(names)
        who = "" if trainer is None else " (trainer %d)" % trainer
        calls: Dict[Future, Tuple[str, Any]] = {}
        try:
            for address, shards in layout.pull_shards.items():
                if only is not None and address not in only:
                    continue
                mine = [s for s in shards if s.tensor in wanted]
                if not mine:
                    continue
                request = pb.PullRequest(model=self._model, min_step=min_step)
                if len(names) != len(pulled.sizes):
                    request.tensors.extend(names)
                if layout.replicated:  # the worker holds backups too: name the primaries wanted
                    request.shards.extend(pb.ShardStart(tensor_index=s.tensor_index, offset=s.offset) for s in mine)
                call = self._stub(address).Pull(request, timeout=PULL_TIMEOUT_S, metadata=self._connection.metadata)
                what = "pull of %s at step %d%s from worker %s" % (self._model, min_step, who, address)
                calls[self._pool.submit(_read_pull, what, call, min_step, pulled, address)] = (address, call)
            self._await_pulls(calls, layout, reread, min_step, who)
        finally:
            for _, call in calls.values():
                call.cancel()  # no use waiting for the others once one failed
        pulled.check_complete(self._model, min_step)

    def _await_pulls(self, calls: Dict[Future, Tuple[str, Any]], layout: ShardLayout, reread: Reread,
                     min_step: int, who: str) -> None:
        """Waits for every pull; the first failure at once. Of a replicated model, after each
        MOVED_POLL_S without every answer the map is read again: UNAVAILABLE once a newer epoch no
        longer lists a worker that has not answered."""
        end = time.monotonic() + PULL_TIMEOUT_S + 10.0
        pending = set(calls)
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=MOVED_POLL_S if layout.replicated else None,
                                                    return_when=FIRST_EXCEPTION)
            for f in done:
                if f.exception() is not None:
                    raise f.exception()  # type: ignore[misc]
            if not pending or not layout.replicated:
                continue
            newer = reread()
            gone = [calls[f][0] for f in pending if newer.epoch > layout.epoch and calls[f][0] not in newer.push_shards]
            if gone:
                raise ShardoptError("pull of %s at step %d%s from worker %s: worker %s was declared dead; its shards"
                                    " moved to their backups (shard map epoch %d)"
                                    % (self._model, min_step, who, gone[0], gone[0], newer.epoch),
                                    grpc.StatusCode.UNAVAILABLE)
            if time.monotonic() > end:
                raise ShardoptError("pull of %s at step %d%s: no answer from %s"
                                    % (self._model, min_step, who, sorted(calls[f][0] for f in pending)),
                                    grpc.StatusCode.DEADLINE_EXCEEDED)

    # ------------------------------------------------------------------------------ upload

    def write(self, layout: ShardLayout, values: Mapping[str, np.ndarray]) -> None:
        """Uploads initial values (flat float32) to every worker holding a copy of them. Not retried."""
        calls = []
        for address, shards in layout.push_shards.items():
            mine = [s for s in shards if s.tensor in values]
            if not mine:
                continue
            calls.append((address, self._stub(address).WriteParameters.future(
                _first_named(self._model, mine, values), timeout=self._timeout, metadata=self._connection.metadata)))
        failure: Optional[ShardoptError] = None
        for address, call in calls:
            try:
                call.result()
            except grpc.RpcError as e:
                if failure is None:
                    failure = ShardoptError.of("WriteParameters of %s to %s" % (self._model, address), e)
                    for _, other in calls:
                        other.cancel()
        if failure is not None:
            raise failure


class _Pulled:
    """One pull's arrays and its bookkeeping: which elements each worker covered (so that a worker's
    answer can be forgotten and pulled again into the same arrays, each element still checked to
    come exactly once) and the step each worker answered with. The readers of different workers fill
    it from their own threads: disjoint elements, and steps under a lock."""

    def __init__(self, names: Sequence[str], sizes: Mapping[str, int]) -> None:
        self.sizes = sizes
        self.out = {n: np.empty(sizes[n], dtype=np.float32) for n in names}
        self.covered = {n: np.zeros(sizes[n], dtype=bool) for n in names}
        self._spans: Dict[str, List[Tuple[str, slice]]] = {}
        self._steps: Dict[str, int] = {}
        self._lock = threading.Lock()

    def accept(self, what: str, address: str, tensor: str, offset: int, values: np.ndarray) -> None:
        target = self.out.get(tensor)
        if target is None or offset + values.size > target.size:
            raise ShardoptError("%s: the worker sent elements [%d, %d) of '%s', which were not asked for"
                                % (what, offset, offset + values.size, tensor))
        span = slice(offset, offset + values.size)
        if self.covered[tensor][span].any():
            raise ShardoptError("%s: the worker sent elements of '%s' twice" % (what, tensor))
        self.covered[tensor][span] = True
        with self._lock:
            self._spans.setdefault(address, []).append((tensor, span))
        target[span] = values

    def answered(self, address: str, step: int) -> None:
        with self._lock:
            self._steps[address] = step

    def forget(self, address: str) -> None:
        """Forgets ``address``'s answer (its step and the elements it covered), so that it can be pulled
        again at a later step while the other workers' answers stay."""
        with self._lock:
            self._steps.pop(address, None)
            for tensor, span in self._spans.pop(address, []):
                self.covered[tensor][span] = False

    @property
    def steps(self) -> Dict[str, int]:
        """The step each worker answered with, by address."""
        with self._lock:
            return dict(self._steps)

    def describe_steps(self) -> str:
        return ", ".join("worker %s at step %d" % (a, s) for a, s in sorted(self.steps.items()))

    def check_complete(self, model: str, min_step: int) -> None:
        for n, c in self.covered.items():
            if not c.all():
                raise ShardoptError("pull of %s at step %d: tensor '%s' covered %d of %d elements"
                                    % (model, min_step, n, int(c.sum()), self.sizes[n]))


def _read_pull(what: str, call: Any, min_step: int, pulled: _Pulled, address: str) -> None:
    """Reads one worker's pull stream into ``pulled``, with the step it answered."""
    step: Optional[int] = None
    try:
        for r in call:
            if step is not None and r.step != step:
                raise ShardoptError("%s: the worker answered with steps %d and %d" % (what, step, r.step))
            step = r.step
            c = r.chunk
            pulled.accept(what, address, c.tensor, c.offset, np.frombuffer(c.data, dtype="<f4"))
    except grpc.RpcError as e:
        raise ShardoptError.of(what, e) from None
    pulled.answered(address, min_step if step is None else int(step))


def _first_named(model: str, shards: List[pb.Shard], values: Mapping[str, np.ndarray]):
    first = True
    for s in shards:
        for c in chunks(s.tensor, values[s.tensor], s.offset, s.length):
            if first:
                c.model = model
                first = False
            yield c


def _push_what(header: pb.PushHeader, address: str, attempt: int) -> str:
    tries = " (attempt %d)" % attempt if attempt > 1 else ""
    return "push of step %d (trainer %d, %s) to worker %s%s" % (header.step, header.trainer, header.model, address, tries)


def _giving_up(replicated: bool, attempt: int, failover_wait: float, layout: ShardLayout) -> str:
    if not replicated:
        return ", giving up after %d attempts" % attempt
    return (", giving up after %d attempts and the failover wait of %g s (the shard map stayed at epoch %d)"
            % (attempt, failover_wait, layout.epoch))


def _failed(what: str, error: ShardoptError) -> ShardoptError:
    """``error`` with ``what`` in front: "<what>: <CODE> <details>"."""
    name = error.code.name if error.code is not None else "UNKNOWN"
    return ShardoptError("%s: %s %s" % (what, name, error.details or str(error)), error.code, error.details)
