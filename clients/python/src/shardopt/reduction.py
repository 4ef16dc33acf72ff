"""The reduction order of docs/formulas.md, for an ASYNC push's gradient statistics.

An ASYNC push carries the squared L2 norm of the trainer's whole gradient (after clipValue, frozen
tensors left out) because no barrier forms it. It must be bitwise what a SYNC step forms
(engine's ReductionBlocks): per block of 8192 elements, 64 lanes accumulate in double the terms of
elements s+j, s+j+64, ... in order, the term of x being m*m with m = min(|x|, c) in float32; the
lanes combine by the tree w = 32, 16, ..., 1 (lane[j] += lane[j+w]); the block partials add in
block order into the tensor's sum from 0, and the tensors' sums in model order into the total.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np

BLOCK = 8192
LANES = 64


def tensor_sum_of_squares(flat: np.ndarray, clip_value: Optional[float]) -> float:
    """Sum of min(|g|, clip_value)^2 over a flat float32 tensor in the reduction order.

    A NaN stays NaN (so the sum is NaN); +-inf counts as clip_value^2 with a clipValue, else inf.
    """
    m = np.abs(np.asarray(flat, dtype=np.float32).reshape(-1))
    if clip_value is not None:
        m = np.minimum(m, np.float32(clip_value))  # NaN propagates, as in the engine
    n = m.size
    if n == 0:
        return 0.0
    blocks = -(-n // BLOCK)
    terms = np.zeros(blocks * BLOCK, dtype=np.float64)
    terms[:n] = m.astype(np.float64) ** 2  # exact: a float squared fits a double
    # Padding adds +0.0 to lanes, which changes no sum.
    rows = terms.reshape(blocks, BLOCK // LANES, LANES)
    lanes = np.zeros((blocks, LANES), dtype=np.float64)
    for r in range(BLOCK // LANES):  # sequential per lane: element s + j + 64 r
        lanes += rows[:, r, :]
    w = LANES // 2
    while w >= 1:
        lanes[:, :w] += lanes[:, w:2 * w]
        w //= 2
    total = 0.0
    for partial in lanes[:, 0].tolist():  # block order, from 0
        total += partial
    return total


def gradient_statistics(gradient: Sequence[Tuple[str, np.ndarray]], clip_value: Optional[float],
                        frozen: Iterable[str] = ()) -> Tuple[float, bool]:
    """(squared norm, any non-finite) over the tensors in model order, frozen ones left out."""
    skip = set(frozen)
    total = 0.0
    non_finite = False
    for name, flat in gradient:
        if name in skip:
            continue
        total += tensor_sum_of_squares(flat, clip_value)
        non_finite = non_finite or not bool(np.isfinite(flat).all())
    return total, non_finite


def glob_matches(glob: str, name: str) -> bool:
    """The DSL's glob: ``*`` any run of characters (dots included), ``?`` one; the whole name."""
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.fullmatch(pattern, name, flags=re.DOTALL) is not None


def frozen_tensors(names: Iterable[str], rules: Mapping[str, Sequence[str]]) -> Sequence[str]:
    """The names that any of ``rules["freeze"]`` matches."""
    globs = rules.get("freeze", ())
    return [n for n in names if any(glob_matches(g, n) for g in globs)]
