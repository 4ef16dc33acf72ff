"""A torch.optim.Optimizer whose step() trains through a Shardopt cluster.

    model = cluster.model("mlp")                       # created with the module's initial values
    opt = shardopt.torch.Optimizer(net.named_parameters(), model=model, rank=rank)
    for x, y in batches:
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()                                     # push every .grad, pull the new values

The update itself (rule, schedule, clipping, weight decay, per-parameter rules) is the model's
pipeline, applied by the workers; step() pushes the gradients and pulls the parameters of the next
step into the module's tensors in place. Nothing of torch's optimizers runs here.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from .model import Model, Trainer

Params = Union[Iterable[torch.Tensor], Iterable[Tuple[str, torch.Tensor]]]


def initial_values(named_parameters: Iterable[Tuple[str, torch.Tensor]]) -> Dict[str, np.ndarray]:
    """{name: float32 copy} of a module's parameters, for Cluster.create_model's ``tensors``."""
    return {n: p.detach().to("cpu", torch.float32).numpy().copy() for n, p in named_parameters}


class Optimizer(torch.optim.Optimizer):
    """Trains the given parameters through a Shardopt model, as trainer ``rank``.

    ``params``: ``module.named_parameters()`` (their names are the model's tensor names, so the
    pipeline's globs such as ``noDecay("*.bias")`` apply), or plain parameters, then taken in the
    model's tensor order. Every tensor of the model needs one parameter of its shape, and the
    other way round. The constructor pulls the model's current values into the parameters, so that
    every trainer starts from the same values.

    step(): pushes every parameter's ``.grad`` (a parameter without one pushes zeros, which is not
    torch's "skip it": the moments still decay), then pulls the next step's values into the
    parameters in place (``param.data``; float32 on the parameter's device). A closure, if given,
    is called first with gradients enabled and its loss returned, as torch's optimizers do.
    """

    def __init__(self, params: Params, model: Model, rank: int = 0, start_step: Optional[int] = None) -> None:
        items = list(params)
        if not items:
            raise ValueError("params is empty: pass module.named_parameters()")
        if all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in items):
            named: List[Tuple[str, torch.Tensor]] = [(n, p) for n, p in items]
        elif all(isinstance(p, torch.Tensor) for p in items):
            if len(items) != len(model.shapes):
                raise ValueError("%d parameters for %s, which has %d tensors %s; pass named_parameters() to match by name"
                                 % (len(items), model.name, len(model.shapes), list(model.shapes)))
            named = list(zip(model.shapes, items))
        else:
            raise ValueError("params must be module.named_parameters() or module.parameters(), not a mix")
        names = [n for n, _ in named]
        missing = [n for n in model.shapes if n not in names]
        unknown = [n for n in names if n not in model.shapes]
        if missing or unknown or len(set(names)) != len(names):
            raise ValueError("the parameters %s do not match %s's tensors %s (missing: %s, unknown: %s)"
                             % (names, model.name, list(model.shapes), missing, unknown))
        for n, p in named:
            if tuple(p.shape) != model.shapes[n]:
                raise ValueError("parameter '%s' has shape %s, %s's tensor has %s"
                                 % (n, list(p.shape), model.name, list(model.shapes[n])))
        super().__init__([p for _, p in named], {})
        self.model = model
        self.trainer: Trainer = model.trainer(rank, start_step)
        self._named: List[Tuple[str, torch.Tensor]] = named
        self._load(self.trainer.pull())

    @property
    def names(self) -> List[str]:
        """The model's tensor name of each parameter, in the order given."""
        return [n for n, _ in self._named]

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        """Pushes the gradients of this trainer's step and pulls the next step's parameters."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        gradient: Dict[str, np.ndarray] = {}
        for n, p in self._named:
            if p.grad is None:
                gradient[n] = np.zeros(self.model.sizes[n], dtype=np.float32)
            else:
                gradient[n] = p.grad.detach().to("cpu", torch.float32).contiguous().numpy()
        self.trainer.push(self.trainer.step, gradient)
        self._load(self.trainer.pull())
        return loss

    def _load(self, values: Mapping[str, np.ndarray]) -> None:
        with torch.no_grad():
            for n, p in self._named:
                p.copy_(torch.from_numpy(values[n]).to(p.device, p.dtype))
