"""``adaptive_topk`` (AdaLD, arXiv 2509.01750): k follows the link, support-aware aggregation, hidden projection.

k starts from k = floor(eta C T / (d P)) (:func:`workloads.topk_from_budget`,
d = index + value bits per entry) on what the budget leaves after the hidden
projection h, and is then set to the largest k whose *exact* encoded size fits
eta of that remainder, so every upload fits its budget by construction (and
the entropy-coded option, cheaper per entry than d, buys a larger k).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workloads.base import Budget, register
from workloads.budget import topk_from_budget
from workloads.distill import Distillation
from workloads.payload import index_bits_fixed, topk_bits, value_bits
from workloads.adaptive_topk_config import AdaptiveTopkConfig

__all__ = ["AdaptiveTopk"]


@register("adaptive_topk", config=AdaptiveTopkConfig)
class AdaptiveTopk(Distillation):
    aggregation = "support"

    def __init__(self, cfg: Any, num_clients: int, seed: np.random.SeedSequence) -> None:
        self.share_hidden = cfg.hidden_weight > 0
        self.aggregation = cfg.adaptive_aggregation
        self.index_coding = cfg.index_coding
        super().__init__(cfg, num_clients, seed)

    def choose_k(self, client: int, budget: Budget, extra_bits: int) -> int:
        cfg, v, p = self.cfg, self.vocab, self.positions
        room = budget.max_bits - extra_bits
        if room <= 0:
            return 0
        allowed = int(cfg.eta * room)
        d = index_bits_fixed(v) + value_bits(cfg.value_precision)
        k0 = topk_from_budget(Budget(room, budget.rate_bps, budget.snr_db, budget.deadline_s),
                              positions=p, bits_per_entry=d, vocab_size=v, eta=cfg.eta, k_min=1)

        def fits(k: int) -> bool:
            return topk_bits(v, p, k, cfg.value_precision, self.index_coding) <= allowed

        if fits(v):
            return v  # dense: no indices at all, cheaper than any large sparse k
        # Largest fitting k by bisection, seeded with the paper's formula (which ignores the header).
        lo, hi = 0, v
        if k0 and fits(k0):
            lo = k0
        elif k0:
            hi = k0 - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid - 1
        return lo if lo >= cfg.k_min else 0
