"""Shardopt's Python client: train models on a Shardopt cluster from Python and PyTorch.

    import shardopt
    with shardopt.connect("127.0.0.1:7070") as cluster:
        model = cluster.create_model("digits", pipeline="adam(1e-3).clipNorm(1.0)",
                                     tensors={"w": w0, "b": b0}, trainers=2)
        trainer = model.trainer(0)
        for step in range(100):
            params = trainer.pull()              # {"w": ndarray, "b": ndarray}
            trainer.push(step, gradient(params))

shardopt.torch.Optimizer trains a torch.nn.Module through a cluster (import shardopt.torch).
"""

from .cluster import Cluster, PipelineCheck, PipelineError, connect
from .errors import ShardoptError
from .model import Model, Trainer
from .tensors import Init, constant, normal, uniform, zeros

__version__ = "0.1.0"

__all__ = ["Cluster", "Init", "Model", "PipelineCheck", "PipelineError", "ShardoptError", "Trainer", "__version__",
           "connect", "constant", "normal", "uniform", "zeros"]
