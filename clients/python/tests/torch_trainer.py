#!/usr/bin/python3
"""One trainer process of the PyTorch agreement test: trains the digits MLP through a Shardopt
model with shardopt.torch.Optimizer and a plain torch loop, and saves the parameters after each
step ([steps + 1, P] float32, .npy).

  torch_trainer.py --coordinator HOST:PORT --model ID --rank R --steps S --out FILE
"""

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import shardopt
import shardopt.torch
import torch_digits as recipe
from local_cluster import connect_options


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--coordinator", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--rank", type=int, required=True)
    p.add_argument("--steps", type=int, default=recipe.STEPS)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    x, y = recipe.load_digits()
    # Another seed than the model's initial values: the optimizer's first pull must replace them.
    net = recipe.make_mlp(100 + args.rank)
    with shardopt.connect(args.coordinator, **connect_options()) as cluster:
        optimizer = shardopt.torch.Optimizer(net.named_parameters(), model=cluster.model(args.model), rank=args.rank)
        trajectory = [recipe.flat_parameters(net)]
        started = time.perf_counter()
        for step in range(args.steps):
            rows = recipe.trainer_rows(step, args.rank, len(x))
            optimizer.zero_grad()
            F.cross_entropy(net(x[rows]), y[rows]).backward()
            optimizer.step()
            trajectory.append(recipe.flat_parameters(net))
        elapsed = time.perf_counter() - started
    np.save(args.out, np.stack(trajectory))
    print("trainer %d: %d steps in %.2f s" % (args.rank, args.steps, elapsed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
