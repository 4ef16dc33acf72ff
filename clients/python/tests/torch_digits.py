"""The PyTorch agreement recipe: an MLP on the digits, trained locally by torch's own optimizers and
through a Shardopt cluster by shardopt.torch.Optimizer with the equivalent pipeline text.

  data     examples/data/digits.csv.gz: 1797 rows of 64 pixels (0..16) and the label; x = pixel / 16
  batch    step s: the 64 rows from (s * 64) mod 1797 on, wrapping; trainer r of 2 takes rows
           [32 r, 32 r + 32) of it
  model    hidden = Linear(64, 32), tanh, out = Linear(32, 10); torch.manual_seed(0) initial values
  loss     mean cross-entropy of each trainer's 32 rows
  gradient the mean of the 2 trainers' gradients, (g0 + g1) / 2 in float32: what a SYNC step with
           2 trainers applies, and in torch two micro-batches averaged
  schedule LambdaLR(warmup 20 linear from 0, then cosine to 0 at step 200) == warmup(20).cosine(200)
  clipping clip_grad_norm_(1.0) == clipNorm(1.0)
  decay    on weights only: torch's parameter groups == noDecay("*.bias")

torch.set_num_threads(1) everywhere, so that the gradients of the same parameters are the same
bits in every process.
"""

from __future__ import annotations

import gzip
import math
import os
from typing import Callable, Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples", "data", "digits.csv.gz")
STEPS = 200
BATCH = 64
TRAINERS = 2
WARMUP = 20
MAX_NORM = 1.0


class Mlp(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(64, 32)
        self.out = torch.nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(x)))


def make_mlp(seed: int = 0) -> Mlp:
    torch.manual_seed(seed)
    return Mlp()


def load_digits(path: str = DATA) -> Tuple[torch.Tensor, torch.Tensor]:
    with gzip.open(path, "rt") as f:
        data = np.array([line.strip().split(",") for line in f if line.strip()], dtype=np.int64)
    return torch.from_numpy((data[:, :64] / 16.0).astype(np.float32)), torch.from_numpy(data[:, 64])


def trainer_rows(step: int, rank: int, n: int) -> List[int]:
    per = BATCH // TRAINERS
    start = step * BATCH
    return [(start + j) % n for j in range(rank * per, rank * per + per)]


def lr_lambda(t: int) -> float:
    """The factor of update t (0-based): DSL warmup(W).cosine(T), docs/formulas.md."""
    if t < WARMUP:
        return t / WARMUP
    p = min((t - WARMUP) / (STEPS - WARMUP), 1.0)
    return (1 + math.cos(math.pi * p)) / 2


# name: (Shardopt pipeline text, torch optimizer for the parameter groups [decay, no decay]).
CONFIGS: Dict[str, Tuple[str, Callable[[List[dict]], torch.optim.Optimizer]]] = {
    "adamw": ('adamw(0.01).weightDecay(0.01).warmup(20).cosine(200).clipNorm(1.0).noDecay("*.bias")',
              lambda groups: torch.optim.AdamW(groups, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)),
    "nesterov": ('nesterov(0.1).beta(0.9).weightDecay(1e-4).warmup(20).cosine(200).clipNorm(1.0).noDecay("*.bias")',
                 lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9, dampening=0, nesterov=True,
                                                weight_decay=1e-4)),
    "rmsprop": ('rmsprop(0.001).rho(0.99).eps(1e-8).momentum(0.5).weightDecay(1e-4).warmup(20).cosine(200)'
                '.clipNorm(1.0).noDecay("*.bias")',
                lambda groups: torch.optim.RMSprop(groups, lr=0.001, alpha=0.99, eps=1e-8, momentum=0.5,
                                                   weight_decay=1e-4)),
    # More of docs/clients.md's torch table, run by test_torch.py with SHARDOPT_TORCH_MORE=1.
    "rmsprop_centered": ('rmsprop(0.001).rho(0.9).eps(1e-8).momentum(0.5).centered().weightDecay(1e-4).warmup(20)'
                         '.cosine(200).clipNorm(1.0).noDecay("*.bias")',
                         lambda groups: torch.optim.RMSprop(groups, lr=0.001, alpha=0.9, eps=1e-8, momentum=0.5,
                                                            centered=True, weight_decay=1e-4)),
    "momentum_dampening": ('momentum(0.1).beta(0.9).dampening(0.1).weightDecay(1e-4).warmup(20).cosine(200)'
                           '.clipNorm(1.0).noDecay("*.bias")',
                           lambda groups: torch.optim.SGD(groups, lr=0.1, momentum=0.9, dampening=0.1,
                                                          weight_decay=1e-4)),
    "adam_amsgrad": ('adam(0.01).beta2(0.99).amsgrad().weightDecay(1e-4).warmup(20).cosine(200).clipNorm(1.0)'
                     '.noDecay("*.bias")',
                     lambda groups: torch.optim.Adam(groups, lr=0.01, betas=(0.9, 0.99), amsgrad=True,
                                                     weight_decay=1e-4)),
}


def flat_parameters(net: torch.nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().numpy().reshape(-1) for _, p in net.named_parameters()]).copy()


def trainer_gradient(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, step: int, rank: int) -> None:
    """Sets every .grad to trainer ``rank``'s gradient of ``step`` (zero_grad, forward, backward)."""
    rows = trainer_rows(step, rank, len(x))
    for p in net.parameters():
        p.grad = None
    F.cross_entropy(net(x[rows]), y[rows]).backward()


def train_locally(config: str, steps: int = STEPS) -> np.ndarray:
    """[steps + 1, P] parameters after each step, trained by torch's own optimizer, scheduler, clip."""
    torch.set_num_threads(1)
    x, y = load_digits()
    net = make_mlp(0)
    decay = [p for n, p in net.named_parameters() if not n.endswith(".bias")]
    no_decay = [p for n, p in net.named_parameters() if n.endswith(".bias")]
    optimizer = CONFIGS[config][1]([{"params": decay}, {"params": no_decay, "weight_decay": 0.0}])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    trajectory = [flat_parameters(net)]
    for step in range(steps):
        grads = []
        for rank in range(TRAINERS):
            trainer_gradient(net, x, y, step, rank)
            grads.append([p.grad.clone() for p in net.parameters()])
        for p, g0, g1 in zip(net.parameters(), grads[0], grads[1]):
            p.grad = (g0 + g1) / 2
        torch.nn.utils.clip_grad_norm_(net.parameters(), MAX_NORM)
        optimizer.step()
        scheduler.step()
        trajectory.append(flat_parameters(net))
    return np.stack(trajectory)
