"""From a link budget to a Top-k size, the way AdaLD sizes its uploads."""

from __future__ import annotations

import math

from workloads.base import Budget

__all__ = ["topk_from_budget"]


def topk_from_budget(
    budget: Budget,
    *,
    positions: int,
    bits_per_entry: float,
    vocab_size: int,
    eta: float = 1.0,
    k_min: int = 1,
) -> int:
    """k = floor(eta * C * T / (d * P)) entries per public position, clipped to the vocabulary.

    C * T is ``budget.max_bits`` (what the link delivers before the deadline),
    d the bits of one transmitted entry (index + value), P the number of
    public positions, eta the share of the budget given to logits
    (AdaLD, arXiv 2509.01750, Sec. III).  Returns 0 when the budget cannot
    carry ``k_min`` entries per position: the client skips its upload.
    """
    if positions < 1 or vocab_size < 1 or bits_per_entry <= 0:
        raise ValueError(f"need positions, vocab_size >= 1 and bits_per_entry > 0, got {positions}, {vocab_size}, {bits_per_entry}")
    if not 0.0 < eta <= 1.0:
        raise ValueError(f"eta must be in (0, 1], got {eta}")
    if not 1 <= k_min <= vocab_size:
        raise ValueError(f"k_min must be in [1, vocab_size], got {k_min}")
    k = math.floor(eta * max(budget.max_bits, 0) / (bits_per_entry * positions))
    if k < k_min:
        return 0
    return min(k, vocab_size)
