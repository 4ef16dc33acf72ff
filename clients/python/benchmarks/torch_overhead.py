#!/usr/bin/python3
"""Step time of shardopt.torch.Optimizer against local torch, for the digits MLP, in one run.

  clients/python/benchmarks/torch_overhead.py [--coordinator HOST:PORT] [--steps 600] [--rounds 3]

Both sides do one trainer's work per step: zero_grad, forward and backward on its 32 rows of the
step's 64-row batch, then the optimizer step. Local: torch.optim.AdamW + clip_grad_norm_ in this
process. Shardopt: 2 trainer processes on a model with "adamw(0.01).clipNorm(1.0)", where step()
pushes the gradients and pulls the new parameters (the step waits for the other trainer: that is
the SYNC barrier, part of the cost). The first 50 steps of each run are not timed. Rounds
alternate local and Shardopt; the figure is the median step time of each, and their ratio.
Without --coordinator it starts a coordinator and 2 workers on 127.0.0.1 with ./shardopt
(SHARDOPT_LAUNCHER overrides it) and stops them at the end. Needs the package installed (or
PYTHONPATH=clients/python/src) and torch, on /usr/bin/python3.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torch_digits as recipe  # noqa: E402

WARMUP_STEPS = 50
PIPELINE = "adamw(0.01).clipNorm(1.0)"


def local_step_times(steps: int) -> List[float]:
    torch.set_num_threads(1)
    x, y = recipe.load_digits()
    net = recipe.make_mlp(0)
    opt = torch.optim.AdamW(net.parameters(), lr=0.01, weight_decay=0.01)
    times = []
    for step in range(steps):
        t0 = time.perf_counter()
        rows = recipe.trainer_rows(step, 0, len(x))
        opt.zero_grad()
        F.cross_entropy(net(x[rows]), y[rows]).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return times[WARMUP_STEPS:]


def trainer(coordinator: str, model_id: str, rank: int, steps: int) -> None:
    import shardopt
    import shardopt.torch
    torch.set_num_threads(1)
    x, y = recipe.load_digits()
    net = recipe.make_mlp(0)
    with shardopt.connect(coordinator) as cluster:
        opt = shardopt.torch.Optimizer(net.named_parameters(), model=cluster.model(model_id), rank=rank)
        times, in_step = [], []
        for step in range(steps):
            t0 = time.perf_counter()
            rows = recipe.trainer_rows(step, rank, len(x))
            opt.zero_grad()
            F.cross_entropy(net(x[rows]), y[rows]).backward()
            t1 = time.perf_counter()
            opt.step()
            t2 = time.perf_counter()
            times.append(t2 - t0)
            in_step.append(t2 - t1)
    print(json.dumps({"total": times[WARMUP_STEPS:], "step": in_step[WARMUP_STEPS:]}), flush=True)


def shardopt_step_times(coordinator: str, model_id: str, steps: int) -> List[float]:
    import shardopt
    import shardopt.torch
    with shardopt.connect(coordinator) as cluster:
        model = cluster.create_model(model_id, pipeline=PIPELINE, trainers=2,
                                     tensors=shardopt.torch.initial_values(recipe.make_mlp(0).named_parameters()))
        try:
            procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--coordinator", coordinator,
                                       "--model", model.id, "--rank", str(r), "--steps", str(steps)],
                                      stdout=subprocess.PIPE) for r in range(2)]
            outs = [p.communicate(timeout=600)[0] for p in procs]
            if any(p.returncode for p in procs):
                raise SystemExit("a trainer failed: exit codes %s" % [p.returncode for p in procs])
            return json.loads(outs[0])  # rank 0's step times
        finally:
            model.delete()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coordinator")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank is not None:
        trainer(args.coordinator, args.model, args.rank, args.steps)
        return 0
    cluster = None
    if args.coordinator is None:
        from local_cluster import LocalCluster
        cluster = LocalCluster()
        args.coordinator = cluster.coordinator
    try:
        local: List[float] = []
        remote: List[float] = []
        in_step: List[float] = []
        print("load average %.2f %.2f %.2f" % os.getloadavg())
        for r in range(args.rounds):
            lt = local_step_times(args.steps)
            answer = shardopt_step_times(args.coordinator, "bench-torch-%d-%d" % (os.getpid(), r), args.steps)
            rt = answer["total"]
            in_step += answer["step"]
            local += lt
            remote += rt
            print("round %d: local median %.3f ms, shardopt median %.3f ms, ratio %.1f"
                  % (r, 1e3 * statistics.median(lt), 1e3 * statistics.median(rt),
                     statistics.median(rt) / statistics.median(lt)), flush=True)
        lm, rm = statistics.median(local), statistics.median(remote)
        print("load average %.2f %.2f %.2f" % os.getloadavg())
        print("digits MLP (2,410 parameters), %d timed steps x %d rounds: local torch AdamW %.3f ms/step, "
              "shardopt.torch.Optimizer (2 trainers, 2 workers) %.3f ms/step (p90 %.3f ms, of which step() %.3f ms): "
              "%.1fx, +%.3f ms/step"
              % (len(lt), args.rounds, 1e3 * lm, 1e3 * rm, 1e3 * statistics.quantiles(remote, n=10)[-1],
                 1e3 * statistics.median(in_step), rm / lm, 1e3 * (rm - lm)))
    finally:
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
