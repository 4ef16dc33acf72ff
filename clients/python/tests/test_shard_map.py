"""How the client follows the shard map, against in-process gRPC servers scripted by each test: a
coordinator answering GetModel and GetShardMap, and workers whose Push and Pull the test decides.

The failover against real processes (kill -9) is test_failover; this checks the rules one by one:
an older map never replaces a newer one, even when threads refresh at once; a push goes on against
a newer map, tagged with its epoch, to the copies that have not acknowledged it; a pull reads the
promoted primary; a worker that stops answering is left once a newer map drops it; and a push or
pull that finds no way gives up with an error naming the model, the step, the trainer and the worker.
"""

import random
import threading
import time
import unittest
from concurrent import futures

import grpc
import numpy as np

import shardopt
from shardopt.layout import ShardLayout
from shardopt.v1 import service_pb2 as pb, service_pb2_grpc as rpc

MODEL = "models/m"


def shard_map(epoch, *copies):
    """A map of tensor w (4 elements, one shard): ``copies`` the addresses, primary first."""
    m = pb.ShardMap(model=MODEL, epoch=epoch, block_size=8192)
    for replica, address in enumerate(copies):
        m.shards.add(tensor="w", tensor_index=0, offset=0, length=4, worker="workers/" + address.split(":")[1],
                     address=address, replica=replica)
    return m


class Coordinator(rpc.CoordinatorServicer):
    """GetModel: model m (w: 4 elements, 2 trainers). GetShardMap: ``maps()`` (called per request)."""

    def __init__(self, maps):
        self.maps = maps
        self.reads = 0

    def GetModel(self, request, context):
        m = pb.Model(name=MODEL, trainers=2, replicas=2, state=pb.READY)
        m.tensors.add(name="w", shape=[4])
        return m

    def GetShardMap(self, request, context):
        self.reads += 1
        return self.maps()


class Worker(rpc.WorkerServicer):
    """Push: ``refuse`` (a status code) or acknowledged, recording each header. Pull: ``values`` at ``step``."""

    def __init__(self, refuse=None, values=None, step=0, hang=None):
        self.refuse = refuse
        self.hang = hang  # an Event: Push and Pull answer only once it is set (a paused process)
        self.values = values
        self.step = step
        self.headers = []
        self.pulls = []
        self.lock = threading.Lock()

    def Push(self, request_iterator, context):
        header = next(request_iterator).header
        elements = sum(len(r.chunk.data) // 4 for r in request_iterator)
        with self.lock:
            self.headers.append((header, elements))
        if self.hang is not None:
            self.hang.wait(30)
        if self.refuse is not None:
            context.abort(self.refuse, "by shard map epoch %d, but the map is at a newer one" % header.epoch)
        return pb.PushResponse(step=header.step)

    def Pull(self, request, context):
        with self.lock:
            self.pulls.append(request)
        if self.hang is not None:
            self.hang.wait(30)
        if self.refuse is not None:
            context.abort(self.refuse, "fenced")
        data = np.asarray(self.values, dtype="<f4").tobytes()
        yield pb.PullResponse(step=self.step, chunk=pb.TensorChunk(tensor="w", offset=0, data=data))


def serve(servicer):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    if isinstance(servicer, rpc.CoordinatorServicer):
        rpc.add_CoordinatorServicer_to_server(servicer, server)
    else:
        rpc.add_WorkerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, "127.0.0.1:%d" % port


class FakeServersTest(unittest.TestCase):
    """A test case whose fake servers (``start``) are stopped after each test."""

    def setUp(self):
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop(None)

    def start(self, servicer):
        server, address = serve(servicer)
        self.servers.append(server)
        return address


class ShardMapTest(FakeServersTest):

    def connect(self, maps, failover_wait=10.0):
        coordinator = Coordinator(maps)
        cluster = shardopt.connect(self.start(coordinator), failover_wait=failover_wait)
        self.addCleanup(cluster.close)
        return coordinator, cluster

    def test_an_older_or_equal_epoch_never_replaces_a_newer_map(self):
        answers = [shard_map(5, "127.0.0.1:1", "127.0.0.1:2")]
        _, cluster = self.connect(lambda: answers[-1])
        model = cluster.model("m")
        held = model.layout
        self.assertEqual(5, held.epoch)

        answers.append(shard_map(3, "127.0.0.1:9", "127.0.0.1:8"))  # stale: an older coordinator answer
        self.assertIs(held, model.refresh_layout())
        answers.append(shard_map(5, "127.0.0.1:7", "127.0.0.1:6"))  # the same epoch: no change
        self.assertIs(held, model.refresh_layout())
        self.assertEqual(["127.0.0.1:1", "127.0.0.1:2"], list(model.push_shards))

        answers.append(shard_map(6, "127.0.0.1:2", "127.0.0.1:3"))
        newer = model.refresh_layout()
        self.assertEqual(6, newer.epoch)
        self.assertIs(newer, model.layout)
        self.assertEqual({"127.0.0.1:2": [0]}, {a: [s.offset for s in v] for a, v in model.pull_shards.items()})
        self.assertEqual(["127.0.0.1:2", "127.0.0.1:3"], list(model.push_shards))
        self.assertTrue(model.replicated)

    def test_threads_refreshing_at_once_end_with_the_newest_map_and_never_step_back(self):
        rng = random.Random(4)
        epochs = list(range(1, 201))
        rng.shuffle(epochs)  # answered in any order, as replies of concurrent calls arrive
        lock = threading.Lock()

        def next_map():
            with lock:
                e = epochs.pop() if epochs else 0
            return shard_map(e, "127.0.0.1:%d" % (1000 + e), "127.0.0.1:1")

        _, cluster = self.connect(next_map)
        model = cluster.model("m")  # took one of them
        seen = []
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                seen.append(model.layout.epoch)
                time.sleep(0.0002)

        watcher = threading.Thread(target=watch)
        watcher.start()
        with futures.ThreadPoolExecutor(8) as pool:
            returned = list(pool.map(lambda _: model.refresh_layout().epoch, range(199)))
        stop.set()
        watcher.join()
        self.assertEqual(200, model.layout.epoch)
        self.assertEqual(["127.0.0.1:1200", "127.0.0.1:1"], list(model.push_shards))  # that map's own routing
        self.assertEqual(sorted(seen), seen, "the layout never went back to an older epoch")
        self.assertTrue(all(1 <= e <= 200 for e in returned))

    def test_a_push_refused_by_a_moved_worker_goes_to_the_new_maps_copies_tagged_with_its_epoch(self):
        dead, backup, joined = Worker(refuse=grpc.StatusCode.UNAVAILABLE), Worker(), Worker()
        a, b, c = self.start(dead), self.start(backup), self.start(joined)
        maps = [shard_map(1, a, b)]
        coordinator, cluster = self.connect(lambda: maps[-1])
        model = cluster.model("m")
        maps.append(shard_map(2, b, c))  # a declared dead: b promoted, c a new copy
        self.assertFalse(model.trainer(1).push(3, {"w": np.ones(4, np.float32)}))

        self.assertEqual(2, model.layout.epoch)
        self.assertEqual([(1, 3, 1)], [(h.epoch, h.step, h.trainer) for h, _ in dead.headers])
        # b acknowledged under epoch 1 and is not sent it again; c gets it under the new epoch.
        self.assertEqual([(1, 4)], [(h.epoch, n) for h, n in backup.headers])
        self.assertEqual([(2, 4)], [(h.epoch, n) for h, n in joined.headers])
        self.assertGreaterEqual(coordinator.reads, 2)

    def test_a_pull_whose_primary_is_gone_reads_the_promoted_backup(self):
        dead = Worker(refuse=grpc.StatusCode.UNAVAILABLE)
        promoted = Worker(values=[1.5, -2, 3, 4.25], step=7)
        a, b = self.start(dead), self.start(promoted)
        maps = [shard_map(1, a, b)]
        _, cluster = self.connect(lambda: maps[-1])
        model = cluster.model("m")
        maps.append(shard_map(2, b))
        step, values = model.pull(7)

        self.assertEqual(7, step)
        np.testing.assert_array_equal(np.array([1.5, -2, 3, 4.25], np.float32), values["w"])
        self.assertEqual(1, len(dead.pulls))
        self.assertEqual(2, model.layout.epoch)
        # The new map has no backups: the pull asks for every shard of the worker, as unreplicated.
        self.assertEqual([[]], [list(r.shards) for r in promoted.pulls])

    def test_a_worker_that_does_not_answer_is_left_once_a_newer_map_drops_it(self):
        paused = threading.Event()
        self.addCleanup(paused.set)
        silent = Worker(hang=paused, values=[9, 9, 9, 9])
        backup = Worker(values=[1, 2, 3, 4], step=0)
        a, b = self.start(silent), self.start(backup)
        maps = [shard_map(1, a, b)]
        coordinator, cluster = self.connect(lambda: maps[-1])
        model = cluster.model("m")
        timer = threading.Timer(1.5, lambda: maps.append(shard_map(2, b)))  # declared dead after 1.5 s
        timer.start()
        self.addCleanup(timer.cancel)
        started = time.monotonic()
        self.assertFalse(model.trainer(0).push(0, {"w": np.ones(4, np.float32)}))
        self.assertLess(time.monotonic() - started, 10, "left the silent worker once the map moved")
        self.assertEqual([1], [h.epoch for h, _ in silent.headers])
        self.assertEqual([1], [h.epoch for h, _ in backup.headers])  # acknowledged before the move
        step, values = model.pull(0)
        np.testing.assert_array_equal(np.array([1, 2, 3, 4], np.float32), values["w"])
        self.assertEqual([], silent.pulls, "the new map sends pulls to b only")

        # A pull by a client that still holds the old map: the silent primary is left likewise.
        maps.append(shard_map(1, a, b))
        stale = cluster.model("m")
        later = threading.Timer(1.5, lambda: maps.append(shard_map(3, b)))
        later.start()
        self.addCleanup(later.cancel)
        started = time.monotonic()
        step, values = stale.pull(0)
        self.assertLess(time.monotonic() - started, 10)
        np.testing.assert_array_equal(np.array([1, 2, 3, 4], np.float32), values["w"])
        self.assertEqual(1, len(silent.pulls))
        self.assertEqual(3, stale.layout.epoch)

    def test_a_push_that_finds_no_newer_map_gives_up_naming_model_step_trainer_and_worker(self):
        fenced, live = Worker(refuse=grpc.StatusCode.UNAVAILABLE), Worker()
        a, b = self.start(fenced), self.start(live)
        _, cluster = self.connect(lambda: shard_map(1, a, b), failover_wait=0.6)
        with self.assertRaises(shardopt.ShardoptError) as e:
            cluster.model("m").trainer(1).push(3, {"w": np.ones(4, np.float32)})
        self.assertEqual(grpc.StatusCode.UNAVAILABLE, e.exception.code)
        message = str(e.exception)
        for part in ("push of step 3", "trainer 1", MODEL, "to worker " + a, "failover wait of 0.6 s",
                     "stayed at epoch 1", "newer one"):
            self.assertIn(part, message)
        self.assertGreaterEqual(len(fenced.headers), 3)  # PUSH_ATTEMPTS at least, within the wait
        self.assertEqual(1, len(live.headers))

        with self.assertRaises(shardopt.ShardoptError) as e:
            cluster.model("m").trainer(1).pull()
        self.assertEqual(grpc.StatusCode.UNAVAILABLE, e.exception.code)
        self.assertIn("pull of %s at step 0 (trainer 1) from worker %s: UNAVAILABLE fenced; gave up after the"
                      " failover wait of 0.6 s (shard map epoch 1)" % (MODEL, a), str(e.exception))

    def test_an_unreplicated_push_is_sent_three_times_then_fails(self):
        refused = Worker(refuse=grpc.StatusCode.UNAVAILABLE)
        a = self.start(refused)
        m = pb.ShardMap(model=MODEL, epoch=0, block_size=8192)
        m.shards.add(tensor="w", tensor_index=0, offset=0, length=4, worker="workers/w1", address=a)
        _, cluster = self.connect(lambda: m)
        with self.assertRaises(shardopt.ShardoptError) as e:
            cluster.model("m").trainer(0).push(0, {"w": np.ones(4, np.float32)})
        self.assertIn("push of step 0 (trainer 0, models/m) to worker %s (attempt 3), giving up after 3 attempts"
                      % a, str(e.exception))
        self.assertEqual(3, len(refused.headers))


class ShardLayoutTest(unittest.TestCase):
    def test_routing_by_worker(self):
        m = pb.ShardMap(model=MODEL, epoch=4)
        m.shards.add(tensor="w", tensor_index=0, offset=4, length=2, address="h:2", replica=0)
        m.shards.add(tensor="w", tensor_index=0, offset=0, length=4, address="h:1", replica=0)
        m.shards.add(tensor="w", tensor_index=0, offset=0, length=4, address="h:2", replica=1)
        m.shards.add(tensor="w", tensor_index=0, offset=4, length=2, address="h:1", replica=1)
        layout = ShardLayout(m, {"w": 6})
        self.assertEqual(4, layout.epoch)
        self.assertTrue(layout.replicated)
        self.assertEqual({"h:1": [(0, 0), (4, 1)], "h:2": [(0, 1), (4, 0)]},
                         {a: [(s.offset, s.replica) for s in v] for a, v in layout.push_shards.items()})
        self.assertEqual({"h:1": [0], "h:2": [4]}, {a: [s.offset for s in v] for a, v in layout.pull_shards.items()})

    def test_a_map_that_does_not_fit_the_model_is_internal_naming_what(self):
        m = pb.ShardMap(model=MODEL, epoch=2)
        m.shards.add(tensor="v", tensor_index=0, offset=0, length=6, address="h:1")
        with self.assertRaisesRegex(shardopt.ShardoptError, "epoch 2.*names tensor 'v', which the model does not have"):
            ShardLayout(m, {"w": 6})
        m.shards[0].tensor = "w"
        m.shards[0].length = 5
        with self.assertRaisesRegex(shardopt.ShardoptError, "the primaries of 'w' hold 5 elements, the tensor has 6"):
            ShardLayout(m, {"w": 6})


if __name__ == "__main__":
    unittest.main()
