"""shardopt.torch.Optimizer against PyTorch itself (torch_digits.py has the recipe).

For each of AdamW, SGD with Nesterov momentum and RMSprop with momentum, each with LambdaLR
(warmup and cosine), clip_grad_norm_ and weight decay on the weights only: the digits MLP is
trained 200 steps by torch locally and through a real cluster (2 trainer processes), and the
parameters must agree at every step within 2e-6 + 2e-5 |x| (x the local value).

Why that bound holds: both sides get the same gradient bits for the same parameters (the same
torch code on one thread), so they differ only by the rounding of the update arithmetic: float32
element-wise operations in another order (torch's add with alpha may fuse into an FMA; the engine
rounds the double scalars once) and the clip norm summed in double here, in float32 by torch.
Each costs at most a few ulps of the update per step (lr * 1 for Adam, <= lr * clip for SGD), far
below 2e-6, and the MLP's trajectory does not amplify them within 200 steps. The measured
figures are printed.
"""

import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import shardopt
import shardopt.torch
import torch_digits as recipe
from local_cluster import connect_options, shared

HERE = os.path.dirname(os.path.abspath(__file__))
ABS_TOL = 2e-6
REL_TOL = 2e-5
RESULTS = os.environ.get("SHARDOPT_TORCH_RESULTS")  # append the figures to this file when set


def train_through_cluster(config: str, model_id: str, steps: int = recipe.STEPS):
    """([steps + 1, P] of rank 0, the same of rank 1): trained by 2 torch_trainer.py processes."""
    with shardopt.connect(shared().coordinator, **connect_options()) as cluster:
        net = recipe.make_mlp(0)
        model = cluster.create_model(model_id, pipeline=recipe.CONFIGS[config][0],
                                     tensors=shardopt.torch.initial_values(net.named_parameters()),
                                     trainers=recipe.TRAINERS)
        try:
            with tempfile.TemporaryDirectory() as work:
                outs = [os.path.join(work, "rank%d.npy" % r) for r in range(recipe.TRAINERS)]
                env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE] + sys.path))
                procs = [subprocess.Popen([sys.executable, os.path.join(HERE, "torch_trainer.py"), "--coordinator",
                                           shared().coordinator, "--model", model.id, "--rank", str(r),
                                           "--steps", str(steps), "--out", outs[r]], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                         for r in range(recipe.TRAINERS)]
                logs = []
                for p in procs:
                    try:
                        out, _ = p.communicate(timeout=300)
                    except subprocess.TimeoutExpired:
                        for q in procs:
                            q.kill()
                        raise
                    logs.append(out.decode(errors="replace"))
                for r, p in enumerate(procs):
                    if p.returncode != 0:
                        raise AssertionError("trainer %d exited %d:\n%s" % (r, p.returncode, logs[r]))
                return np.load(outs[0]), np.load(outs[1])
        finally:
            model.delete()


class TorchAgreementTest(unittest.TestCase):
    def check(self, config: str) -> None:
        local = recipe.train_locally(config)
        rank0, rank1 = train_through_cluster(config, "torch-" + config)
        self.assertEqual(local.shape, rank0.shape)
        # Both trainers pulled the same parameters at every step, bit for bit.
        np.testing.assert_array_equal(rank0, rank1)
        np.testing.assert_array_equal(local[0], rank0[0])  # the uploaded initial values
        diff = np.abs(rank0.astype(np.float64) - local.astype(np.float64))
        bound = ABS_TOL + REL_TOL * np.abs(local.astype(np.float64))
        worst_step = int(np.argmax((diff / bound).max(axis=1)))
        big = np.abs(local) > 1e-3
        line = ("%s: max |diff| %.3g, max |diff|/|x| %.3g (|x| > 1e-3), max diff/bound %.3g (step %d), "
                "moved %.3g, steps bitwise equal %d of %d"
                % (config, diff.max(), (diff[big] / np.abs(local[big])).max(), (diff / bound).max(), worst_step,
                   np.abs(local[-1] - local[0]).max(), int((diff.max(axis=1) == 0).sum()), len(diff)))
        print("\n" + line, file=sys.stderr)
        if RESULTS:
            with open(RESULTS, "a") as f:
                f.write(line + "\n")
        # The training did something: the parameters moved far beyond the tolerance.
        self.assertGreater(np.abs(local[-1] - local[0]).max(), 0.05)
        bad = np.argwhere(diff > bound)
        self.assertEqual(0, len(bad), "%d elements outside 2e-6 + 2e-5|x|, first at (step, index) %s: %r vs %r"
                         % (len(bad), tuple(bad[0]) if len(bad) else None,
                            rank0[tuple(bad[0])] if len(bad) else None, local[tuple(bad[0])] if len(bad) else None))

    def test_adamw_with_warmup_cosine_and_clipping(self):
        self.check("adamw")

    def test_sgd_nesterov_with_warmup_cosine_and_clipping(self):
        self.check("nesterov")

    def test_rmsprop_with_momentum_warmup_cosine_and_clipping(self):
        self.check("rmsprop")


@unittest.skipUnless(os.environ.get("SHARDOPT_TORCH_MORE") == "1",
                     "the other rows of docs/clients.md's torch table: SHARDOPT_TORCH_MORE=1 (about 25 s each)")
class MoreTorchAgreementTest(TorchAgreementTest):
    test_adamw_with_warmup_cosine_and_clipping = None
    test_sgd_nesterov_with_warmup_cosine_and_clipping = None
    test_rmsprop_with_momentum_warmup_cosine_and_clipping = None

    def test_centered_rmsprop(self):
        self.check("rmsprop_centered")

    def test_momentum_with_dampening(self):
        self.check("momentum_dampening")

    def test_adam_amsgrad_with_coupled_weight_decay(self):
        self.check("adam_amsgrad")


if __name__ == "__main__":
    unittest.main()
