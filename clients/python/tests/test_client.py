"""The client against a real cluster (a coordinator and 2 workers started by ./shardopt).

Expected values come from the formulas (docs/formulas.md: sgd is theta -= lr_t * g with g the
trainers' mean, summed in trainer order), computed here in numpy float32, not from the servers.
"""

import os
import tempfile
import threading
import unittest

import grpc
import numpy as np

import shardopt
from local_cluster import shared


def setUpModule():
    global CLUSTER, ADDRESS
    ADDRESS = shared().coordinator
    CLUSTER = shardopt.connect(ADDRESS)


def tearDownModule():
    CLUSTER.close()


def _id(test):
    return "py-" + test.id().rsplit(".", 1)[-1].replace("_", "-")[:50]


class CreatePullPushTest(unittest.TestCase):
    def test_uploaded_initial_values_come_back_bitwise_across_chunks_and_workers(self):
        rng = np.random.default_rng(1)
        # 1.5M elements: more than one 4 MiB chunk, and shards on both workers.
        big = rng.standard_normal((1500, 1000), dtype=np.float32)
        small = rng.standard_normal(7).astype(np.float64)  # converted to float32 by the package
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.5)", tensors={"big": big, "small": small,
                                     "gen": shardopt.constant([3, 2], 0.25)})
        try:
            self.assertEqual(2, len(model.push_shards), "the model should be spread over both workers")
            params = model.trainer(0).pull()
            self.assertEqual({"big", "small", "gen"}, set(params))
            np.testing.assert_array_equal(big, params["big"])
            np.testing.assert_array_equal(small.astype(np.float32), params["small"])
            np.testing.assert_array_equal(np.full((3, 2), 0.25, np.float32), params["gen"])
            self.assertEqual((1500, 1000), params["big"].shape)
        finally:
            model.delete()

    def test_two_trainers_step_by_the_mean_gradient(self):
        w0 = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.5)", tensors={"w": w0}, trainers=2)
        try:
            t0, t1 = model.trainer(0), model.trainer(1)
            g0 = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
            g1 = np.full((3, 4), 0.3, np.float32)
            pushed = threading.Thread(target=t1.push, args=(0, {"w": g1}))
            pushed.start()
            self.assertFalse(t0.push(0, {"w": g0}))
            pushed.join(60)
            self.assertEqual(1, t0.step)
            expected = w0 - np.float32(0.5) * ((g0 + g1) / np.float32(2))
            np.testing.assert_array_equal(expected, t0.pull()["w"])
            # A resend of the same push is acknowledged as a duplicate and changes nothing.
            self.assertTrue(t0.push(0, {"w": g0}))
            np.testing.assert_array_equal(expected, t0.pull()["w"])
        finally:
            model.delete()

    def test_update_pipeline_and_metrics(self):
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.5)", tensors={"w": np.ones(4, np.float32)})
        try:
            t = model.trainer(0)
            g = np.full(4, 0.5, np.float32)
            t.push(0, {"w": g})
            info = model.update_pipeline("sgd(0.25)", at_step=2)
            self.assertEqual(2, len(info.pipeline_schedule))
            t.push(1, {"w": g})
            t.push(2, {"w": g})
            w = np.ones(4, np.float32)
            for lr in (0.5, 0.5, 0.25):
                w = w - np.float32(lr) * g
            np.testing.assert_array_equal(w, t.pull()["w"])
            steps = model.metrics().steps
            self.assertEqual([0.5, 0.5, 0.25], [s.learning_rate for s in steps])
            self.assertEqual([1.0] * 3, [s.gradient_norm for s in steps])  # sqrt(4 * 0.5^2)
            with self.assertRaises(shardopt.ShardoptError) as e:
                model.update_pipeline("sgd(0.1)", at_step=0)
            self.assertEqual(grpc.StatusCode.FAILED_PRECONDITION, e.exception.code)
        finally:
            model.delete()

    def test_checkpoint_writes_a_manifest_at_the_step(self):
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.5)", tensors={"w": np.ones(4, np.float32)})
        try:
            t = model.trainer(0)
            t.push(0, {"w": np.ones(4, np.float32)})
            with tempfile.TemporaryDirectory() as d:
                info = model.checkpoint(d, at_step=1)
                self.assertEqual(1, info.step)
                self.assertEqual(os.path.join(d, "step-0000000001"), info.path)
                self.assertTrue(os.path.isfile(os.path.join(info.path, "manifest.json")))
                restored = CLUSTER.restore_model(_id(self) + "-r", d)
                try:
                    t2 = restored.trainer(0)
                    self.assertEqual(1, t2.step)  # continues after the checkpoint's step
                    np.testing.assert_array_equal(np.full(4, 0.5, np.float32), t2.pull()["w"])  # 1 - 0.5 * 1
                finally:
                    restored.delete()
        finally:
            model.delete()

    def test_attach_from_another_client_by_id(self):
        model = CLUSTER.create_model(_id(self), pipeline="adam(0.01)", tensors={"w": np.ones(2, np.float32)})
        try:
            with shardopt.connect(ADDRESS) as other:
                same = other.model(model.id)
                self.assertEqual(model.name, same.name)
                self.assertEqual({"w": (2,)}, same.shapes)
                self.assertEqual(0, same.trainer(0).step)
        finally:
            model.delete()


class AsyncTest(unittest.TestCase):
    def test_async_push_carries_the_norm_after_clip_value_without_frozen_tensors(self):
        pipeline = 'sgd(1.0).clipValue(2.0).clipNorm(1.0).freeze("f")'
        model = CLUSTER.create_model(_id(self), pipeline=pipeline, mode="ASYNC",
                                     tensors={"w": shardopt.zeros([3]), "f": shardopt.zeros([2])})
        try:
            t = model.trainer(0)
            t.push(0, {"w": np.array([3, 4, 0], np.float32), "f": np.array([100, 100], np.float32)})
            clipped = np.array([2, 2, 0], np.float32)  # clipValue(2)
            scale = np.float32(1.0 / (np.sqrt(8.0) + 1e-6))  # clipNorm over w only: f is frozen
            params = t.pull()
            np.testing.assert_allclose(-(clipped * scale), params["w"], rtol=1e-6)
            np.testing.assert_array_equal(np.zeros(2, np.float32), params["f"])
            self.assertEqual(1, t.step)
        finally:
            model.delete()

    def test_reduction_order_equals_the_documented_loops(self):
        from shardopt import reduction
        rng = np.random.default_rng(3)
        g = (rng.standard_normal(20000) * 10).astype(np.float32)
        g[5] = np.inf
        c = np.float32(7.5)
        total = 0.0
        for start in range(0, g.size, 8192):  # docs/formulas.md, "The reduction order", as loops
            lanes = [0.0] * 64
            for i in range(start, min(start + 8192, g.size)):
                m = float(min(abs(g[i]), c))
                lanes[(i - start) % 64] += m * m
            w = 32
            while w >= 1:
                for j in range(w):
                    lanes[j] += lanes[j + w]
                w //= 2
            total += lanes[0]
        self.assertEqual(total, reduction.tensor_sum_of_squares(g, 7.5))
        self.assertTrue(np.isnan(reduction.tensor_sum_of_squares(np.array([1, np.nan], np.float32), 7.5)))


class ErrorsTest(unittest.TestCase):
    def test_bad_pipeline_text_is_invalid_argument_with_the_column(self):
        text = "adam(1e-3).cosin(100)"
        with self.assertRaises(shardopt.ShardoptError) as e:
            CLUSTER.create_model(_id(self), pipeline=text, tensors={"w": np.ones(2)})
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, e.exception.code)
        self.assertIn("column %d" % (text.index("cosin") + 1), e.exception.details)
        self.assertIn("cosine", e.exception.details)
        self.assertNotIn(_id(self), [m.name for m in CLUSTER.list_models()])

    def test_parse_pipeline_answers_errors_or_the_canonical_form(self):
        bad = CLUSTER.parse_pipeline("adam(1e-3).cosin(100)")
        self.assertFalse(bad.valid)
        self.assertEqual("pipeline_text", bad.errors[0].field)
        self.assertEqual(len("adam(1e-3).") + 1, bad.errors[0].column)
        good = CLUSTER.parse_pipeline("adam(1e-3).clipNorm(1.0).beta2(0.98)")
        self.assertTrue(good.valid)
        self.assertEqual(0.98, good.pipeline.adam.beta2)
        self.assertEqual(1.0, good.pipeline.clipping.norm)
        # The canonical text names the same pipeline.
        self.assertEqual(good.canonical_text, CLUSTER.parse_pipeline(good.canonical_text).canonical_text)

    def test_unknown_model_is_not_found(self):
        with self.assertRaises(shardopt.ShardoptError) as e:
            CLUSTER.model("no-such-model")
        self.assertEqual(grpc.StatusCode.NOT_FOUND, e.exception.code)
        self.assertIn("models/no-such-model", str(e.exception))

    def test_existing_id_is_already_exists(self):
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.1)", tensors={"w": np.ones(2, np.float32)})
        try:
            with self.assertRaises(shardopt.ShardoptError) as e:
                CLUSTER.create_model(_id(self), pipeline="sgd(0.1)", tensors={"w": np.ones(2, np.float32)})
            self.assertEqual(grpc.StatusCode.ALREADY_EXISTS, e.exception.code)
        finally:
            model.delete()

    def test_wrong_gradient_is_refused_before_anything_is_sent(self):
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.1)", tensors={"w": np.ones((2, 3), np.float32)})
        try:
            t = model.trainer(0)
            with self.assertRaisesRegex(ValueError, "'w' has 5 elements"):
                t.push(0, {"w": np.ones(5)})
            with self.assertRaisesRegex(ValueError, "missing tensors \\['w'\\]"):
                t.push(0, {})
            with self.assertRaisesRegex(ValueError, "rank must be in \\[0, 1\\)"):
                model.trainer(1)
            self.assertEqual(0, model.refresh().pushes)
        finally:
            model.delete()

    def test_push_of_a_step_ahead_is_failed_precondition(self):
        model = CLUSTER.create_model(_id(self), pipeline="sgd(0.1)", tensors={"w": np.ones(2, np.float32)})
        try:
            with self.assertRaises(shardopt.ShardoptError) as e:
                model.trainer(0).push(3, {"w": np.ones(2)})
            self.assertEqual(grpc.StatusCode.FAILED_PRECONDITION, e.exception.code)
        finally:
            model.delete()


if __name__ == "__main__":
    unittest.main()
