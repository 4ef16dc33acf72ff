"""A pull of an ASYNC model whose workers answer at different steps, against in-process fake workers
(test_shard_map's servers): only the workers behind are pulled again, with min_step the highest step
seen, keeping the answers of those already at it; after PULL_ATTEMPTS (8) in all, ABORTED naming
each worker's step.
"""

import threading
import unittest

import grpc
import numpy as np

import shardopt
from shardopt.v1 import service_pb2 as pb, service_pb2_grpc as rpc
from test_shard_map import MODEL, Coordinator, FakeServersTest


def values_at(step, offset):
    """What a worker holds of w at ``step``: element i is 10 * step + i (each step's values differ)."""
    return [10.0 * step + i for i in range(offset, offset + 2)]


class SteppedWorker(rpc.WorkerServicer):
    """Holds w[offset:offset + 2]; answers a pull at the step ``step_for(min_step)`` with
    ``values_at`` that step (UNAVAILABLE when it is None), recording each request's min_step.
    ``strays(step)``: offsets of more 2-element chunks it sends at that step (a faulty worker)."""

    def __init__(self, offset, step_for, strays=lambda step: ()):
        self.offset = offset
        self.step_for = step_for
        self.strays = strays
        self.min_steps = []
        self.lock = threading.Lock()

    def Pull(self, request, context):
        with self.lock:
            self.min_steps.append(request.min_step)
        step = self.step_for(request.min_step)
        if step is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "fenced")
        for offset in (self.offset, *self.strays(step)):
            data = np.asarray(values_at(step, offset), dtype="<f4").tobytes()
            yield pb.PullResponse(step=step, chunk=pb.TensorChunk(tensor="w", offset=offset, data=data))


def split_map(a, b):
    """An unreplicated map of w (4 elements): [0, 2) on ``a``, [2, 4) on ``b``."""
    m = pb.ShardMap(model=MODEL, epoch=1, block_size=8192)
    m.shards.add(tensor="w", tensor_index=0, offset=0, length=2, worker="workers/a", address=a)
    m.shards.add(tensor="w", tensor_index=0, offset=2, length=2, worker="workers/b", address=b)
    return m


class PullStepsTest(FakeServersTest):
    def model(self, first, second):
        a, b = self.start(first), self.start(second)
        m = split_map(a, b)
        cluster = shardopt.connect(self.start(Coordinator(lambda: m)))
        self.addCleanup(cluster.close)
        return cluster.model("m"), a, b

    def test_only_the_worker_behind_is_pulled_again_at_the_step_of_the_one_ahead(self):
        ahead = SteppedWorker(0, lambda min_step: max(min_step, 5))
        behind = SteppedWorker(2, lambda min_step: 4 if min_step < 5 else min_step)  # reaches 5 when asked for it
        model, _, _ = self.model(ahead, behind)

        step, values = model.pull(0)

        self.assertEqual(5, step)
        np.testing.assert_array_equal(np.array([50, 51, 52, 53], np.float32), values["w"])
        self.assertEqual([0], ahead.min_steps, "the worker at step 5 was asked once, its answer kept")
        self.assertEqual([0, 5], behind.min_steps, "the worker at step 4 was asked again at min_step 5")

    def test_workers_that_never_agree_fail_with_aborted_after_8_attempts_naming_the_steps(self):
        # Each answers past the step asked for (pushes keep landing): the one pulled again is always ahead.
        a_worker = SteppedWorker(0, lambda min_step: min_step + 1)
        b_worker = SteppedWorker(2, lambda min_step: min_step + 2)
        model, a, b = self.model(a_worker, b_worker)

        with self.assertRaises(shardopt.ShardoptError) as e:
            model.pull(0)

        self.assertEqual(grpc.StatusCode.ABORTED, e.exception.code)
        # attempt 1: a 1, b 2; then the one behind at the other's step: a 3, b 5, a 6, b 8, a 9, b 11, a 12
        self.assertEqual([0, 2, 5, 8, 11], a_worker.min_steps)
        self.assertEqual([0, 3, 6, 9], b_worker.min_steps)
        message = str(e.exception)
        for part in ("pull of %s" % MODEL, "different steps after 8 attempts", "worker %s at step 12" % a,
                     "worker %s at step 11" % b):
            self.assertIn(part, message)

    def test_the_answer_pulled_again_is_checked_against_the_answers_kept(self):
        ahead = SteppedWorker(0, lambda min_step: max(min_step, 5))
        # at step 5 it also sends [0, 2), which the kept answer of the worker ahead covers
        faulty = SteppedWorker(2, lambda min_step: 4 if min_step < 5 else min_step,
                               strays=lambda step: (0,) if step == 5 else ())
        model, _, b = self.model(ahead, faulty)

        with self.assertRaises(shardopt.ShardoptError) as e:
            model.pull(0)

        self.assertIn("pull of %s at step 5 from worker %s: the worker sent elements of 'w' twice" % (MODEL, b),
                      str(e.exception))
        self.assertEqual([0, 5], faulty.min_steps)

    def test_a_failover_while_pulling_the_worker_behind_pulls_everything_again_from_the_new_maps_copies(self):
        def replicated(epoch, primary_a, primary_b, backup):
            m = pb.ShardMap(model=MODEL, epoch=epoch, block_size=8192)
            m.shards.add(tensor="w", tensor_index=0, offset=0, length=2, address=primary_a, replica=0)
            m.shards.add(tensor="w", tensor_index=0, offset=0, length=2, address=backup, replica=1)
            m.shards.add(tensor="w", tensor_index=0, offset=2, length=2, address=primary_b, replica=0)
            if primary_b != backup:
                m.shards.add(tensor="w", tensor_index=0, offset=2, length=2, address=backup, replica=1)
            return m

        maps = []

        def dies_when_asked_again(min_step):
            if min_step < 5:
                return 4
            maps.append(replicated(2, a, c, c))  # declared dead: its range's backup c promoted
            return None

        ahead = SteppedWorker(0, lambda min_step: max(min_step, 5))
        dying = SteppedWorker(2, dies_when_asked_again)
        promoted = SteppedWorker(2, lambda min_step: max(min_step, 5))
        a, b, c = self.start(ahead), self.start(dying), self.start(promoted)
        maps.append(replicated(1, a, b, c))
        cluster = shardopt.connect(self.start(Coordinator(lambda: maps[-1])), failover_wait=10.0)
        self.addCleanup(cluster.close)
        model = cluster.model("m")

        step, values = model.pull(0)

        self.assertEqual(5, step)
        np.testing.assert_array_equal(np.array([50, 51, 52, 53], np.float32), values["w"])
        self.assertEqual(2, model.layout.epoch)
        self.assertEqual([0, 5], dying.min_steps)
        self.assertEqual([0, 5], ahead.min_steps, "after the failover, every worker of the new map is pulled again")
        self.assertEqual([5], promoted.min_steps)


if __name__ == "__main__":
    unittest.main()
