"""A replicated model keeps training through the package when a worker is killed (kill -9) mid-step.

Its own cluster: a coordinator (heartbeats every 100 ms, a worker declared dead after 1 s without
them) and 3 worker processes started by the launcher, like the Node client's failover test. A
model with replicas=2, sync adam with clipNorm, 2 trainers in 2 threads sharing one Model object;
each gradient depends on the parameters pulled, so an update lost or applied twice changes every
later step. At a seeded step, trainer 0 pushes, the test kills one worker (seeded), then trainer 1
pushes: the step is in flight, acknowledged by the dead worker for one trainer only. Training
finishes; every pull of both trainers is bitwise that of a fault-free run of the same script in the
same test, and the coordinator and every live copy count each step applied once.

SHARDOPT_TEST_SEED picks another kill step and victim (default 9).
"""

import os
import random
import threading
import unittest
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import shardopt
from local_cluster import LocalCluster
from shardopt.v1 import service_pb2 as pb, service_pb2_grpc as rpc

SEED = int(os.environ.get("SHARDOPT_TEST_SEED", "9"))
N = 5 * 8192 + 100  # six reduction blocks: shards on every worker
STEPS = 12
PIPELINE = "adam(0.01).clipNorm(5.0)"


def initial():
    return {"w": np.sin(np.arange(N, dtype=np.float32) * np.float32(0.37)),
            "b": shardopt.constant([7], 0.5)}


def gradient(params, step, rank):
    """Depends on the parameters pulled; its norm (~100) is well over clipNorm's 5."""
    phase = np.float32(0.11 * (2 * step + rank + 1))
    return {"w": np.sin(params["w"] * np.float32(3.0) + phase).astype(np.float32),
            "b": (params["b"] * np.float32(rank + 1) - phase).astype(np.float32)}


@unittest.skipIf(os.environ.get("SHARDOPT_COORDINATOR"), "kills worker processes: needs its own local cluster")
class FailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = LocalCluster(workers=3, coordinator_args=["--heartbeat-ms", "100", "--failure-timeout-ms", "1000"])
        cls.cluster = shardopt.connect(cls.servers.coordinator, failover_wait=30.0)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()
        cls.servers.stop()

    def train(self, model_id, kill=None):
        """Trains STEPS steps with 2 trainer threads; the pulls of each trainer, step by step.

        ``kill(model)`` (when given) runs at the seeded step after trainer 0's push and before
        trainer 1's."""
        model = self.cluster.create_model(model_id, pipeline=PIPELINE, tensors=initial(), trainers=2, replicas=2)
        rng = random.Random(SEED)
        kill_step = rng.randrange(2, STEPS - 2)
        pushed0 = threading.Event()
        killed = threading.Event()

        def run(rank):
            trainer = model.trainer(rank)
            pulls = []
            for step in range(STEPS):
                params = trainer.pull()
                pulls.append(params)
                if kill is not None and step == kill_step and rank == 1:
                    self.assertTrue(pushed0.wait(60), "trainer 0 pushed step %d" % step)
                    self.assertTrue(killed.wait(60), "the worker was killed")
                trainer.push(step, gradient(params, step, rank))
                if kill is not None and step == kill_step and rank == 0:
                    pushed0.set()
                    kill(model, rng)
                    killed.set()
            pulls.append(trainer.pull())
            return pulls

        with ThreadPoolExecutor(2) as threads:
            runs = [threads.submit(run, rank) for rank in (0, 1)]
            return model, [r.result(timeout=120) for r in runs]

    def test_kill_9_of_a_worker_mid_step_changes_nothing_and_applies_every_step_once(self):
        why = "seed %d; logs in %s" % (SEED, self.servers.logs)
        ref_model, reference = self.train("py-failover-ref")
        ref_metrics = ref_model.metrics().steps
        self.assertEqual(STEPS, ref_model.refresh().updates_applied)
        ref_model.delete()  # its copies would fail over too when the worker dies

        victim = {}

        def kill(model, rng):
            # Every worker holds copies of the model; the seeded one dies with the step in flight.
            self.assertEqual(3, len(model.push_shards), "copies on all three workers")
            address = rng.choice(sorted(model.push_shards))
            victim.update(address=address, worker=model.push_shards[address][0].worker, epoch=model.layout.epoch)
            self.assertEqual(-9, self.servers.kill_worker(self.servers.workers.index(address)))

        model, faulted = self.train("py-failover-kill", kill)

        # The client followed the coordinator's newer map, which no longer names the dead worker.
        self.assertGreater(model.layout.epoch, victim["epoch"], why)
        self.assertNotIn(victim["address"], model.push_shards, why)
        self.assertEqual(2, len(model.push_shards), "the new map names the two live workers")
        self.assertEqual(sorted(model.push_shards), sorted(model.pull_shards))

        # Nothing lost, nothing applied twice: every pull of both trainers, bit for bit.
        for rank in (0, 1):
            self.assertEqual(STEPS + 1, len(faulted[rank]))
            for step, (got, want) in enumerate(zip(faulted[rank], reference[rank])):
                for name in ("w", "b"):
                    np.testing.assert_array_equal(want[name].view(np.uint32), got[name].view(np.uint32),
                                                  "trainer %d, '%s' after %d steps (%s)" % (rank, name, step, why))
        self.assertFalse(np.array_equal(reference[0][0]["w"], reference[0][STEPS]["w"]), "training moved w")

        # The coordinator's counters: every step applied once, none skipped, the copy lost.
        info = model.refresh()
        self.assertEqual((STEPS, STEPS, 0), (info.step, info.updates_applied, info.steps_skipped), why)
        self.assertEqual(model.layout.epoch, info.replication.epoch)
        self.assertEqual([victim["worker"]], list(info.replication.lost_workers))
        self.assertEqual(1, info.replication.min_live_copies)
        steps = model.metrics().steps
        self.assertEqual(list(range(STEPS)), [s.step for s in steps], why)
        self.assertEqual([s.update for s in ref_metrics], [s.update for s in steps])
        self.assertEqual([(s.gradient_norm, s.clipped_norm) for s in ref_metrics],
                         [(s.gradient_norm, s.clipped_norm) for s in steps])
        self.assertTrue(all(s.gradient_norm > 5.0 for s in steps), "clipNorm(5.0) clipped every step")
        listed = [m for m in self.cluster.status().models if m.name == model.name]
        self.assertEqual([victim["worker"]], list(listed[0].replication.lost_workers))

        # Each live copy's own count.
        for address in model.push_shards:
            progress = rpc.WorkerStub(self.cluster._connection.channel(address)).GetProgress(
                pb.GetProgressRequest(model=model.name), timeout=30)
            self.assertEqual((STEPS, STEPS), (progress.step, progress.updates_applied), address)
        self.assertIn("failover", self.servers.log("coordinator"))


if __name__ == "__main__":
    unittest.main()
