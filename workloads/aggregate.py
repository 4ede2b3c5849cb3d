"""Pure aggregation helpers (numpy only), tested with hand-worked arrays.

Sparse uploads are given as dense [P, V] arrays plus a boolean support mask:
entry (p, c) of client n counts only where ``masks[n][p, c]`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from workloads.payload import TopK

__all__ = ["scatter_topk", "average_sparse", "average_arrays"]


def scatter_topk(msg: TopK, fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A Top-k message as (values [P, V] with ``fill`` off support, support mask [P, V])."""
    values = np.full((msg.positions, msg.vocab_size), fill, dtype=np.float32)
    mask = np.zeros((msg.positions, msg.vocab_size), dtype=bool)
    rows = np.arange(msg.positions)[:, None]
    values[rows, msg.indices] = msg.values
    mask[rows, msg.indices] = True
    return values, mask


def average_sparse(
    values: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    weights: Sequence[float] | None = None,
    mode: Literal["support", "zeropad"] = "support",
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of sparse client entries -> (mean [P, V], union support [P, V]).

    support: entry c is averaged over the clients that sent it,
        sum_n w_n s_nc x_nc / sum_n w_n s_nc (AdaLD's adaptive aggregation);
    zeropad: unsent entries count as zeros, sum_n w_n s_nc x_nc / sum_n w_n,
        which pulls every entry that some client left out toward zero.
    Entries nobody sent are 0 with the support mask False.
    """
    if not values or len(values) != len(masks):
        raise ValueError(f"need as many masks as value arrays (>= 1), got {len(values)} and {len(masks)}")
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (len(values),) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"weights must be {len(values)} non-negative numbers with a positive sum, got {weights}")
    total = np.zeros(values[0].shape, dtype=np.float64)
    mass = np.zeros(values[0].shape, dtype=np.float64)
    for x, m, wn in zip(values, masks, w):
        total += wn * np.where(m, x, 0.0)
        mass += wn * m
    support = mass > 0
    if mode == "support":
        mean = np.divide(total, mass, out=np.zeros_like(total), where=support)
    elif mode == "zeropad":
        mean = total / w.sum()
    else:
        raise ValueError(f"unknown aggregation mode {mode!r}; known: support, zeropad")
    return mean.astype(np.float32), support


def average_arrays(arrays: Sequence[Mapping[str, np.ndarray]], weights: Sequence[float] | None = None) -> dict[str, np.ndarray]:
    """FedAvg of named arrays (LoRA weights): the weighted mean of each name, all names required."""
    if not arrays:
        raise ValueError("need at least one set of arrays")
    names = sorted(arrays[0])
    for a in arrays[1:]:
        if sorted(a) != names:
            raise ValueError(f"array names differ: {sorted(a)} vs {names}")
    w = np.ones(len(arrays)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    return {n: sum(wi * np.asarray(a[n], dtype=np.float64) for wi, a in zip(w, arrays)).astype(np.float32) for n in names}
