"""Tensor values on the wire, and the initializers a model's tensors may start from.

On the wire a tensor is its row-major (C order) elements as little-endian float32, in chunks of at
most 4 MiB that never cross a shard boundary (docs/clients.md, "Tensor bytes").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence, Tuple

import numpy as np

from .v1 import service_pb2 as pb

# Elements per chunk: the servers' own chunk size, 4 MiB - 64 KiB of data, so that a chunk and its
# header fit gRPC's default 4 MiB message limit. The same cut every time: a resent push must carry
# the same chunks as the first (the workers compare each chunk's checksum).
CHUNK_ELEMENTS = ((4 << 20) - (64 << 10)) // 4
WIRE_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class Init:
    """A tensor the workers generate: its shape and its initializer (no upload needed).

    Generated values depend only on the seed and the element's index, so they are the same for
    every sharding. Make one with zeros(), constant(), normal() or uniform().
    """

    shape: Tuple[int, ...]
    initializer: pb.Initializer


def zeros(shape: Sequence[int]) -> Init:
    """A tensor of zeros."""
    return Init(_shape(shape), pb.Initializer(zeros=pb.Initializer.Zeros()))


def constant(shape: Sequence[int], value: float) -> Init:
    """A tensor whose every element is ``value``."""
    return Init(_shape(shape), pb.Initializer(constant=pb.Initializer.Constant(value=value)))


def normal(shape: Sequence[int], std: float, mean: float = 0.0, seed: int = 0) -> Init:
    """Elements drawn from N(mean, std^2), a function of ``seed`` and the element's index."""
    return Init(_shape(shape), pb.Initializer(normal=pb.Initializer.Normal(mean=mean, std=std, seed=seed)))


def uniform(shape: Sequence[int], low: float, high: float, seed: int = 0) -> Init:
    """Elements drawn from U[low, high), a function of ``seed`` and the element's index."""
    return Init(_shape(shape), pb.Initializer(uniform=pb.Initializer.Uniform(low=low, high=high, seed=seed)))


def _shape(shape: Sequence[int]) -> Tuple[int, ...]:
    dims = tuple(int(d) for d in shape)
    if any(d < 0 for d in dims):
        raise ValueError("shape must have dimensions >= 0, got %s" % (list(dims),))
    return dims


def as_wire(name: str, value: object, size: int, what: str) -> np.ndarray:
    """``value`` as a flat little-endian float32 array of ``size`` elements (row-major).

    Accepts a numpy array, anything numpy.asarray takes, or a torch tensor on the CPU (through
    numpy). Raises ValueError naming the tensor when the element count differs or the values are
    not real numbers.
    """
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise ValueError("%s of '%s' has dtype %s; a real number type (float32 preferred) is needed"
                         % (what, name, array.dtype))
    if array.size != size:
        raise ValueError("%s of '%s' has %d elements (shape %s), the tensor has %d"
                         % (what, name, array.size, list(array.shape), size))
    return np.ascontiguousarray(array, dtype=WIRE_DTYPE).reshape(-1)


def chunks(tensor: str, flat: np.ndarray, offset: int, length: int, model: str = "") -> Iterator[pb.TensorChunk]:
    """The chunks of elements [offset, offset + length) of ``flat``, at most CHUNK_ELEMENTS each."""
    end = offset + length
    for at in range(offset, end, CHUNK_ELEMENTS):
        n = min(CHUNK_ELEMENTS, end - at)
        yield pb.TensorChunk(model=model, tensor=tensor, offset=at, data=flat[at:at + n].tobytes())


def element_count(shape: Sequence[int]) -> int:
    """Elements of a tensor of this shape (1 for a scalar)."""
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1

