"""Pure aggregation helpers (numpy only), tested with hand-worked arrays.

Sparse uploads are given as dense [P, V] arrays plus a boolean support mask:
entry (p, c) of client n counts only where ``masks[n][p, c]`` is set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from workloads.payload import TopK

__all__ = ["scatter_topk", "average_sparse", "average_arrays", "sharpen"]


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


def sharpen(probs: np.ndarray, support: np.ndarray, temperature: float) -> np.ndarray:
    """Entropy reduction of an aggregate (DS-FL's ERA, Itahara et al. 2021, as a power on probabilities).

    probs : [P, V] aggregated probabilities, used where ``support``
    support : [P, V] bool
    Each position's supported entries become q_c^(1/temperature), rescaled to
    the mass the position had on its support (so a sparse target keeps its
    off-support remainder); temperature 1 returns ``probs`` unchanged, below
    1 sharpens.  A position whose supported mass is 0 stays 0.
    """
    if not 0 < temperature <= 1:
        raise ValueError(f"sharpening temperature must be in (0, 1], got {temperature}")
    if temperature == 1:
        return probs
    p = np.where(support, np.asarray(probs, dtype=np.float64), 0.0)
    mass = p.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore"):
        z = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)) / temperature, -np.inf)
    top = np.max(z, axis=-1, keepdims=True)
    e = np.exp(z - np.where(np.isfinite(top), top, 0.0))
    total = e.sum(axis=-1, keepdims=True)
    out = np.divide(e * mass, total, out=np.zeros_like(e), where=total > 0)
    return out.astype(np.asarray(probs).dtype)


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
